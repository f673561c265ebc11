package lock

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/redkit-go/redkit"
)

// holder is what a Lock needs from the value that acquired it (a Locker
// for mutexes, an RWMutex side, a Semaphore, a Redlock).
type holder interface {
	release(ctx context.Context, m *Lock) (bool, error)
	extend(ctx context.Context, m *Lock, ttl time.Duration) (bool, error)
	markLost()
	logger() *slog.Logger
}

// Lock is a held lock: a mutex, a read or write lock of an RWMutex, a
// Semaphore permit or a Redlock. It is safe for concurrent use.
type Lock struct {
	h          holder
	key        string
	keys       []string // the Redis keys its scripts use
	token      string
	red        string // the token its scripts use: token, or its cohort's
	local      bool   // managed by its Locker's cohorting (cohort.go)
	fence      int64
	acquiredAt time.Time

	mu     sync.Mutex
	ttl    time.Duration
	lost   chan struct{} // made on demand
	isLost bool
}

// Key returns the name the lock was acquired under (without prefix).
func (m *Lock) Key() string { return m.key }

// Token returns the lock's token: 128 random bits from crypto/rand, in
// base32. Only this token can release or extend the lock. A lock handed
// over within its Locker (see Options.MaxLocalHandoffs) has a token of its
// own that only that Locker knows: Redis keeps the token of the first
// holder of the run, which then no longer releases or extends anything.
func (m *Lock) Token() string { return m.token }

// Fence returns the fencing token: strictly increasing per key with every
// acquisition, from a counter that never expires (it may skip values: a
// grant reserves a block for handoffs within its Locker, and a failed
// first attempt takes one). Pass it with each write
// the lock protects and have the store reject writes with a lower fence
// than it has seen: that stops a holder whose lease ran out (a long GC
// pause, a stopped process) from overwriting its successor's work.
//
// A counter that does not exist yet starts from the server's clock in
// microseconds (TIME), so the first fence of a key is a large number, not
// 1, and only comparisons between fences mean anything. That is what
// keeps fences increasing when Redis restarts without persistence and
// loses the counter: the next fence jumps to a new clock value, above
// every count or earlier seed handed out before, as long as the server's
// clock does not go back. With AOF the counters survive a restart and
// simply go on. A Redlock's fence is one above the highest counter of
// the quorum that granted it, a master without a counter counting as its
// clock in microseconds, so it too stays increasing across restarts that
// lost counters, as long as the masters' clocks differ by less than the
// time since the counters were first seeded.
func (m *Lock) Fence() int64 { return m.fence }

// TTL returns the lease given at acquisition or by the last Extend.
func (m *Lock) TTL() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ttl
}

// AcquiredAt returns a time no later than the moment Redis granted the
// lock (the request's send time): AcquiredAt()+TTL() is a safe estimate of
// the lease's end, if it is not extended.
func (m *Lock) AcquiredAt() time.Time { return m.acquiredAt }

// Extend resets the lease to ttl from now (0 keeps the current TTL). It
// returns ErrLockLost, and closes Lost, when the lock is no longer held by
// this token (it expired, was released, or was taken by another holder,
// which is never touched); Redis failures are returned wrapped, and
// a negative ttl gives redkit.ErrNegativeTTL.
func (m *Lock) Extend(ctx context.Context, ttl time.Duration) error {
	const op = "lock: extend"
	if ttl < 0 {
		return redkit.Wrap(op, m.key, redkit.ErrNegativeTTL)
	}
	if ttl == 0 {
		ttl = m.TTL()
	}
	ok, err := m.h.extend(ctx, m, ttl)
	if err != nil {
		return redkit.Wrap(op, m.key, err)
	}
	if !ok {
		m.markLost()
		return redkit.Wrap(op, m.key, ErrLockLost)
	}
	m.mu.Lock()
	m.ttl = ttl
	m.mu.Unlock()
	return nil
}

// Release releases the lock if this token still holds it (a waiter, if
// any, gets it at once). It returns ErrLockLost, and closes Lost, when the
// lock was no longer held by this token: it expired, was released
// already, or is now another holder's, which is never touched. Redis
// failures are returned wrapped.
func (m *Lock) Release(ctx context.Context) error {
	const op = "lock: release"
	ok, err := m.h.release(ctx, m)
	if err != nil {
		return redkit.Wrap(op, m.key, err)
	}
	if !ok {
		m.markLost()
		return redkit.Wrap(op, m.key, ErrLockLost)
	}
	return nil
}

// Lost returns a channel that is closed when the lock is found lost: by
// Extend or Release (ErrLockLost), or by the watchdog of Do when a renewal
// fails. It is not closed by a successful Release, nor by the lease
// running out unnoticed.
func (m *Lock) Lost() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lost == nil {
		m.lost = make(chan struct{})
		if m.isLost {
			close(m.lost)
		}
	}
	return m.lost
}

// isMarkedLost reports whether the loss was recorded.
func (m *Lock) isMarkedLost() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.isLost
}

// markLost records the loss once.
func (m *Lock) markLost() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.isLost {
		return
	}
	m.isLost = true
	if m.lost != nil {
		close(m.lost)
	}
	m.h.markLost()
}
