package lock

import (
	"context"
	"errors"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
)

// waitFor turns a call's AcquireOptions into how it waits, given the
// default wait (Options.WaitTimeout or RedlockOptions.WaitTimeout): queue
// false for a negative WaitTimeout (one attempt, as TryAcquire), else the
// deadline (zero: until ctx is done). It is the one place WaitTimeout is
// read.
func waitFor(opts *AcquireOptions, def time.Duration) (queue bool, deadline time.Time) {
	d := def
	if opts != nil {
		switch {
		case opts.WaitTimeout > 0:
			d = opts.WaitTimeout
		case opts.WaitTimeout < 0:
			return false, time.Time{}
		}
	}
	if d > 0 {
		deadline = time.Now().Add(d)
	}
	return true, deadline
}

// attempt is one acquire in progress, as wait drives it: a mutex, an
// RWMutex side, a Semaphore permit or a Redlock.
type attempt struct {
	// try makes one attempt. channel is the Locker's notification channel
	// to register for a wake-up ("" when not queueing, or while the
	// subscription is down). An error ends the wait with that error.
	try func(ctx context.Context, channel string) (outcome, error)
	// pause is the longest wait before the next attempt, given the
	// holder's remaining lease (0 when unknown).
	pause func(hint time.Duration) time.Duration
	// giveUp undoes what the attempts may have left (a queue entry, a
	// lock handed over meanwhile) when the wait ends without the lock; nil
	// when they leave nothing.
	giveUp func(ctx context.Context)
	// notify is the Locker whose subscription wakes this wait; nil for
	// none (Redlock: poll only).
	notify *Locker
	// handoff delivers the fence of a lock a release handed to this
	// waiter (mutex); woken says that a release happened, so try again
	// (RWMutex, Semaphore). Either may be nil.
	handoff <-chan int64
	woken   <-chan struct{}
	// queued, when not nil, says a release queued this waiter already:
	// the wait starts with a pause (ended by the handoff), not an
	// attempt, and queued is the error if it ends first.
	queued error
}

// outcome is what one attempt found.
type outcome struct {
	won   bool
	fence int64
	// early: the lock was handed to this waiter before the attempt ran,
	// so it was acquired no later than the previous attempt's send time.
	early bool
	// hint is the holder's remaining lease when not won, or 0.
	hint time.Duration
	// busy is the error a wait that ends now returns (ErrNotAcquired,
	// wrapped; for Redlock, its attempt's error).
	busy error
}

// wait is the package's one wait loop. It runs a's attempts until one wins,
// the deadline passes (busy is returned), or ctx is done
// (errors.Join(busy, ctx.Err())); with queue false it makes one attempt.
// Between attempts it waits for a's pause (jittered by the caller), cut
// short by a handoff, a wake-up, or the notification subscription coming
// up (attempts made without it registered no channel). Whenever it ends
// without the lock after an attempt, a.giveUp runs. It returns the fence
// and a time no later than the moment the lock was granted. prevSent, if
// not zero, is when this waiter first asked (a parked mutex waiter).
func wait(ctx context.Context, a *attempt, queue bool, deadline, prevSent time.Time) (int64, time.Time, error) {
	var (
		timer *time.Timer
		err   error
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		channel := ""
		var readyCh <-chan struct{}
		if queue && a.notify != nil {
			if a.notify.ready.Load() {
				channel = a.notify.channel
			} else {
				readyCh = a.notify.readyChan() // no subscription yet: poll only
			}
		}
		sent := time.Now()
		var o outcome
		if a.queued != nil {
			o, sent = outcome{busy: a.queued}, prevSent
			a.queued = nil
		} else if o, err = a.try(ctx, channel); err != nil {
			a.undo(ctx)
			return 0, sent, err
		}
		if o.won {
			if o.early && !prevSent.IsZero() {
				return o.fence, prevSent, nil
			}
			return o.fence, sent, nil
		}
		if !queue {
			return 0, sent, o.busy
		}
		d := a.pause(o.hint)
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				a.undo(ctx)
				return 0, sent, o.busy
			}
			d = min(d, left)
		}
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case fence := <-a.handoff:
			// The release that handed us the lock ran after this
			// attempt was sent.
			return fence, sent, nil
		case <-a.woken:
		case <-timer.C:
		case <-readyCh:
		case <-ctx.Done():
			a.undo(ctx)
			return 0, sent, errors.Join(o.busy, ctx.Err())
		}
		prevSent = sent
	}
}

func (a *attempt) undo(ctx context.Context) {
	if a.giveUp != nil {
		a.giveUp(ctx)
	}
}

// attemptErr is the error of an attempt that Redis did not answer: when
// ctx ended meanwhile, errors.Join(ErrNotAcquired, ctx.Err()); else the
// failure, wrapped.
func attemptErr(ctx context.Context, op, key string, err error) error {
	if gone := callerErr(ctx, err); gone != nil {
		return errors.Join(redkit.Wrap(op, key, ErrNotAcquired), gone)
	}
	return redkit.Wrap(op, key, err)
}

// callerErr returns ctx's error when ctx ended, or when err is the
// caller's own deadline or cancellation as the Kit reports it (a
// connection deadline set from ctx can fire a moment before ctx's timer
// does); nil otherwise. The Kit's CommandTimeout failure also wraps
// context.DeadlineExceeded but is ErrUnavailable: Redis's, not ctx's.
func callerErr(ctx context.Context, err error) error {
	if e := ctx.Err(); e != nil {
		return e
	}
	if errors.Is(err, redkit.ErrUnavailable) {
		return nil
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return context.Canceled
	}
	return nil
}

// scriptOutcome reads a lock script's {status, n} reply: status 1 won
// with fence n, 2 won earlier (handed over) with fence n, 0 not won with
// the holder's remaining lease n ms.
func scriptOutcome(op, key string, msg rueidis.RedisMessage) (outcome, error) {
	status, n, err := pair(msg)
	if err != nil {
		return outcome{}, redkit.Wrap(op, key, err)
	}
	switch status {
	case 1:
		return outcome{won: true, fence: n}, nil
	case 2:
		return outcome{won: true, fence: n, early: true}, nil
	}
	return outcome{hint: time.Duration(n) * time.Millisecond, busy: redkit.Wrap(op, key, ErrNotAcquired)}, nil
}

// waitWake acquires an RWMutex side or a Semaphore permit: run makes one
// attempt (registering channel in the wake set at wakeKey when queue),
// giveUp releases whatever the token may hold or have queued. Waiters are
// all woken on release ("w <wakeKey>") and try again.
func (l *Locker) waitWake(ctx context.Context, op, key, wakeKey string, ttl time.Duration, queue bool, deadline time.Time,
	run func(ctx context.Context, queue bool, channel string) (rueidis.RedisMessage, error),
	giveUp func(ctx context.Context) error) (int64, time.Time, error) {
	a := &attempt{
		try: func(ctx context.Context, channel string) (outcome, error) {
			msg, err := run(ctx, queue, channel)
			if err != nil {
				return outcome{}, attemptErr(ctx, op, key, err)
			}
			return scriptOutcome(op, key, msg)
		},
		pause:  l.pollDelay,
		giveUp: func(ctx context.Context) { l.undo(ctx, ttl, giveUp) },
		notify: l,
	}
	if queue {
		woken := make(chan struct{}, 1)
		defer l.addWaker(wakeKey, woken)()
		a.woken = woken
	}
	fence, sent, err := wait(ctx, a, queue, deadline, time.Time{})
	if err == nil {
		l.acquired.Add(context.Background(), 1)
	}
	return fence, sent, err
}
