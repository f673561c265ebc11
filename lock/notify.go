package lock

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit/internal/telemetry"
)

// Notifications. Each Locker subscribes to one channel of its own, with
// plain SUBSCRIBE (the engine's Receive), and names it in its waiters'
// queue entries. A release publishes to the channel of the waiter it hands
// the lock to ("<fence> <token>"), or, for RWMutex and Semaphore, to every
// registered waiting Locker ("w <key>"). Plain pub/sub works the same on
// one node, Sentinel and Cluster (where PUBLISH reaches every node over
// the cluster bus); sharded pub/sub would need a channel per lock in the
// lock's slot, and so a subscription per lock and waiting Locker instead
// of one per Locker.

// subscribe keeps the Locker's subscription up until Close.
func (l *Locker) subscribe() {
	defer l.wg.Done()
	backoff := 50 * time.Millisecond
	for {
		start := time.Now()
		ctx := rueidis.WithOnSubscriptionHook(l.ctx, l.onSubscription)
		err := l.kit.Client().Receive(ctx, l.kit.B().Subscribe().Channel(l.channel).Build(), l.onMessage)
		l.setReady(false)
		if l.ctx.Err() != nil {
			return
		}
		if time.Since(start) > 10*time.Second {
			backoff = 50 * time.Millisecond
		}
		l.log.Debug("lock: notification subscription ended; waiters poll until it is back",
			"channel", l.channel, telemetry.KeyError, err)
		if !sleep(l.ctx, jitter(backoff)) {
			return
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (l *Locker) onSubscription(s rueidis.PubSubSubscription) {
	if s.Channel != l.channel {
		return
	}
	switch s.Kind {
	case "subscribe":
		l.setReady(true)
	case "unsubscribe":
		l.setReady(false)
	}
}

func (l *Locker) setReady(ok bool) {
	l.readyMu.Lock()
	defer l.readyMu.Unlock()
	if l.ready.Load() == ok {
		return
	}
	l.ready.Store(ok)
	if ok {
		close(l.readyCh)
	} else {
		l.readyCh = make(chan struct{})
	}
}

// readyChan returns a channel closed once the subscription is up.
func (l *Locker) readyChan() <-chan struct{} {
	l.readyMu.Lock()
	defer l.readyMu.Unlock()
	return l.readyCh
}

// onMessage runs on the engine's connection goroutine: it must not block.
func (l *Locker) onMessage(m rueidis.PubSubMessage) {
	msg := m.Message
	if key, ok := strings.CutPrefix(msg, "w "); ok {
		l.wake(key)
		return
	}
	f, token, ok := strings.Cut(msg, " ")
	if !ok {
		return
	}
	fence, err := strconv.ParseInt(f, 10, 64)
	if err != nil {
		return
	}
	l.deliver(token, fence)
}

// deliver wakes the waiter of token, which was handed the lock with fence.
// A token nobody waits for any more is ignored: its waiter either got the
// lock by polling, or is abandoning it (and its abandon script releases
// what was handed to it).
func (l *Locker) deliver(token string, fence int64) {
	if v, ok := l.waiters.Load(token); ok {
		select {
		case v.(*waiter).ch <- fence:
		default:
		}
	}
}

// addWaker registers ch to be signalled when key is released.
func (l *Locker) addWaker(key string, ch chan struct{}) (remove func()) {
	l.wmu.Lock()
	set := l.wakers[key]
	if set == nil {
		set = map[chan struct{}]struct{}{}
		l.wakers[key] = set
	}
	set[ch] = struct{}{}
	l.wmu.Unlock()
	return func() {
		l.wmu.Lock()
		delete(set, ch)
		if len(l.wakers[key]) == 0 {
			delete(l.wakers, key)
		}
		l.wmu.Unlock()
	}
}

func (l *Locker) wake(key string) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	for ch := range l.wakers[key] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// jitter returns a random duration in [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// sleep waits d, and reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// pair decodes a script's {status, number} reply.
func pair(msg rueidis.RedisMessage) (int64, int64, error) {
	arr, err := msg.ToArray()
	if err != nil {
		return 0, 0, err
	}
	if len(arr) < 2 {
		return 0, 0, errShortReply
	}
	a, err := arr[0].AsInt64()
	if err != nil {
		return 0, 0, err
	}
	b, err := arr[1].AsInt64()
	return a, b, err
}
