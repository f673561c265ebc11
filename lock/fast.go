package lock

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// The fast acquire: SET NX GET PX and INCRBY of the fence counter, pipelined
// as plain commands, with no script. Redis runs them for a fraction of a
// script's cost, which on a small machine is half the budget of an
// uncontended cycle (bench/lock.go, "Uncontended" and "Distinct keys";
// see the server CPU/op column). A Locker uses it for a first attempt at
// a key it has no reason to think held. The INCRBY runs whether or not
// the SET took the lock: fences skip a value then, which costs nothing
// (only their order means anything).
//
// A counter that the INCRBY finds missing (new, or lost by a restart
// without persistence) comes back small: the seed script then raises it
// to the server's clock, as next_fence does, so fences stay above every
// one handed out before. The cost: a free lock whose queued waiters have
// not yet noticed that their holder's lease ran out can be taken by a
// newcomer before them.

// A key whose fast acquire found it held skips the fast acquire for
// busyFor: a waiter then queues itself with its first round trip, not its
// second (which in "7 goroutines of one process and 1 of another" cost the
// lone waiter its turns). At most busyKeys keys are remembered.
const (
	busyFor  = time.Second
	busyKeys = 4096
)

// contended reports whether a fast acquire of key failed within busyFor.
func (l *Locker) contended(key string) bool {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	at, ok := l.busy[key]
	return ok && time.Since(at) < busyFor
}

// sawContention records a failed fast acquire of key.
func (l *Locker) sawContention(key string) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	if len(l.busy) >= busyKeys {
		clear(l.busy)
	}
	l.busy[key] = time.Now()
}

// unseeded is the bound below which a fence counter has not been seeded
// from the clock (as in handoff.lua).
const unseeded = 1 << 40

// errNotSet is the fast acquire's "the lock is held".
var errNotSet = errors.New("lock: held")

// fastAcquire tries to take keys[0] for token, reserving block fences. It
// returns the first fence, errNotSet when the lock is held, or a Redis
// failure (after which the lock may have been set: the caller abandons).
func (l *Locker) fastAcquire(ctx context.Context, keys []string, token string, ttl time.Duration, block int64) (int64, error) {
	b := l.kit.B()
	res, err := l.kit.DoMulti(ctx,
		b.Set().Key(keys[0]).Value(token).Nx().Get().Px(max(ttl, time.Millisecond)).Build(),
		b.Incrby().Key(keys[1]).Increment(block).Build())
	if err != nil {
		return 0, err
	}
	// With GET, SET NX answers nil when it set the key, the value when
	// the key was held, and WRONGTYPE for a key that is not a lock.
	if err := res[0].Error(); !rueidis.IsRedisNil(err) {
		if err == nil {
			return 0, errNotSet
		}
		return 0, err
	}
	v, err := res[1].AsInt64()
	if err == nil && v-block+1 < unseeded {
		var msg rueidis.RedisMessage
		msg, err = l.kit.Exec(ctx, seedScript, keys[1:2], []string{strconv.FormatInt(block, 10)})
		if err == nil {
			return msg.AsInt64()
		}
	}
	if err != nil {
		return 0, err
	}
	return v - block + 1, nil
}
