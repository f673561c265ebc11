package lock

import (
	"context"
	"crypto/rand"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
)

// Semaphore is a distributed counting semaphore: at most Permits holders
// at once. Each permit is a lease in a sorted set scored by its expiry, so
// the permit of a holder that dies is reclaimed when its lease ends.
// Waiters are woken when a permit is released and retry (no FIFO order).
//
// Every process must use the same number of permits for a name. Get one
// from Locker.Semaphore; it is safe for concurrent use. Permits are *Lock
// values: Release and Extend them as any other.
type Semaphore struct {
	l       *Locker
	name    string
	permits int
	keys    []string
}

// Semaphore returns the semaphore called name with permits permits. A
// permits below 1 makes every acquire fail with ErrBadPermits.
func (l *Locker) Semaphore(name string, permits int) *Semaphore {
	base := l.kit.Key("semaphore", redkit.HashTag(name))
	return &Semaphore{l: l, name: name, permits: permits,
		keys: []string{base, base + ":wake", base + ":fence"}}
}

// Name returns the semaphore's name.
func (s *Semaphore) Name() string { return s.name }

// Permits returns the number of permits.
func (s *Semaphore) Permits() int { return s.permits }

// Acquire waits for a permit, held for ttl (0 means Options.TTL). The wait
// and the errors are as for Locker.Acquire, plus ErrBadPermits.
func (s *Semaphore) Acquire(ctx context.Context, ttl time.Duration, opts *AcquireOptions) (*Lock, error) {
	queue, deadline := waitFor(opts, s.l.opts.WaitTimeout)
	return s.acquire(ctx, ttl, queue, deadline)
}

// TryAcquire makes one attempt at a permit: ErrNotAcquired when all are
// held.
func (s *Semaphore) TryAcquire(ctx context.Context, ttl time.Duration) (*Lock, error) {
	return s.acquire(ctx, ttl, false, time.Time{})
}

func (s *Semaphore) acquire(ctx context.Context, ttl time.Duration, queue bool, deadline time.Time) (*Lock, error) {
	const op = "lock: semaphore acquire"
	ttl, err := s.l.validate(op, s.name, ttl)
	if err != nil {
		return nil, err
	}
	if s.permits < 1 {
		return nil, redkit.Wrap(op, s.name, ErrBadPermits)
	}
	token := rand.Text()
	permits := strconv.Itoa(s.permits)
	k := s.l.kit
	fence, sent, err := s.l.waitWake(ctx, op, s.name, s.keys[0], ttl, queue, deadline,
		func(ctx context.Context, queue bool, channel string) (rueidis.RedisMessage, error) {
			q := "0"
			if queue {
				q = "1"
			}
			return k.Exec(ctx, semAcquireScript, s.keys, []string{token, ms(ttl), permits, q, s.l.leaseMS, channel})
		},
		func(ctx context.Context) error {
			_, err := k.Exec(ctx, semReleaseScript, s.keys, []string{token})
			return err
		})
	if err != nil {
		return nil, err
	}
	return &Lock{h: s, key: s.name, keys: s.keys, token: token, fence: fence, ttl: ttl, acquiredAt: sent}, nil
}

func (s *Semaphore) release(ctx context.Context, m *Lock) (bool, error) {
	return execBool(ctx, s.l.kit, semReleaseScript, m.keys, m.token)
}

func (s *Semaphore) extend(ctx context.Context, m *Lock, ttl time.Duration) (bool, error) {
	return execBool(ctx, s.l.kit, semExtendScript, m.keys, m.token, ms(ttl))
}

func (s *Semaphore) markLost()            { s.l.markLost() }
func (s *Semaphore) logger() *slog.Logger { return s.l.log }
