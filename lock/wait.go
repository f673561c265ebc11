package lock

import (
	"context"
	"errors"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
)

// attempt describes how to acquire one RWMutex side or Semaphore permit:
// waiters of those register their Locker's channel in a wake set and are
// all woken on release ("w <wakeKey>"), then try again.
type attempt struct {
	op, key string // for errors
	wakeKey string
	ttl     time.Duration
	// run makes one attempt; with queue it registers channel for a
	// wake-up. Its reply is {1, fence} or {0, retry hint ms}.
	run func(ctx context.Context, queue bool, channel string) (rueidis.RedisMessage, error)
	// giveUp releases whatever the token may hold or have queued.
	giveUp func(ctx context.Context) error
}

// waitWake runs a's attempts until one succeeds, the wait ends or ctx is
// done, and returns the fence and the send time of the winning attempt.
func (l *Locker) waitWake(ctx context.Context, a attempt, queue bool, wait time.Duration) (int64, time.Time, error) {
	var (
		woken    chan struct{}
		timer    *time.Timer
		deadline time.Time
	)
	if queue {
		woken = make(chan struct{}, 1)
		defer l.addWaker(a.wakeKey, woken)()
		if wait > 0 {
			deadline = time.Now().Add(wait)
		}
	}
	for {
		channel := ""
		var readyCh <-chan struct{}
		if queue {
			if l.ready.Load() {
				channel = l.channel
			} else {
				readyCh = l.readyChan()
			}
		}
		sent := time.Now()
		msg, err := a.run(ctx, queue, channel)
		if err != nil {
			l.undo(ctx, a.ttl, a.giveUp)
			if ctx.Err() != nil {
				return 0, sent, errors.Join(redkit.Wrap(a.op, a.key, ErrNotAcquired), ctx.Err())
			}
			return 0, sent, redkit.Wrap(a.op, a.key, err)
		}
		status, n, err := pair(msg)
		if err != nil {
			l.undo(ctx, a.ttl, a.giveUp)
			return 0, sent, redkit.Wrap(a.op, a.key, err)
		}
		if status == 1 {
			l.acquired.Add(context.Background(), 1)
			return n, sent, nil
		}
		if !queue {
			return 0, sent, redkit.Wrap(a.op, a.key, ErrNotAcquired)
		}
		d := l.pollDelay(time.Duration(n) * time.Millisecond)
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				l.undo(ctx, a.ttl, a.giveUp)
				return 0, sent, redkit.Wrap(a.op, a.key, ErrNotAcquired)
			}
			d = min(d, left)
		}
		if timer == nil {
			timer = time.NewTimer(d)
			defer timer.Stop()
		} else {
			timer.Reset(d)
		}
		select {
		case <-woken:
		case <-timer.C:
		case <-readyCh:
		case <-ctx.Done():
			l.undo(ctx, a.ttl, a.giveUp)
			return 0, sent, errors.Join(redkit.Wrap(a.op, a.key, ErrNotAcquired), ctx.Err())
		}
	}
}

// waitFor turns AcquireOptions into (queue, wait).
func (l *Locker) waitFor(opts *AcquireOptions) (bool, time.Duration) {
	wait := l.opts.WaitTimeout
	if opts != nil {
		switch {
		case opts.WaitTimeout > 0:
			wait = opts.WaitTimeout
		case opts.WaitTimeout < 0:
			return false, 0
		}
	}
	return true, wait
}
