package lock_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redkit-go/redkit/lock"
)

func TestSemaphorePermits(t *testing.T) {
	l, _, _ := newLocker(t, nil)
	ctx := t.Context()
	s := l.Semaphore("ovens", 3)
	var held []*lock.Lock
	for range 3 {
		p, err := s.TryAcquire(ctx, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, p)
	}
	if _, err := s.TryAcquire(ctx, time.Minute); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("4th permit of 3: %v, want ErrNotAcquired", err)
	}
	got := make(chan error, 1)
	go func() {
		p, err := s.Acquire(ctx, time.Minute, nil)
		if err == nil {
			err = p.Release(ctx)
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := held[0].Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Errorf("waiter: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("waiter not woken by a release")
	}
	if err := held[0].Release(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Errorf("second Release: %v, want ErrLockLost", err)
	}
	if err := held[1].Extend(ctx, time.Hour); err != nil {
		t.Errorf("Extend: %v", err)
	}
	if _, err := l.Semaphore("bad", 0).TryAcquire(ctx, time.Second); !errors.Is(err, lock.ErrBadPermits) {
		t.Errorf("0 permits: %v, want ErrBadPermits", err)
	}
}

// The permit of a holder that dies is reclaimed when its lease ends.
func TestSemaphoreReclaimsExpired(t *testing.T) {
	l, _, _ := newLocker(t, &lock.Options{PollInterval: 50 * time.Millisecond})
	ctx := t.Context()
	s := l.Semaphore("ovens", 1)
	dead, err := s.TryAcquire(ctx, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Acquire(ctx, time.Minute, &lock.AcquireOptions{WaitTimeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("Acquire after the holder's lease ended: %v", err)
	}
	if p.Fence() <= dead.Fence() {
		t.Errorf("fence %d not above %d", p.Fence(), dead.Fence())
	}
	if err := dead.Extend(ctx, time.Minute); !errors.Is(err, lock.ErrLockLost) {
		t.Errorf("expired permit's Extend: %v, want ErrLockLost", err)
	}
}

// Never more than N holders at once.
func TestSemaphoreBound(t *testing.T) {
	l, _, _ := newLocker(t, nil)
	ctx := t.Context()
	s := l.Semaphore("ovens", 2)
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for range 10 {
				p, err := s.Acquire(ctx, 10*time.Second, nil)
				if err != nil {
					t.Error(err)
					return
				}
				n := inside.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(time.Millisecond)
				inside.Add(-1)
				if err := p.Release(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if m := most.Load(); m > 2 || m < 1 {
		t.Errorf("%d holders at once, want at most 2", m)
	}
}
