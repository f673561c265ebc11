package lock_test

import (
	"context"
	"testing"
	"time"

	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/lock"
	"github.com/redkit-go/redkit/redistest"
)

// A restart without persistence loses the fence counters; the next fences
// must still be above every fence handed out before (they are seeded from
// the server's clock), for mutexes, write and read locks and semaphores,
// across two restarts.
func TestFenceIncreasesAcrossRestartWithoutPersistence(t *testing.T) {
	srv := redistest.Start(t, nil) // no persistence: Restart loses data
	l := lock.New(testutil.OpenKit(t, "lt:", srv.Addr()), nil)
	defer l.Close()
	kinds := []struct {
		name    string
		acquire func(ctx context.Context) (*lock.Lock, error)
	}{
		{"mutex", func(ctx context.Context) (*lock.Lock, error) { return l.TryAcquire(ctx, "m", time.Minute) }},
		{"write", func(ctx context.Context) (*lock.Lock, error) { return l.RWMutex("rw").TryLock(ctx, time.Minute) }},
		{"read", func(ctx context.Context) (*lock.Lock, error) { return l.RWMutex("rw").TryRLock(ctx, time.Minute) }},
		{"semaphore", func(ctx context.Context) (*lock.Lock, error) { return l.Semaphore("s", 2).TryAcquire(ctx, time.Minute) }},
	}
	// fence acquires and releases once; right after a restart the Kit may
	// still be reconnecting, so it retries for a while.
	fence := func(acquire func(context.Context) (*lock.Lock, error)) int64 {
		t.Helper()
		var m *lock.Lock
		waitUntil(t, "an acquire to succeed", func() bool {
			var err error
			m, err = acquire(t.Context())
			return err == nil
		})
		if err := m.Release(t.Context()); err != nil {
			t.Fatalf("Release: %v", err)
		}
		return m.Fence()
	}
	highest := make([]int64, len(kinds))
	for round := range 3 {
		if round > 0 {
			srv.Restart()
		}
		for i, k := range kinds {
			for range 3 {
				f := fence(k.acquire)
				if f <= highest[i] {
					t.Fatalf("%s, after %d restarts: fence %d, not above %d handed out before", k.name, round, f, highest[i])
				}
				highest[i] = f
			}
		}
	}
}

// A Redlock's fence stays increasing when every master of its quorum
// restarted without persistence and lost its counter.
func TestRedlockFenceAcrossRestart(t *testing.T) {
	r, srvs := threeMasters(t)
	ctx := t.Context()
	var last int64
	for round := range 3 {
		for range 3 {
			m, err := r.Acquire(ctx, "rf", 10*time.Second, nil)
			if err != nil {
				t.Fatalf("round %d: Acquire: %v", round, err)
			}
			if m.Fence() <= last {
				t.Fatalf("round %d: fence %d, not above %d", round, m.Fence(), last)
			}
			last = m.Fence()
			if err := m.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range srvs {
			s.Restart()
		}
	}
}
