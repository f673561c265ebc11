package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/lock"
	"github.com/redkit-go/redkit/redistest"
)

// threeMasters starts three independent servers and a Redlock over them.
func threeMasters(t *testing.T) (*lock.Redlock, []*redistest.Server) {
	t.Helper()
	var (
		srvs []*redistest.Server
		kits []*redkit.Kit
	)
	for range 3 {
		s := redistest.Start(t, nil)
		srvs = append(srvs, s)
		kits = append(kits, testutil.OpenKit(t, "rl:", s.Addr()))
	}
	return lock.NewRedlock(kits...), srvs
}

func TestRedlock(t *testing.T) {
	r, srvs := threeMasters(t)
	ctx := t.Context()
	if r.Quorum() != 2 {
		t.Errorf("Quorum %d, want 2", r.Quorum())
	}
	m, err := r.Acquire(ctx, "k", 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range srvs {
		if got := do(t, s, "GET", "rl:lock:{k}"); got != m.Token() {
			t.Errorf("master %d holds %q, want the token", i, got)
		}
	}
	if _, err := r.TryAcquire(ctx, "k", time.Second); !errors.Is(err, lock.ErrNotAcquired) || errors.Is(err, redkit.ErrUnavailable) {
		t.Errorf("TryAcquire while held: %v, want ErrNotAcquired", err)
	}
	if ttl := m.TTL(); ttl >= 10*time.Second || ttl < 9*time.Second {
		t.Errorf("TTL %v, want 10s less the drift", ttl)
	}
	if err := m.Extend(ctx, time.Minute); err != nil {
		t.Errorf("Extend: %v", err)
	}
	if err := m.Release(ctx); err != nil {
		t.Fatal(err)
	}
	for i, s := range srvs {
		if got := do(t, s, "EXISTS", "rl:lock:{k}"); got != "0" {
			t.Errorf("master %d still holds the lock after Release", i)
		}
	}
	if err := m.Release(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Errorf("second Release: %v, want ErrLockLost", err)
	}

	// One master down: still acquires, with a higher fence.
	srvs[0].Kill()
	m2, err := r.Acquire(ctx, "k", 10*time.Second, nil)
	if err != nil {
		t.Fatalf("Acquire with 1 of 3 masters down: %v", err)
	}
	if m2.Fence() <= m.Fence() {
		t.Errorf("fence %d not above %d", m2.Fence(), m.Fence())
	}
	if err := m2.Release(ctx); err != nil {
		t.Errorf("Release with 1 of 3 down: %v", err)
	}

	// The first master comes back empty-handed on the counter (no
	// persistence) and another goes down: fences still increase, since
	// the quorums share a master.
	srvs[0].Restart()
	srvs[1].Kill()
	m3, err := r.Acquire(ctx, "k", 10*time.Second, &lock.AcquireOptions{WaitTimeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("Acquire with master 1 down: %v", err)
	}
	if m3.Fence() <= m2.Fence() {
		t.Errorf("fence %d not above %d", m3.Fence(), m2.Fence())
	}
	if err := m3.Release(ctx); err != nil {
		t.Errorf("Release: %v", err)
	}

	// Two masters down: no lock, an unavailability error, nothing left.
	srvs[0].Kill()
	_, err = r.TryAcquire(ctx, "k2", 10*time.Second)
	if err == nil || errors.Is(err, lock.ErrNotAcquired) || !errors.Is(err, redkit.ErrUnavailable) {
		t.Errorf("TryAcquire with 2 of 3 down: %v, want ErrUnavailable", err)
	}
	_, err = r.Acquire(ctx, "k2", 10*time.Second, &lock.AcquireOptions{WaitTimeout: 300 * time.Millisecond})
	if err == nil || !errors.Is(err, redkit.ErrUnavailable) {
		t.Errorf("Acquire with 2 of 3 down: %v, want ErrUnavailable", err)
	}
	if got := do(t, srvs[2], "EXISTS", "rl:lock:{k2}"); got != "0" {
		t.Errorf("the live master holds a lock after failed attempts")
	}
	if got := do(t, srvs[2], "EXISTS", "rl:lock:{k2}:fence"); got != "0" {
		t.Errorf("the live master has a fence counter after failed attempts")
	}
}

// Redlock's Do renews like Locker's.
func TestRedlockDo(t *testing.T) {
	r, srvs := threeMasters(t)
	var fence int64
	err := r.Do(t.Context(), "job", 600*time.Millisecond, func(ctx context.Context) error {
		m, _ := lock.FromContext(ctx)
		fence = m.Fence()
		time.Sleep(1500 * time.Millisecond)
		return ctx.Err()
	})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if fence < 1_000_000_000_000_000 {
		t.Errorf("fence %d, want one seeded from the servers' clock (microseconds)", fence)
	}
	if got := do(t, srvs[1], "EXISTS", "rl:lock:{job}"); got != "0" {
		t.Errorf("lock left after Do")
	}
}
