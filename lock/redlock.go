package lock

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/engine"
	"github.com/redkit-go/redkit/internal/lease"
	"github.com/redkit-go/redkit/internal/optcheck"
)

// Defaults for RedlockOptions.
const (
	// DefaultDriftFactor is the clock drift allowed for, as a fraction of
	// the ttl (plus 2ms), as in the Redlock algorithm.
	DefaultDriftFactor = 0.01

	// DefaultRetryDelay bounds the jittered pause between Redlock attempts.
	DefaultRetryDelay = 50 * time.Millisecond
)

// RedlockOptions configures a Redlock. The zero value (or nil) means the
// defaults. Negative durations and a DriftFactor outside [0, 1) are
// invalid: NewRedlockWithOptions panics with the error Validate reports,
// and never adjusts a value silently.
type RedlockOptions struct {
	// TTL is the lease used when a call passes a ttl of 0; default
	// DefaultTTL.
	TTL time.Duration
	// WaitTimeout bounds Acquire when AcquireOptions does not say; 0 (the
	// default) means until ctx is done.
	WaitTimeout time.Duration
	// RetryDelay bounds the random pause between attempts; default
	// DefaultRetryDelay.
	RetryDelay time.Duration
	// MasterTimeout bounds each call to one master, so that a dead master
	// costs little of the lease; default ttl/10, at least 50ms.
	MasterTimeout time.Duration
	// DriftFactor is the clock drift allowed for, as a fraction of the
	// ttl; default DefaultDriftFactor. It must be below 1.
	DriftFactor float64
	// Logger; default the first Kit's.
	Logger *slog.Logger
}

// Redlock is the Redlock algorithm over independent Redis masters (one
// Kit each, not replicas of one another): a lock is held when a quorum,
// N/2+1 masters, granted it within its validity, ttl − elapsed − drift
// (drift = DriftFactor·ttl + 2ms). Failed attempts and Release reach every
// master. Its fencing token is made strictly increasing across
// acquisitions by a second round that raises the quorum's fence counters
// to their highest value plus one (any two quorums share a master).
//
// Redlock tolerates the loss of a minority of masters. Its safety rests
// on bounded clock drift and on masters not losing acknowledged writes on
// restart (persistence with fsync, or a delayed restart); prefer a single
// Locker on one Redis (with replicas) when that is enough. A Redlock is
// safe for concurrent use and owns no goroutine.
type Redlock struct {
	kits   []*redkit.Kit
	quorum int
	opts   RedlockOptions
	log    *slog.Logger
}

// NewRedlock returns a Redlock over kits with the default RedlockOptions.
// It panics if kits is empty or holds a nil Kit.
func NewRedlock(kits ...*redkit.Kit) *Redlock { return NewRedlockWithOptions(nil, kits...) }

// Validate reports every invalid field of o, each error naming the field
// and its value ("lock: RedlockOptions.RetryDelay must not be negative
// (got -1s)"), joined with errors.Join; nil when o is nil or valid.
// NewRedlockWithOptions panics with this error.
func (o *RedlockOptions) Validate() error {
	if o == nil {
		return nil
	}
	c := optcheck.For("lock: RedlockOptions")
	optcheck.NonNegative(c, "TTL", o.TTL)
	optcheck.NonNegative(c, "WaitTimeout", o.WaitTimeout)
	optcheck.NonNegative(c, "RetryDelay", o.RetryDelay)
	optcheck.NonNegative(c, "MasterTimeout", o.MasterTimeout)
	if !(o.DriftFactor >= 0 && o.DriftFactor < 1) {
		c.Add("DriftFactor", "must be in [0, 1) (got %g)", o.DriftFactor)
	}
	return c.Err()
}

// NewRedlockWithOptions returns a Redlock over kits. It panics if kits is
// empty or holds a nil Kit, or if opts.Validate reports an error.
func NewRedlockWithOptions(opts *RedlockOptions, kits ...*redkit.Kit) *Redlock {
	if len(kits) == 0 {
		panic("lock: NewRedlock with no Kit")
	}
	for _, k := range kits {
		if k == nil {
			panic("lock: NewRedlock with nil Kit")
		}
	}
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	var o RedlockOptions
	if opts != nil {
		o = *opts
	}
	o.TTL = cmp.Or(o.TTL, DefaultTTL)
	o.RetryDelay = cmp.Or(o.RetryDelay, DefaultRetryDelay)
	o.DriftFactor = cmp.Or(o.DriftFactor, DefaultDriftFactor)
	if o.Logger == nil {
		o.Logger = engine.HooksOf(kits[0].Client()).Tel.Logger
	}
	return &Redlock{kits: append([]*redkit.Kit(nil), kits...), quorum: len(kits)/2 + 1, opts: o, log: o.Logger}
}

// releaseMasterTimeout bounds a release on one master.
const releaseMasterTimeout = time.Second

// Quorum returns the number of masters that must grant a lock: N/2+1.
func (r *Redlock) Quorum() int { return r.quorum }

// Acquire tries for the lock named key on the masters, with jittered
// pauses between attempts, until it holds it for ttl (0 means
// RedlockOptions.TTL), the wait ends (opts, else RedlockOptions
// .WaitTimeout; ErrNotAcquired) or ctx is done (errors.Join(ErrNotAcquired,
// ctx.Err())). When attempts fail because masters cannot be reached
// rather than because the lock is held, the error is theirs (wrapping
// redkit.ErrUnavailable...). A failed attempt leaves no lock behind on
// any master it reached. The Lock's TTL is the ttl less the drift.
func (r *Redlock) Acquire(ctx context.Context, key string, ttl time.Duration, opts *AcquireOptions) (*Lock, error) {
	queue, deadline := waitFor(opts, r.opts.WaitTimeout)
	var m *Lock
	_, _, err := wait(ctx, &attempt{
		try: func(ctx context.Context, _ string) (outcome, error) {
			var err error
			m, err = r.TryAcquire(ctx, key, ttl)
			switch {
			case err == nil:
				return outcome{won: true}, nil
			case ctx.Err() != nil, errors.Is(err, redkit.ErrEmptyKey), errors.Is(err, redkit.ErrNegativeTTL):
				return outcome{}, err
			}
			// Held elsewhere, or masters unreachable: try again, and
			// report this error if the wait ends now.
			return outcome{busy: err}, nil
		},
		// No notifications across independent masters: jittered polls.
		pause: func(time.Duration) time.Duration { return jitter(r.opts.RetryDelay) },
	}, queue, deadline, time.Time{})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// TryAcquire makes one attempt at the lock named key on every master.
// Errors are as for Acquire.
func (r *Redlock) TryAcquire(ctx context.Context, key string, ttl time.Duration) (*Lock, error) {
	const op = "lock: redlock acquire"
	if key == "" {
		return nil, redkit.Wrap(op, key, redkit.ErrEmptyKey)
	}
	if ttl < 0 {
		return nil, redkit.Wrap(op, key, redkit.ErrNegativeTTL)
	}
	if ttl == 0 {
		ttl = r.opts.TTL
	}
	ttl = max(ttl, time.Millisecond)
	token := lease.NewToken()
	start := time.Now()
	drift := time.Duration(float64(ttl)*r.opts.DriftFactor) + 2*time.Millisecond

	counters := make([]int64, len(r.kits))
	errs := r.each(ctx, r.masterTimeout(ttl), func(ctx context.Context, i int, k *redkit.Kit) error {
		lk := k.Key("lock", redkit.HashTag(key))
		n, err := k.Exec(ctx, redlockAcquireScript, []string{lk, lk + ":fence"}, []string{token, ms(ttl)})
		if err == nil {
			counters[i], err = n.AsInt64()
		}
		return err
	})
	var won []int
	contended := 0
	fence := int64(0)
	for i, err := range errs {
		switch {
		case err != nil:
		case counters[i] >= 0:
			won = append(won, i)
			fence = max(fence, counters[i]+1)
		default:
			contended++
		}
	}
	if len(won) >= r.quorum {
		// Second round: raise the quorum's counters to the fence.
		f := strconv.FormatInt(fence, 10)
		ok := make([]bool, len(r.kits))
		r.each(ctx, r.masterTimeout(ttl), func(ctx context.Context, i int, k *redkit.Kit) error {
			if counters[i] < 0 || errs[i] != nil {
				return nil
			}
			lk := k.Key("lock", redkit.HashTag(key))
			n, err := k.Exec(ctx, redlockFenceScript, []string{lk, lk + ":fence"}, []string{token, f})
			if err == nil {
				v, _ := n.AsInt64()
				ok[i] = v == 1
			}
			return err
		})
		raised := 0
		for _, b := range ok {
			if b {
				raised++
			}
		}
		if raised >= r.quorum && ttl-time.Since(start)-drift > 0 {
			return &Lock{h: redlockHolder{r}, key: key, token: token, fence: fence, ttl: ttl - drift, acquiredAt: start}, nil
		}
	}
	// Not acquired: release wherever the lock may have been set.
	r.releaseAll(context.WithoutCancel(ctx), key, token)
	if ctx.Err() != nil {
		return nil, errors.Join(redkit.Wrap(op, key, ErrNotAcquired), ctx.Err())
	}
	var failed []error
	for i, err := range errs {
		if err != nil {
			failed = append(failed, fmt.Errorf("master %d: %w", i, err))
		}
	}
	if len(failed) == 0 {
		return nil, redkit.Wrap(op, key, ErrNotAcquired)
	}
	cause := fmt.Errorf("%d of %d masters failed, %d granted, quorum %d: %w",
		len(failed), len(r.kits), len(won), r.quorum, errors.Join(failed...))
	// Built by hand, not with redkit.Wrap: cause wraps the masters' own
	// *redkit.Errors, and Wrap would return the first of those in its place.
	merr := &redkit.Error{Op: op, Key: key, Kind: redkit.Classify(cause), Err: cause}
	if contended > 0 {
		return nil, errors.Join(redkit.Wrap(op, key, ErrNotAcquired), merr)
	}
	return nil, merr
}

// Do acquires the lock named key as Acquire does, runs fn holding it with
// the same watchdog as Locker.Do, and releases it on every master. The
// returned error is as for Locker.Do.
func (r *Redlock) Do(ctx context.Context, key string, ttl time.Duration, fn func(ctx context.Context) error) error {
	m, err := r.Acquire(ctx, key, ttl, nil)
	if err != nil {
		return err
	}
	return runHolding(ctx, m, fn)
}

func (r *Redlock) masterTimeout(ttl time.Duration) time.Duration {
	if r.opts.MasterTimeout > 0 {
		return r.opts.MasterTimeout
	}
	return max(ttl/10, 50*time.Millisecond)
}

// each runs fn on every master at once, each call bounded by the master
// timeout, and returns their errors by index.
func (r *Redlock) each(ctx context.Context, timeout time.Duration, fn func(ctx context.Context, i int, k *redkit.Kit) error) []error {
	errs := make([]error, len(r.kits))
	var wg sync.WaitGroup
	for i, k := range r.kits {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			errs[i] = fn(cctx, i, k)
		})
	}
	wg.Wait()
	return errs
}

// releaseAll releases key on every master where token holds it, and
// returns how many released it and the masters' errors.
func (r *Redlock) releaseAll(ctx context.Context, key, token string) (int, []error) {
	released := make([]bool, len(r.kits))
	errs := r.each(ctx, releaseMasterTimeout, func(ctx context.Context, i int, k *redkit.Kit) error {
		lk := k.Key("lock", redkit.HashTag(key))
		ok, err := lease.Release(ctx, k, lk, token)
		released[i] = ok
		return err
	})
	return count(released), nonNil(errs)
}

// redlockHolder is the holder of a Redlock's locks.
type redlockHolder struct{ r *Redlock }

// release reports true when a quorum released the lock; false with the
// masters' errors when some could not be reached.
func (h redlockHolder) release(ctx context.Context, m *Lock) (bool, error) {
	n, errs := h.r.releaseAll(ctx, m.key, m.token)
	if n >= h.r.quorum {
		return true, nil
	}
	return false, errors.Join(errs...)
}

// extend reports true when a quorum extended the lock within the new
// validity.
func (h redlockHolder) extend(ctx context.Context, m *Lock, ttl time.Duration) (bool, error) {
	r := h.r
	start := time.Now()
	drift := time.Duration(float64(ttl)*r.opts.DriftFactor) + 2*time.Millisecond
	ok := make([]bool, len(r.kits))
	errs := r.each(ctx, r.masterTimeout(ttl), func(ctx context.Context, i int, k *redkit.Kit) error {
		v, err := extendKey(ctx, k, k.Key("lock", redkit.HashTag(m.key)), m.token, ttl)
		ok[i] = v
		return err
	})
	if count(ok) >= r.quorum && ttl-time.Since(start)-drift > 0 {
		return true, nil
	}
	if errs := nonNil(errs); len(errs) > 0 {
		return false, errors.Join(errs...)
	}
	return false, nil
}

func (h redlockHolder) markLost()            {}
func (h redlockHolder) logger() *slog.Logger { return h.r.log }

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func nonNil(errs []error) []error {
	var out []error
	for _, e := range errs {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}
