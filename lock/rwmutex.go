package lock

import (
	"context"
	"crypto/rand"
	"log/slog"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
)

// RWMutex is a distributed readers-writer lock: any number of readers
// share it, a writer excludes readers and other writers. A writer that is
// waiting blocks new readers, so writers are not starved by a stream of
// readers (readers already in keep their lease). Each read or write lock
// is a lease that expires if its holder dies. Waiters are woken when the
// lock is released and retry; unlike the mutex there is no FIFO handoff.
//
// Get one from Locker.RWMutex; it is safe for concurrent use. Its locks
// are *Lock values: Release and Extend them as any other.
type RWMutex struct {
	l    *Locker
	name string
	keys []string
}

// RWMutex returns the readers-writer lock called name. Its keys share the
// hash tag of name (they are apart from the mutex of the same name).
func (l *Locker) RWMutex(name string) *RWMutex {
	base := l.kit.Key("rwlock", redkit.HashTag(name))
	return &RWMutex{l: l, name: name,
		keys: []string{base, base + ":r", base + ":ww", base + ":wake", base + ":fence"}}
}

// Name returns the lock's name.
func (rw *RWMutex) Name() string { return rw.name }

// RLock waits for a read lock, held for ttl (0 means Options.TTL). The
// wait and the errors are as for Locker.Acquire.
func (rw *RWMutex) RLock(ctx context.Context, ttl time.Duration, opts *AcquireOptions) (*Lock, error) {
	queue, deadline := waitFor(opts, rw.l.opts.WaitTimeout)
	return rw.lock(ctx, "lock: rlock", rwRLockScript, ttl, queue, deadline)
}

// TryRLock makes one attempt at a read lock: ErrNotAcquired while a
// writer holds the lock or waits for it.
func (rw *RWMutex) TryRLock(ctx context.Context, ttl time.Duration) (*Lock, error) {
	return rw.lock(ctx, "lock: rlock", rwRLockScript, ttl, false, time.Time{})
}

// Lock waits for the write lock, held for ttl (0 means Options.TTL). While
// it waits, new readers are held back. The wait and the errors are as for
// Locker.Acquire.
func (rw *RWMutex) Lock(ctx context.Context, ttl time.Duration, opts *AcquireOptions) (*Lock, error) {
	queue, deadline := waitFor(opts, rw.l.opts.WaitTimeout)
	return rw.lock(ctx, "lock: lock", rwLockScript, ttl, queue, deadline)
}

// TryLock makes one attempt at the write lock: ErrNotAcquired while
// anyone holds the lock.
func (rw *RWMutex) TryLock(ctx context.Context, ttl time.Duration) (*Lock, error) {
	return rw.lock(ctx, "lock: lock", rwLockScript, ttl, false, time.Time{})
}

func (rw *RWMutex) lock(ctx context.Context, op string, script *rueidis.Lua, ttl time.Duration, queue bool, deadline time.Time) (*Lock, error) {
	ttl, err := rw.l.validate(op, rw.name, ttl)
	if err != nil {
		return nil, err
	}
	token := rand.Text()
	var h holder = rwReader{rw}
	undo := rwRUnlockScript
	if script == rwLockScript {
		h, undo = rwWriter{rw}, rwUnlockScript
	}
	k := rw.l.kit
	fence, sent, err := rw.l.waitWake(ctx, op, rw.name, rw.keys[0], ttl, queue, deadline,
		func(ctx context.Context, queue bool, channel string) (rueidis.RedisMessage, error) {
			q := "0"
			if queue {
				q = "1"
			}
			return k.Exec(ctx, script, rw.keys, []string{token, ms(ttl), q, rw.l.leaseMS, channel})
		},
		func(ctx context.Context) error {
			_, err := k.Exec(ctx, undo, rw.keys, []string{token})
			return err
		})
	if err != nil {
		return nil, err
	}
	return &Lock{h: h, key: rw.name, keys: rw.keys, token: token, fence: fence, ttl: ttl, acquiredAt: sent}, nil
}

// rwReader and rwWriter are the holders of read and write locks.
type (
	rwReader struct{ rw *RWMutex }
	rwWriter struct{ rw *RWMutex }
)

func (r rwReader) release(ctx context.Context, m *Lock) (bool, error) {
	return execBool(ctx, r.rw.l.kit, rwRUnlockScript, m.keys, m.token)
}

func (r rwReader) extend(ctx context.Context, m *Lock, ttl time.Duration) (bool, error) {
	return execBool(ctx, r.rw.l.kit, rwRExtendScript, m.keys, m.token, ms(ttl))
}

func (r rwReader) markLost()            { r.rw.l.markLost() }
func (r rwReader) logger() *slog.Logger { return r.rw.l.log }

func (w rwWriter) release(ctx context.Context, m *Lock) (bool, error) {
	return execBool(ctx, w.rw.l.kit, rwUnlockScript, m.keys, m.token)
}

func (w rwWriter) extend(ctx context.Context, m *Lock, ttl time.Duration) (bool, error) {
	return extendKey(ctx, w.rw.l.kit, m.keys[0], m.token, ttl)
}

func (w rwWriter) markLost()            { w.rw.l.markLost() }
func (w rwWriter) logger() *slog.Logger { return w.rw.l.log }

// execBool runs a script that answers 1 (done) or 0.
func execBool(ctx context.Context, k *redkit.Kit, s *rueidis.Lua, keys []string, args ...string) (bool, error) {
	n, err := k.Exec(ctx, s, keys, args)
	if err != nil {
		return false, err
	}
	v, err := n.AsInt64()
	return v == 1, err
}
