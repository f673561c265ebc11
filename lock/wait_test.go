package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redkit-go/redkit/lock"
)

// TestEveryAcquirerWaitsAlike: mutex, RWMutex sides, Semaphore and Redlock
// share one wait: the default WaitTimeout bounds it with ErrNotAcquired, a
// negative AcquireOptions.WaitTimeout makes one attempt, and a ctx that
// ends gives errors.Join(ErrNotAcquired, ctx.Err()).
func TestEveryAcquirerWaitsAlike(t *testing.T) {
	const wait = 150 * time.Millisecond
	l, k, _ := newLocker(t, &lock.Options{WaitTimeout: wait, PollInterval: 20 * time.Millisecond})
	ctx := t.Context()
	r := lock.NewRedlockWithOptions(&lock.RedlockOptions{WaitTimeout: wait, RetryDelay: 20 * time.Millisecond}, k)
	held := func(m *lock.Lock, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Release(context.Background()) })
	}
	held(l.Acquire(ctx, "m", time.Minute, nil))
	held(l.RWMutex("rw").Lock(ctx, time.Minute, nil))
	held(l.Semaphore("sem", 1).Acquire(ctx, time.Minute, nil))
	held(r.Acquire(ctx, "red", time.Minute, nil))

	acquirers := []struct {
		name string
		acq  func(ctx context.Context, opts *lock.AcquireOptions) (*lock.Lock, error)
	}{
		{"mutex", func(ctx context.Context, o *lock.AcquireOptions) (*lock.Lock, error) {
			return l.Acquire(ctx, "m", time.Second, o)
		}},
		{"rlock", func(ctx context.Context, o *lock.AcquireOptions) (*lock.Lock, error) {
			return l.RWMutex("rw").RLock(ctx, time.Second, o)
		}},
		{"wlock", func(ctx context.Context, o *lock.AcquireOptions) (*lock.Lock, error) {
			return l.RWMutex("rw").Lock(ctx, time.Second, o)
		}},
		{"semaphore", func(ctx context.Context, o *lock.AcquireOptions) (*lock.Lock, error) {
			return l.Semaphore("sem", 1).Acquire(ctx, time.Second, o)
		}},
		{"redlock", func(ctx context.Context, o *lock.AcquireOptions) (*lock.Lock, error) {
			return r.Acquire(ctx, "red", time.Second, o)
		}},
	}
	for _, a := range acquirers {
		start := time.Now()
		_, err := a.acq(ctx, nil)
		if d := time.Since(start); !errors.Is(err, lock.ErrNotAcquired) || d < wait-10*time.Millisecond || d > 10*wait {
			t.Errorf("%s, default WaitTimeout %v: %v after %v; want ErrNotAcquired after about %v", a.name, wait, err, d, wait)
		}

		start = time.Now()
		_, err = a.acq(ctx, &lock.AcquireOptions{WaitTimeout: -1})
		// At once: sooner than the wait above could have ended (a bound
		// far from a round trip's time, for a loaded machine).
		if d := time.Since(start); !errors.Is(err, lock.ErrNotAcquired) || d >= wait-10*time.Millisecond {
			t.Errorf("%s, WaitTimeout -1: %v after %v; want ErrNotAcquired at once", a.name, err, d)
		}

		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, err = a.acq(cctx, &lock.AcquireOptions{WaitTimeout: time.Minute})
		cancel()
		if !errors.Is(err, lock.ErrNotAcquired) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s, ctx ended: %v; want ErrNotAcquired joined with context.DeadlineExceeded", a.name, err)
		}
	}
}
