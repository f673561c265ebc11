package lock

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/engine"
	"github.com/redkit-go/redkit/internal/telemetry"
)

// Locker hands out distributed locks on one Kit: mutexes (Acquire,
// TryAcquire, Do), read/write locks (RWMutex) and counting semaphores
// (Semaphore). A release hands a mutex to a waiting Acquire of the same
// Locker inside the process, with no round trip (up to
// Options.MaxLocalHandoffs times in a row); waiters of different Lockers
// are queued beside the lock, first come first served, and a release
// hands the lock straight to the first live one and wakes it through one
// pub/sub subscription per Locker.
//
// A Locker is safe for concurrent use. It owns one goroutine (the
// notification subscriber) from New until Close.
type Locker struct {
	kit     *redkit.Kit
	tel     *telemetry.T
	opts    Options
	log     *slog.Logger
	channel string // this Locker's notification channel

	leaseMS string // opts.WaiterLease in ms, as a script argument

	waiters sync.Map // token -> *waiter: acquirers a release may hand to

	// Local holders and parked waiters of mutexes (see park.go).
	qmu    sync.Mutex
	held   map[string]heldBy         // key -> this Locker's holder
	parked map[string][]parkedWaiter // key -> waiters in arrival order
	keys   map[string]*keyState      // key -> its cohort (cohort.go)
	busy   map[string]time.Time      // key -> last failed fast acquire (fast.go)
	cohort bool                      // local handoffs on

	wmu    sync.Mutex
	wakers map[string]map[chan struct{}]struct{} // redis key -> woken on release

	ready   atomic.Bool
	readyMu sync.Mutex
	readyCh chan struct{} // closed once the subscription is confirmed

	ctx     context.Context // cancelled by Close
	cancel  context.CancelFunc
	closeMu sync.Mutex
	closed  bool
	wg      sync.WaitGroup
	once    sync.Once

	acquired, lost metric.Int64Counter
}

// waiter is an Acquire call waiting for a handoff.
type waiter struct {
	ch  chan int64
	key string
	ttl time.Duration
}

// New returns a Locker on k and starts its notification subscriber
// (which reconnects on its own until Close). It panics if k is nil or
// opts.Validate reports an error.
func New(k *redkit.Kit, opts *Options) *Locker {
	if k == nil {
		panic("lock: New with nil Kit")
	}
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	st := engine.HooksOf(k.Client())
	o := opts.normalize(st.Tel.Logger)
	ctx, cancel := context.WithCancel(context.Background())
	l := &Locker{
		kit:     k,
		tel:     st.Tel,
		opts:    o,
		log:     o.Logger,
		channel: k.Key("lock", "notify", rand.Text()),
		leaseMS: strconv.FormatInt(o.WaiterLease.Milliseconds(), 10),
		wakers:  map[string]map[chan struct{}]struct{}{},
		held:    map[string]heldBy{},
		parked:  map[string][]parkedWaiter{},
		keys:    map[string]*keyState{},
		busy:    map[string]time.Time{},
		cohort:  !o.DisableLocalHandoff,
		readyCh: make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
	}
	l.acquired, _ = st.Tel.Meter.Int64Counter(st.Tel.Name("lock.acquisitions"),
		metric.WithDescription("Locks acquired (mutex, read, write, permit)"))
	l.lost, _ = st.Tel.Meter.Int64Counter(st.Tel.Name("lock.losses"),
		metric.WithDescription("Locks found lost by Extend, Release or the Do watchdog"))
	l.wg.Add(1)
	go l.subscribe()
	return l
}

// Close stops the notification subscriber and any background clean-up,
// and waits for them. Locks already held stay held until released or
// expired; waits in progress fall back to polling. Calls that acquire
// after Close fail with redkit.ErrClosed. Close is idempotent and returns
// nil.
func (l *Locker) Close() error {
	l.once.Do(func() {
		l.closeMu.Lock()
		l.closed = true
		l.closeMu.Unlock()
		if l.ready.Load() {
			// Unsubscribe, so that the server stops counting this Locker
			// as a live receiver for handoffs. The subscriber then ends.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = l.kit.Client().Do(ctx, l.kit.B().Unsubscribe().Channel(l.channel).Build()).Error()
			cancel()
		}
		l.cancel()
		l.wg.Wait()
	})
	return nil
}

func (l *Locker) isClosed() bool {
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	return l.closed
}

// goBackground runs fn in a goroutine owned by the Locker, unless the
// Locker is closed.
func (l *Locker) goBackground(fn func(ctx context.Context)) {
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	if l.closed {
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		fn(l.ctx)
	}()
}

// mutexKeys returns the keys of the mutex named key: the lock, its fence
// counter, its waiter queue and waiter info. They share a hash tag, so one
// script can touch them all on a cluster.
func (l *Locker) mutexKeys(key string) []string {
	lk := l.kit.Key("lock", redkit.HashTag(key))
	// One string holds all four (substrings of it): an uncontended cycle
	// allocates for keys once, not four times.
	all := lk + ":fence" + lk + ":q" + lk + ":w"
	n := len(lk)
	f := n + len(":fence")
	q := f + n + len(":q")
	return []string{all[:n], all[:f], all[f:q], all[q:]}
}

// checkReceivers is the scripts' flag to skip waiters whose channel has
// no subscriber. PUBLISH counts only the receivers connected to the node
// that runs it, which on a cluster may not be the waiter's, so it is off
// there (a lock handed to a dead waiter then expires with its lease).
func (l *Locker) checkReceivers() string {
	if l.kit.Mode() == "cluster" {
		return "0"
	}
	return "1"
}

// validate checks a key and ttl, and returns the ttl to use.
func (l *Locker) validate(op, key string, ttl time.Duration) (time.Duration, error) {
	if key == "" {
		return 0, redkit.Wrap(op, key, redkit.ErrEmptyKey)
	}
	if ttl < 0 {
		return 0, redkit.Wrap(op, key, redkit.ErrNegativeTTL)
	}
	if l.isClosed() {
		return 0, redkit.Wrap(op, key, redkit.ErrClosed)
	}
	if ttl == 0 {
		ttl = l.opts.TTL
	}
	return max(ttl, time.Millisecond), nil
}

func ms(d time.Duration) string { return strconv.FormatInt(max(d.Milliseconds(), 1), 10) }

// Acquire waits for the mutex named key and returns it held for ttl (0
// means Options.TTL). Waiters are served first come, first served: a
// release hands the lock straight to the longest waiting live acquirer.
// The wait ends with ErrNotAcquired after WaitTimeout (opts, else
// Options.WaitTimeout; 0 means no limit), or with
// errors.Join(ErrNotAcquired, ctx.Err()) when ctx is done; either way no
// lock is left behind for this call. Redis failures are returned as they
// are (redkit.ErrUnavailable, redkit.ErrOOM, redkit.ErrWrongType...),
// never as ErrNotAcquired. An empty key gives redkit.ErrEmptyKey, a
// negative ttl redkit.ErrNegativeTTL.
func (l *Locker) Acquire(ctx context.Context, key string, ttl time.Duration, opts *AcquireOptions) (*Lock, error) {
	queue, deadline := waitFor(opts, l.opts.WaitTimeout)
	return l.acquire(ctx, key, ttl, queue, deadline)
}

// TryAcquire makes one attempt at the mutex named key, without waiting:
// ErrNotAcquired when another holder has it (or live waiters are queued
// for it). Errors are as for Acquire.
func (l *Locker) TryAcquire(ctx context.Context, key string, ttl time.Duration) (*Lock, error) {
	return l.acquire(ctx, key, ttl, false, time.Time{})
}

const opAcquire = "lock: acquire"

// undoTimeout bounds the clean-up a failed or abandoned acquire runs
// before returning; it goes on in the background if Redis is slower.
const undoTimeout = time.Second

func (l *Locker) acquire(ctx context.Context, key string, ttl time.Duration, queue bool, deadline time.Time) (lk *Lock, err error) {
	ttl, err = l.validate(opAcquire, key, ttl)
	if err != nil {
		return nil, err
	}
	ctx, span := l.tel.Start(ctx, "lock.acquire", key)
	defer func() { telemetry.End(span, err) }()

	keys := l.mutexKeys(key)
	token := rand.Text()
	s := slowAcquire{key: key, keys: keys, token: token, ttl: ttl, queue: queue, deadline: deadline, block: 1}
	// The first attempt at a key this Locker has no reason to think held
	// is the fast acquire (fast.go): no script, and none of the waiting
	// machinery below is built for it.
	fast := !l.contended(key) && (!queue || !l.cohort && !l.heldHere(key))
	if queue && l.cohort {
		lw, b := l.join(key, token, ttl)
		fast = lw == nil && !l.contended(key)
		if lw != nil {
			// lw.w is registered in l.waiters: a release may queue it.
			s.w, s.registered = lw.w, true
			m, err := l.waitLocal(ctx, key, lw, deadline)
			if m != nil || err != nil {
				l.waiters.Delete(token)
				return m, err
			}
			b = lw.block
			if lw.queued {
				// A release queued us in Redis: it may have handed us
				// the lock already.
				select {
				case fence := <-lw.w.ch:
					l.waiters.Delete(token)
					return l.granted(key, keys, token, fence, b, ttl, lw.since, true), nil
				default:
				}
				s.prevSent = lw.since
				s.queued = redkit.Wrap(opAcquire, key, ErrNotAcquired)
			} else {
				fast = !l.contended(key)
			}
		}
		s.led, s.block = true, b
	}
	if fast {
		sent := time.Now()
		fence, err := l.fastAcquire(ctx, keys, token, ttl, s.block)
		switch {
		case err == nil:
			if s.registered {
				l.waiters.Delete(token)
			}
			return s.won(l, fence, sent), nil
		case !errors.Is(err, errNotSet):
			// It may have run on the server: give up what it may have
			// left (as wait does).
			l.abandon(ctx, keys, token, ttl)
			if s.registered {
				l.waiters.Delete(token)
			}
			if s.led {
				l.leaderDone(key)
			}
			return nil, attemptErr(ctx, opAcquire, key, err)
		case !queue:
			return nil, redkit.Wrap(opAcquire, key, ErrNotAcquired)
		}
		l.sawContention(key)
	}
	return l.acquireSlow(ctx, &s)
}

// slowAcquire is an acquire that goes on after its fast attempt (or
// without one): by the acquire script, waiting as wait does.
type slowAcquire struct {
	key      string
	keys     []string
	token    string
	ttl      time.Duration
	queue    bool
	deadline time.Time

	w          *waiter // nil until needed
	registered bool    // w is in Locker.waiters
	prevSent   time.Time
	queued     error // see attempt.queued
	led        bool  // counted in its keyState's acquiring
	block      int64 // fences to reserve
}

// won returns the Lock of a grant.
func (s *slowAcquire) won(l *Locker, fence int64, at time.Time) *Lock {
	if l.cohort {
		return l.granted(s.key, s.keys, s.token, fence, s.block, s.ttl, at, s.led)
	}
	return l.newLock(s.key, s.keys, s.token, fence, s.ttl, at)
}

func (l *Locker) acquireSlow(ctx context.Context, s *slowAcquire) (*Lock, error) {
	key, keys, token, ttl := s.key, s.keys, s.token, s.ttl
	defer func() {
		if s.registered {
			l.waiters.Delete(token)
		}
	}()
	args := []string{token, ms(ttl), "0", l.leaseMS, "", l.checkReceivers(), strconv.FormatInt(s.block, 10)}
	a := &attempt{
		try: func(ctx context.Context, channel string) (outcome, error) {
			if s.w != nil && !s.registered {
				// Registered before the attempt that can queue it: the
				// handoff may arrive before the script's reply.
				l.waiters.Store(token, s.w)
				s.registered = true
			}
			args[4] = channel
			msg, err := l.kit.Exec(ctx, acquireScript, keys, args)
			if err != nil {
				// The attempt may have run on the server (a reply lost
				// to a timeout or a broken connection): wait gives up.
				return outcome{}, attemptErr(ctx, opAcquire, key, err)
			}
			return scriptOutcome(opAcquire, key, msg)
		},
		pause:  l.pollDelay,
		giveUp: func(ctx context.Context) { l.abandon(ctx, keys, token, ttl) },
		notify: l,
		queued: s.queued,
	}
	if s.queue {
		args[2] = "1"
		if s.w == nil {
			s.w = &waiter{ch: make(chan int64, 1), key: key, ttl: ttl}
		}
		a.handoff = s.w.ch
		if !l.cohort && l.ready.Load() && l.heldHere(key) {
			// This Locker holds the lock: wait for its release to queue
			// us (no round trip of our own), for at most parkTimeout.
			parkedAt := time.Now()
			l.waiters.Store(token, s.w)
			s.registered = true
			l.park(key, token, args[1])
			d := parkTimeout
			if !s.deadline.IsZero() {
				d = max(min(d, time.Until(s.deadline)), 0)
			}
			timer := time.NewTimer(d)
			select {
			case fence := <-s.w.ch:
				timer.Stop()
				l.unpark(key, token)
				return l.newLock(key, keys, token, fence, ttl, parkedAt), nil
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				l.unpark(key, token)
				l.abandon(ctx, keys, token, ttl)
				return nil, errors.Join(redkit.Wrap(opAcquire, key, ErrNotAcquired), ctx.Err())
			}
			// Still waiting: queue ourselves (a no-op if the release
			// did meanwhile) and wait as any waiter.
			l.unpark(key, token)
			s.prevSent = parkedAt
		}
	}
	fence, at, err := wait(ctx, a, s.queue, s.deadline, s.prevSent)
	if err != nil {
		if s.led {
			l.leaderDone(key)
		}
		return nil, err
	}
	return s.won(l, fence, at), nil
}

// abandon removes token's queue entry and releases the lock if the token
// got it meanwhile (a handoff racing the give-up, or an attempt whose
// reply was lost). It runs even when ctx is done; if Redis cannot be
// reached it keeps trying in the background for up to ttl, after which
// any such lock has expired anyway.
func (l *Locker) abandon(ctx context.Context, keys []string, token string, ttl time.Duration) {
	args := []string{token, l.checkReceivers()}
	l.undo(ctx, ttl, func(ctx context.Context) error {
		_, err := l.kit.Exec(ctx, abandonScript, keys, args)
		return err
	})
}

// undo runs a clean-up script now, even when ctx is done, and if Redis
// cannot be reached keeps trying in the background for up to ttl (or the
// waiter lease), after which what it would clean up has expired anyway.
func (l *Locker) undo(ctx context.Context, ttl time.Duration, run func(ctx context.Context) error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	err := run(cctx)
	cancel()
	if err == nil || isReply(err) {
		return
	}
	until := time.Now().Add(max(ttl, l.opts.WaiterLease))
	l.goBackground(func(bg context.Context) {
		retryUntil(bg, until, run)
	})
}

// retryUntil calls fn every 50-100ms until it succeeds (or Redis answers
// with an error reply), until passes, or ctx is done.
func retryUntil(ctx context.Context, until time.Time, fn func(context.Context) error) {
	for time.Now().Before(until) {
		if !sleep(ctx, jitter(100*time.Millisecond)) {
			return
		}
		cctx, cancel := context.WithDeadline(ctx, until)
		err := fn(cctx)
		cancel()
		if err == nil || isReply(err) {
			return
		}
	}
}

// isReply reports whether err is an error reply from Redis, as opposed to
// a failure to reach it.
func isReply(err error) bool {
	return err != nil && !errors.Is(err, redkit.ErrUnavailable) && !errors.Is(err, redkit.ErrClosed) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// pollDelay is the wait before a waiter's next fallback poll: the
// holder's remaining lease (a holder that dies sends no notification),
// at most PollInterval, jittered so that waiters do not poll together.
func (l *Locker) pollDelay(pttl time.Duration) time.Duration {
	d := l.opts.PollInterval
	if pttl > 0 && pttl+time.Millisecond < d {
		d = pttl + time.Millisecond
	}
	return jitter(d)
}

func (l *Locker) newLock(key string, keys []string, token string, fence int64, ttl time.Duration, at time.Time) *Lock {
	l.acquired.Add(context.Background(), 1)
	l.setHeld(key, token, at.Add(ttl))
	return &Lock{h: l, key: key, keys: keys, token: token, fence: fence, ttl: ttl, acquiredAt: at}
}

// Release releases the mutex named key if token holds it, handing it to
// the next waiter. It reports whether token held it; a lock held by
// another token is never touched. The token of a lock handed over within
// a Locker is known only to that Locker (see Lock.Token). Errors are
// Redis failures, wrapped.
func (l *Locker) Release(ctx context.Context, key, token string) (bool, error) {
	const op = "lock: release"
	if key == "" {
		return false, redkit.Wrap(op, key, redkit.ErrEmptyKey)
	}
	if l.cohort {
		if m, stale := l.localHolder(key, token); m != nil {
			ok, err := l.releaseLocal(ctx, m)
			return ok, redkit.Wrap(op, key, err)
		} else if stale {
			return false, nil
		}
	}
	ok, err := l.releaseKeys(ctx, key, l.mutexKeys(key), token)
	return ok, redkit.Wrap(op, key, err)
}

// releaseKeys releases the mutex key if token holds it, queueing this
// Locker's parked waiters for it in the same script, and wakes the new
// owner when it is one of this Locker's waiters (the script publishes only
// to other Lockers). If the reply is lost, that waiter finds the lock
// handed to it at its next poll.
func (l *Locker) releaseKeys(ctx context.Context, key string, keys []string, token string) (bool, error) {
	args := append([]string{token, l.checkReceivers(), l.leaseMS, l.channel}, l.takeParked(key)...)
	ok, to, fence, err := l.releaseScript(ctx, keys, args)
	if err != nil {
		return false, err
	}
	l.released(key, token, to)
	if fence > 0 && to != "" {
		// Handed to a waiter of ours: the script published nothing.
		l.deliver(to, fence)
	}
	return ok, nil
}

// releaseScript runs the release script and returns whether the token
// held the lock, the new owner's token ("" for none) and, when the new
// owner is a waiter of this Locker (not published to), its fence.
func (l *Locker) releaseScript(ctx context.Context, keys, args []string) (bool, string, int64, error) {
	msg, err := l.kit.Exec(ctx, releaseScript, keys, args)
	if err != nil {
		return false, "", 0, err
	}
	arr, err := msg.ToArray()
	if err != nil || len(arr) < 2 {
		return false, "", 0, errors.Join(errShortReply, err)
	}
	ok, err := arr[0].AsInt64()
	if err != nil {
		return false, "", 0, err
	}
	to, _ := arr[1].ToString()
	var fence int64
	if len(arr) > 2 {
		fence, _ = arr[2].AsInt64()
	}
	return ok == 1, to, fence, nil
}

// Extend resets the lease of the mutex named key to ttl (0 means
// Options.TTL) if token holds it, and reports whether it did. A lock held
// by another token is never touched. Errors are Redis failures, wrapped,
// or redkit.ErrNegativeTTL.
func (l *Locker) Extend(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	const op = "lock: extend"
	if key == "" {
		return false, redkit.Wrap(op, key, redkit.ErrEmptyKey)
	}
	if ttl < 0 {
		return false, redkit.Wrap(op, key, redkit.ErrNegativeTTL)
	}
	if ttl == 0 {
		ttl = l.opts.TTL
	}
	if l.cohort {
		if m, stale := l.localHolder(key, token); m != nil {
			ok, err := l.extendLocal(ctx, m, ttl)
			if ok {
				m.mu.Lock()
				m.ttl = ttl
				m.mu.Unlock()
			}
			return ok, redkit.Wrap(op, key, err)
		} else if stale {
			return false, nil
		}
	}
	ok, err := extendKey(ctx, l.kit, l.kit.Key("lock", redkit.HashTag(key)), token, ttl)
	return ok, redkit.Wrap(op, key, err)
}

func extendKey(ctx context.Context, k *redkit.Kit, key, token string, ttl time.Duration) (bool, error) {
	n, err := k.Exec(ctx, extendScript, []string{key}, []string{token, ms(ttl)})
	if err != nil {
		return false, err
	}
	v, err := n.AsInt64()
	return v == 1, err
}

// The holder interface of a mutex Lock.

func (l *Locker) release(ctx context.Context, m *Lock) (bool, error) {
	if m.local {
		return l.releaseLocal(ctx, m)
	}
	return l.releaseKeys(ctx, m.key, m.keys, m.token)
}

func (l *Locker) extend(ctx context.Context, m *Lock, ttl time.Duration) (bool, error) {
	if m.local {
		return l.extendLocal(ctx, m, ttl)
	}
	sent := time.Now()
	ok, err := extendKey(ctx, l.kit, m.keys[0], m.token, ttl)
	if ok {
		l.extended(m.key, m.token, sent.Add(ttl))
	}
	return ok, err
}

func (l *Locker) markLost() { l.lost.Add(context.Background(), 1) }

func (l *Locker) logger() *slog.Logger { return l.log }
