package lock_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/lock"
)

// The watchdog keeps a 1s lock through 5s of work.
func TestDoWatchdogRenews(t *testing.T) {
	l, _, srv := newLocker(t, nil)
	other := lock.New(testutil.OpenKit(t, "lt:", srv.Addr()), nil)
	defer other.Close()
	ctx := t.Context()
	var token string
	err := l.Do(ctx, "job", time.Second, func(ctx context.Context) error {
		m, ok := lock.FromContext(ctx)
		if !ok {
			t.Fatal("FromContext found no lock in fn's ctx")
		}
		token = m.Token()
		end := time.Now().Add(5 * time.Second)
		for time.Now().Before(end) {
			if ctx.Err() != nil {
				t.Fatalf("fn's ctx ended while the lock was renewed: %v", context.Cause(ctx))
			}
			if got := do(t, srv, "GET", "lt:lock:{job}"); got != token {
				t.Fatalf("after %v the lock holds %q, want our token", time.Since(end.Add(-5*time.Second)), got)
			}
			if _, err := other.TryAcquire(ctx, "job", time.Second); !errors.Is(err, lock.ErrNotAcquired) {
				t.Fatalf("another Locker's TryAcquire during Do: %v, want ErrNotAcquired", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if got := do(t, srv, "EXISTS", "lt:lock:{job}"); got != "0" {
		t.Errorf("lock still held after Do returned")
	}
}

// Do returns fn's error, and releases the lock.
func TestDoReturnsFnError(t *testing.T) {
	l, _, srv := newLocker(t, nil)
	boom := errors.New("boom")
	if err := l.Do(t.Context(), "job", time.Second, func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("Do: %v, want fn's error", err)
	}
	if got := do(t, srv, "EXISTS", "lt:lock:{job}"); got != "0" {
		t.Errorf("lock still held after Do returned")
	}
}

// Killing Redis while fn runs cancels fn's ctx and closes Lost.
func TestDoCancelsWhenRedisDies(t *testing.T) {
	l, _, srv := newLocker(t, nil)
	var lost <-chan struct{}
	err := l.Do(t.Context(), "job", time.Second, func(ctx context.Context) error {
		m, _ := lock.FromContext(ctx)
		lost = m.Lost()
		srv.Kill()
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Second):
			t.Fatal("fn's ctx not cancelled 20s after Redis died")
		}
		if cause := context.Cause(ctx); !errors.Is(cause, lock.ErrLockLost) {
			t.Errorf("ctx cause %v, want ErrLockLost", cause)
		}
		return ctx.Err()
	})
	if !errors.Is(err, lock.ErrLockLost) || !errors.Is(err, context.Canceled) {
		t.Errorf("Do: %v, want fn's error joined with ErrLockLost", err)
	}
	select {
	case <-lost:
	default:
		t.Error("Lost() not closed")
	}
}

// The watchdog notices a lock taken away (here deleted by hand).
func TestDoNoticesLoss(t *testing.T) {
	l, _, srv := newLocker(t, nil)
	err := l.Do(t.Context(), "job", 300*time.Millisecond, func(ctx context.Context) error {
		do(t, srv, "SET", "lt:lock:{job}", "someone-else")
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Second):
			t.Fatal("fn's ctx not cancelled after the lock was taken")
		}
		return nil
	})
	if !errors.Is(err, lock.ErrLockLost) {
		t.Errorf("Do: %v, want ErrLockLost", err)
	}
	if got := do(t, srv, "GET", "lt:lock:{job}"); got != "someone-else" {
		t.Errorf("the other holder's lock was touched: %q", got)
	}
}

// A fn that panics (recovered by the caller, as net/http does) or calls
// runtime.Goexit still releases the lock and stops the watchdog; the panic
// reaches the caller unchanged.
func TestDoReleasesOnPanicAndGoexit(t *testing.T) {
	l, _, srv := newLocker(t, nil)
	other := lock.New(testutil.OpenKit(t, "lt:", srv.Addr()), nil)
	defer other.Close()
	for _, tc := range []struct {
		name string
		exit func()
	}{
		{"panic", func() { panic("boom") }},
		{"Goexit", runtime.Goexit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got any
			finished := make(chan struct{})
			go func() { // Goexit ends this goroutine, not the test's
				defer close(finished)
				defer func() { got = recover() }()
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				err := l.Do(ctx, "job", time.Second, func(context.Context) error {
					tc.exit()
					return nil
				})
				t.Errorf("Do returned (%v) after fn exited abnormally", err)
			}()
			<-finished
			if tc.name == "panic" && got != "boom" {
				t.Errorf("recovered %v, want fn's panic value", got)
			}
			if v := do(t, srv, "EXISTS", "lt:lock:{job}"); v != "0" {
				t.Fatal("lock still held after fn exited abnormally")
			}
			m, err := other.TryAcquire(t.Context(), "job", time.Second)
			if err != nil {
				t.Fatalf("TryAcquire after Do exited: %v", err)
			}
			if err := m.Release(t.Context()); err != nil {
				t.Fatal(err)
			}
			// Do stops its watchdog before it releases; goleak in TestMain
			// finds a renewal goroutine left behind.
		})
	}
}
