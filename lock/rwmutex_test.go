package lock_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redkit-go/redkit/lock"
)

func TestRWMutexReadersShareWriterExcludes(t *testing.T) {
	l, _, srv := newLocker(t, nil)
	ctx := t.Context()
	rw := l.RWMutex("doc")

	r1, err := rw.RLock(ctx, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := rw.TryRLock(ctx, time.Minute)
	if err != nil {
		t.Fatalf("second reader: %v", err)
	}
	if r2.Fence() <= r1.Fence() {
		t.Errorf("fences %d then %d", r1.Fence(), r2.Fence())
	}
	if _, err := rw.TryLock(ctx, time.Minute); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryLock with readers in: %v, want ErrNotAcquired", err)
	}

	// A waiting writer holds back new readers.
	var wrote atomic.Bool
	got := make(chan *lock.Lock, 1)
	go func() {
		w, err := rw.Lock(ctx, time.Minute, nil)
		if err != nil {
			t.Errorf("writer: %v", err)
		}
		wrote.Store(true)
		got <- w
	}()
	waitUntil(t, "the writer to wait", func() bool { return do(t, srv, "ZCARD", "lt:rwlock:{doc}:ww") == "1" })
	if _, err := rw.TryRLock(ctx, time.Minute); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("new reader while a writer waits: %v, want ErrNotAcquired", err)
	}
	if err := r1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if wrote.Load() {
		t.Fatal("writer got in while a reader held the lock")
	}
	if err := r2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	var w *lock.Lock
	select {
	case w = <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("writer not woken when the last reader left")
	}
	if w == nil {
		t.FailNow()
	}
	if w.Fence() <= r2.Fence() {
		t.Errorf("writer fence %d not above the readers'", w.Fence())
	}
	if _, err := rw.TryRLock(ctx, time.Minute); !errors.Is(err, lock.ErrNotAcquired) {
		t.Errorf("reader while a writer holds: %v", err)
	}
	if _, err := rw.TryLock(ctx, time.Minute); !errors.Is(err, lock.ErrNotAcquired) {
		t.Errorf("second writer: %v", err)
	}

	// A reader waiting for the writer is woken by its release.
	rgot := make(chan error, 1)
	go func() {
		r, err := rw.RLock(ctx, time.Minute, nil)
		if err == nil {
			err = r.Release(ctx)
		}
		rgot <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := w.Extend(ctx, time.Minute); err != nil {
		t.Errorf("writer Extend: %v", err)
	}
	if err := w.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-rgot; err != nil {
		t.Errorf("waiting reader: %v", err)
	}
	if err := w.Release(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Errorf("writer's second Release: %v, want ErrLockLost", err)
	}
}

func TestRWMutexLeasesExpire(t *testing.T) {
	l, _, _ := newLocker(t, &lock.Options{PollInterval: 50 * time.Millisecond})
	ctx := t.Context()
	rw := l.RWMutex("doc")
	r, err := rw.RLock(ctx, 100*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The reader "dies": the writer gets in when its lease ends.
	w, err := rw.Lock(ctx, 100*time.Millisecond, &lock.AcquireOptions{WaitTimeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("writer after a dead reader: %v", err)
	}
	if err := r.Extend(ctx, time.Minute); !errors.Is(err, lock.ErrLockLost) {
		t.Errorf("expired reader's Extend: %v, want ErrLockLost", err)
	}
	// The writer "dies": a reader gets in when its lease ends.
	if _, err := rw.RLock(ctx, time.Minute, &lock.AcquireOptions{WaitTimeout: 20 * time.Second}); err != nil {
		t.Fatalf("reader after a dead writer: %v", err)
	}
	if err := w.Release(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Errorf("expired writer's Release: %v, want ErrLockLost", err)
	}
}

// A writer that gives up waiting stops holding back readers.
func TestRWMutexWriterGivesUp(t *testing.T) {
	l, _, srv := newLocker(t, nil)
	ctx := t.Context()
	rw := l.RWMutex("doc")
	if _, err := rw.RLock(ctx, time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := rw.Lock(ctx, time.Minute, &lock.AcquireOptions{WaitTimeout: 100 * time.Millisecond}); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("writer: %v, want ErrNotAcquired", err)
	}
	if n := do(t, srv, "ZCARD", "lt:rwlock:{doc}:ww"); n != "0" {
		t.Errorf("%s waiting writers left after the writer gave up", n)
	}
	if _, err := rw.TryRLock(ctx, time.Minute); err != nil {
		t.Errorf("reader after the writer gave up: %v", err)
	}
}
