package lock

import (
	"context"
	"errors"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/telemetry"
)

// releaseTimeout bounds the Release at the end of Do, which runs even when
// ctx is done.
const releaseTimeout = 5 * time.Second

// Do acquires the mutex named key (waiting as Acquire does, with the
// Locker's WaitTimeout), runs fn holding it, and releases it. While fn
// runs a watchdog renews the lease every ttl/3. When the lock is found
// lost, or renewals keep failing until less than a third of the lease
// may be left, fn's ctx is cancelled (its cause wraps ErrLockLost) and the
// lock's Lost channel closes: fn must then stop writing. fn gets the Lock
// (for its Fence) with FromContext.
//
// Do returns Acquire's error when the lock was not acquired (fn does not
// run), else fn's error joined with ErrLockLost when the lock was lost
// while fn ran (the work may not have been exclusive) and with any
// Release failure.
func (l *Locker) Do(ctx context.Context, key string, ttl time.Duration, fn func(ctx context.Context) error) error {
	m, err := l.Acquire(ctx, key, ttl, nil)
	if err != nil {
		return err
	}
	return runHolding(ctx, m, fn)
}

// ctxKey is the context key under which Do passes the held Lock to fn.
type ctxKey struct{}

// FromContext returns the Lock held by the Do call whose fn received ctx
// (or a context derived from it), for its Fence, Token or Lost channel.
func FromContext(ctx context.Context) (*Lock, bool) {
	m, ok := ctx.Value(ctxKey{}).(*Lock)
	return m, ok
}

// runHolding runs fn while a watchdog renews m, then releases m. The
// watchdog is stopped and m released however fn ends: a panic (which a
// caller such as net/http may recover) or runtime.Goexit goes on
// unchanged afterwards, instead of leaving the lock renewed until the Kit
// closes.
func runHolding(ctx context.Context, m *Lock, fn func(ctx context.Context) error) (err error) {
	fctx, cancel := context.WithCancelCause(context.WithValue(ctx, ctxKey{}, m))
	defer cancel(nil)
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- watchdog(m, cancel, stop) }()

	var ferr error
	returned := false
	defer func() {
		close(stop)
		lostErr := <-done
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		rerr := m.Release(rctx)
		rcancel()
		if !returned {
			return // fn panicked or called Goexit: that goes on
		}
		if lostErr != nil && errors.Is(rerr, ErrLockLost) {
			rerr = nil // already reported
		}
		err = errors.Join(ferr, lostErr, rerr)
	}()
	ferr = fn(fctx)
	returned = true
	return nil
}

// watchdog renews m every ttl/3 until stop closes. A renewal that fails
// without an answer is retried every ttl/10; once the last confirmed
// renewal is two thirds of a lease old (the lock may expire soon), or as
// soon as Redis says the lock is gone, it cancels fn's ctx, marks m lost
// and returns the error.
func watchdog(m *Lock, cancel context.CancelCauseFunc, stop <-chan struct{}) error {
	ttl := m.TTL()
	every := max(ttl/3, time.Millisecond)
	retry := max(ttl/10, time.Millisecond)
	confirmed := m.AcquiredAt()
	// From the lease's start: a lock handed over within a Locker may
	// share a lease that began before it was acquired.
	t := time.NewTimer(max(every-time.Since(confirmed), 0))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-t.C:
		}
		sent := time.Now()
		ctx, c := context.WithTimeout(context.Background(), every)
		err := m.Extend(ctx, ttl)
		c()
		switch {
		case err == nil:
			confirmed = sent
			t.Reset(every)
			continue
		case errors.Is(err, ErrLockLost):
		case time.Since(confirmed) < 2*ttl/3:
			m.h.logger().Warn("lock: renewal failed; retrying", telemetry.KeyLockKey, m.key, telemetry.KeyError, err)
			t.Reset(retry)
			continue
		default:
			err = errors.Join(redkit.Wrap("lock: renew", m.key, ErrLockLost), err)
		}
		m.markLost()
		cancel(err) // Do returns err: not logged here

		return err
	}
}
