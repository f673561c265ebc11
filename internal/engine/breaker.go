package engine

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/sony/gobreaker/v2"
)

// BreakerState is the circuit breaker's state.
type BreakerState string

// Breaker states, as reported by Stats and Health.
const (
	BreakerClosed   BreakerState = "closed"
	BreakerOpen     BreakerState = "open"
	BreakerHalfOpen BreakerState = "half-open"
	BreakerDisabled BreakerState = "disabled"
)

// breaker wraps gobreaker's two-step breaker with a lock-free fast path.
// gobreaker takes a mutex on every request; at hundreds of thousands of
// commands per second on two cores that mutex is the hottest lock in the
// process. While the breaker is closed and no failure has been reported
// since the last reported success, a success changes nothing in
// gobreaker's counts (ConsecutiveFailures is already 0), so we skip it.
// Every failure, and the first success after a failure, still goes
// through gobreaker, so its state machine sees exactly what matters.
type breaker struct {
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}]
	notClose atomic.Bool // state != closed
	dirty    atomic.Bool // a failure was reported since the last reported success
	lastErr  atomic.Pointer[error]
	opens    atomic.Int64
	onChange func(from, to BreakerState)
}

func newBreaker(p BreakerPolicy, onChange func(from, to BreakerState)) *breaker {
	if p.Disabled {
		return nil
	}
	b := &breaker{onChange: onChange}
	threshold := uint32(p.FailureThreshold)
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "redis",
		MaxRequests: uint32(p.SuccessThreshold),
		Timeout:     p.RecoveryTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		// A call whose caller gave up is neither a success nor a failure:
		// in half-open, cancelled probes must not close the breaker while
		// Redis is still down.
		IsExcluded: func(err error) bool { return errors.Is(err, errCallerGone) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			b.notClose.Store(to != gobreaker.StateClosed)
			if to == gobreaker.StateOpen {
				b.opens.Add(1)
			}
			if b.onChange != nil {
				b.onChange(stateOf(from), stateOf(to))
			}
		},
	})
	return b
}

func stateOf(s gobreaker.State) BreakerState {
	switch s {
	case gobreaker.StateOpen:
		return BreakerOpen
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	}
	return BreakerClosed
}

func (b *breaker) state() BreakerState {
	if b == nil {
		return BreakerDisabled
	}
	if !b.notClose.Load() {
		return BreakerClosed
	}
	return stateOf(b.cb.State())
}

// allow reports whether a request may go out. done is nil on the fast
// path; otherwise it must be called with the request's outcome.
func (b *breaker) allow() (done func(error), err error) {
	if b == nil || !b.notClose.Load() {
		return nil, nil
	}
	done, err = b.cb.Allow()
	if err != nil {
		cause := err
		if last := b.lastErr.Load(); last != nil {
			cause = fmt.Errorf("%w (last failure: %w)", err, *last)
		}
		return nil, &Error{Op: "redkit: do", Kind: ErrUnavailable, Err: fmt.Errorf("circuit breaker: %w", cause)}
	}
	return done, nil
}

// report records an outcome: err is nil for a success (a reply, even an
// error reply), errCallerGone for a call whose ctx ended (excluded from
// the counts), else the transport failure. done is what allow returned.
func (b *breaker) report(done func(error), err error) {
	if b == nil {
		return
	}
	failed := err != nil && !errors.Is(err, errCallerGone)
	if failed {
		e := err // a copy, so err itself does not escape on the success path
		b.lastErr.Store(&e)
	}
	if done != nil {
		done(err)
		if failed {
			b.dirty.Store(true)
		} else if err == nil {
			b.dirty.Store(false)
		}
		return
	}
	if err == nil && !b.dirty.Load() || errors.Is(err, errCallerGone) {
		return // fast path: closed, nothing to reset; or nothing to say
	}
	d, aerr := b.cb.Allow()
	if aerr != nil {
		return
	}
	if failed {
		b.dirty.Store(true)
	} else {
		b.dirty.Store(false)
	}
	d(err)
}
