package lock_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/lock"
)

// arrive starts an Acquire of key on l and waits until it waits (it is
// then behind every earlier arrival); the Lock comes on the channel.
func arrive(t *testing.T, l *lock.Locker, key string, ttl time.Duration, started func() bool) <-chan *lock.Lock {
	t.Helper()
	ch := make(chan *lock.Lock, 1)
	go func() {
		m, err := l.Acquire(context.Background(), key, ttl, &lock.AcquireOptions{WaitTimeout: 30 * time.Second})
		if err != nil {
			t.Errorf("Acquire: %v", err)
		}
		ch <- m
	}()
	waitUntil(t, "the acquirer to wait", started)
	return ch
}

func take(t *testing.T, ch <-chan *lock.Lock) *lock.Lock {
	t.Helper()
	select {
	case m := <-ch:
		if m == nil {
			t.FailNow()
		}
		return m
	case <-time.After(20 * time.Second):
		t.Fatal("no lock within 20s")
	}
	return nil
}

// A release hands the lock to the Locker's own first waiter in the
// process: the key stays held in Redis under the first holder's token,
// each successor has a token, fence and lease of its own, stale holders
// cannot release or extend, and after MaxLocalHandoffs the release goes
// through Redis, where another Locker's waiter has its turn.
func TestLocalHandoff(t *testing.T) {
	l, _, srv := newLocker(t, &lock.Options{MaxLocalHandoffs: 3})
	other := lock.New(testutil.OpenKit(t, "lt:", srv.Addr()), nil)
	defer other.Close()
	ctx := t.Context()
	first, err := l.Acquire(ctx, "k", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Five local waiters, then a waiter of another Locker (queued in
	// Redis), in that order.
	var local []<-chan *lock.Lock
	var waiting atomic.Int32
	for range 5 {
		n := waiting.Load()
		ch := make(chan *lock.Lock, 1)
		go func() {
			waiting.Add(1)
			m, err := l.Acquire(ctx, "k", time.Minute, nil)
			if err != nil && ctx.Err() == nil {
				t.Errorf("local waiter: %v", err)
			}
			ch <- m
		}()
		waitUntil(t, "a local waiter", func() bool { return waiting.Load() == n+1 })
		time.Sleep(20 * time.Millisecond) // it waits now
		local = append(local, ch)
	}
	remote := arrive(t, other, "k", time.Minute, func() bool { return do(t, srv, "LLEN", "lt:lock:{k}:q") == "1" })

	prev := first
	var order []*lock.Lock
	for i := range 3 {
		if err := prev.Release(ctx); err != nil {
			t.Fatalf("release %d: %v", i, err)
		}
		m := take(t, local[i])
		if got := do(t, srv, "GET", "lt:lock:{k}"); got != first.Token() {
			t.Fatalf("handoff %d: Redis holds %q, want the first holder's token (no round trip)", i, got)
		}
		// (The first successor's fences come from a new block: the
		// remote waiter's first attempt took one fence meanwhile.)
		if m.Token() == prev.Token() || m.Fence() <= prev.Fence() || i > 0 && m.Fence() != prev.Fence()+1 {
			t.Fatalf("handoff %d: token %q fence %d after %q %d; want a new token and the next fence", i, m.Token(), m.Fence(), prev.Token(), prev.Fence())
		}
		if pttl, _ := strconv.Atoi(do(t, srv, "PTTL", "lt:lock:{k}")); m.TTL() != time.Minute || pttl < 50_000 {
			t.Fatalf("handoff %d: TTL %v, PTTL in Redis %dms", i, m.TTL(), pttl)
		}
		// The stale holder can do nothing any more, not even by the
		// token that Redis holds.
		if err := prev.Release(ctx); !errors.Is(err, lock.ErrLockLost) {
			t.Fatalf("stale Release: %v, want ErrLockLost", err)
		}
		select {
		case <-prev.Lost():
		default:
			t.Fatal("stale holder's Lost() not closed by its failed Release")
		}
		if err := prev.Extend(ctx, time.Minute); !errors.Is(err, lock.ErrLockLost) {
			t.Fatalf("stale Extend: %v, want ErrLockLost", err)
		}
		if ok, err := l.Release(ctx, "k", prev.Token()); ok || err != nil {
			t.Fatalf("Locker.Release by a stale token: %v, %v", ok, err)
		}
		if ok, err := l.Extend(ctx, "k", prev.Token(), time.Minute); ok || err != nil {
			t.Fatalf("Locker.Extend by a stale token: %v, %v", ok, err)
		}
		order = append(order, m)
		prev = m
	}
	// The current holder, by token through the Locker.
	if ok, err := l.Extend(ctx, "k", prev.Token(), 2*time.Minute); !ok || err != nil {
		t.Fatalf("Locker.Extend by the holder's token: %v, %v", ok, err)
	}
	if pttl, _ := strconv.Atoi(do(t, srv, "PTTL", "lt:lock:{k}")); pttl < 110_000 {
		t.Fatalf("PTTL %dms after Extend by 2m", pttl)
	}
	// Three local handoffs: the next release goes through Redis and the
	// other Locker's waiter, queued first there, gets the lock.
	if ok, err := l.Release(ctx, "k", prev.Token()); !ok || err != nil {
		t.Fatalf("Locker.Release by the holder's token: %v, %v", ok, err)
	}
	r := take(t, remote)
	if got := do(t, srv, "GET", "lt:lock:{k}"); got != r.Token() {
		t.Fatalf("after the bound Redis holds %q, want the remote waiter's %q", got, r.Token())
	}
	if r.Fence() <= prev.Fence() {
		t.Fatalf("remote fence %d not above %d", r.Fence(), prev.Fence())
	}
	select {
	case <-local[3]:
		t.Fatal("a local waiter got the lock while the remote one held it")
	case <-time.After(50 * time.Millisecond):
	}
	if err := r.Release(ctx); err != nil {
		t.Fatal(err)
	}
	a := take(t, local[3])
	if a.Fence() <= r.Fence() {
		t.Fatalf("fence %d after the remote %d", a.Fence(), r.Fence())
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	b := take(t, local[4])
	if b.Fence() != a.Fence()+1 {
		t.Fatalf("fence %d after %d: want a local handoff", b.Fence(), a.Fence())
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if v := do(t, srv, "EXISTS", "lt:lock:{k}", "lt:lock:{k}:q", "lt:lock:{k}:w"); v != "0" {
		t.Errorf("%s lock keys left, want 0", v)
	}
}

// A successor whose ttl is longer than what is left of the lease in Redis
// gets it extended first; one with a shorter ttl gets a lease that ends
// with its own ttl.
func TestLocalHandoffLease(t *testing.T) {
	l, _, srv := newLocker(t, nil)
	ctx := t.Context()
	first, err := l.Acquire(ctx, "k", 2*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	var waiting atomic.Int32
	long := make(chan *lock.Lock, 1)
	go func() {
		waiting.Add(1)
		m, err := l.Acquire(ctx, "k", time.Minute, nil)
		if err != nil {
			t.Error(err)
		}
		long <- m
	}()
	waitUntil(t, "the waiter", func() bool { return waiting.Load() == 1 })
	time.Sleep(20 * time.Millisecond)
	if err := first.Release(ctx); err != nil {
		t.Fatal(err)
	}
	m := take(t, long)
	if got := do(t, srv, "GET", "lt:lock:{k}"); got != first.Token() {
		t.Fatalf("Redis holds %q, want the first holder's token", got)
	}
	pttl, _ := strconv.Atoi(do(t, srv, "PTTL", "lt:lock:{k}"))
	if pttl < 50_000 {
		t.Fatalf("PTTL %dms: the lease was not extended for a 1m successor", pttl)
	}
	// PTTL is the expiry less Redis's clock, both whole milliseconds, and
	// Redis keeps the key until its clock passes the expiry: the key
	// lives (pttl+1)ms from now at the least.
	if end, inRedis := m.AcquiredAt().Add(m.TTL()), time.Now().Add(time.Duration(pttl+1)*time.Millisecond); end.After(inRedis) {
		t.Errorf("successor's lease ends at %v, %v after the one in Redis", end, end.Sub(inRedis))
	}
	if err := m.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// A holder in the middle of a chain of local handoffs stops past its lease:
// another Locker's waiter gets the lock once the lease ends, the stopped
// holder's Extend and Release then say ErrLockLost, the local waiters
// behind it get the lock through Redis later, and fences increase in the
// order the holders entered.
func TestPausedHolderInChain(t *testing.T) {
	l, _, srv := newLocker(t, nil)
	other := lock.New(testutil.OpenKit(t, "lt:", srv.Addr()), nil)
	defer other.Close()
	ctx := t.Context()
	const ttl = 300 * time.Millisecond
	type entry struct {
		fence      int64
		enter, out time.Time
		paused     bool
	}
	var (
		mu      sync.Mutex
		entries []entry
		wg      sync.WaitGroup
		cycles  atomic.Int32
		paused  atomic.Bool
		pausedM *lock.Lock
		remote  = make(chan *lock.Lock, 1)
	)
	record := func(e entry) {
		mu.Lock()
		entries = append(entries, e)
		mu.Unlock()
	}
	for range 4 {
		wg.Go(func() {
			for cycles.Load() < 40 {
				m, err := l.Acquire(ctx, "chain", ttl, &lock.AcquireOptions{WaitTimeout: 20 * time.Second})
				if err != nil {
					t.Errorf("Acquire: %v", err)
					return
				}
				e := entry{fence: m.Fence(), enter: time.Now()}
				n := cycles.Add(1)
				if n == 10 && paused.CompareAndSwap(false, true) {
					// The holder stops past its lease, mid-chain.
					if got := do(t, srv, "GET", "lt:lock:{chain}"); got == m.Token() {
						t.Errorf("the 10th holder's token is in Redis: not a local handoff")
					}
					mu.Lock()
					pausedM = m
					mu.Unlock()
					go func() {
						r, err := other.Acquire(ctx, "chain", time.Second, &lock.AcquireOptions{WaitTimeout: 20 * time.Second})
						if err != nil {
							t.Errorf("other Locker: %v", err)
						}
						remote <- r
					}()
					var r *lock.Lock
					select {
					case r = <-remote:
					case <-time.After(20 * time.Second):
						t.Error("the other Locker did not get the lock of a stopped holder")
						return
					}
					if r == nil {
						return
					}
					if err := m.Extend(ctx, ttl); !errors.Is(err, lock.ErrLockLost) {
						t.Errorf("stopped holder's Extend: %v, want ErrLockLost", err)
					}
					e.out, e.paused = time.Now(), true
					record(e)
					if err := m.Release(ctx); !errors.Is(err, lock.ErrLockLost) {
						t.Errorf("stopped holder's Release: %v, want ErrLockLost", err)
					}
					re := entry{fence: r.Fence(), enter: time.Now()}
					time.Sleep(5 * time.Millisecond)
					re.out = time.Now()
					record(re)
					if got := do(t, srv, "GET", "lt:lock:{chain}"); got != r.Token() {
						t.Errorf("the other Locker's lock holds %q", got)
					}
					if err := r.Release(ctx); err != nil {
						t.Errorf("other Locker's Release: %v", err)
					}
					continue
				}
				time.Sleep(time.Millisecond)
				e.out = time.Now()
				record(e)
				if err := m.Release(ctx); err != nil {
					t.Errorf("Release: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if pausedM == nil {
		t.Fatal("no holder was stopped")
	}
	select {
	case <-pausedM.Lost():
	default:
		t.Error("stopped holder's Lost() not closed")
	}
	mu.Lock()
	defer mu.Unlock()
	// Sorted by entry: fences increase; apart from the stopped holder,
	// no two sections overlap.
	for i := range entries {
		for j := range entries {
			a, b := entries[i], entries[j]
			if !a.enter.Before(b.enter) {
				continue
			}
			if a.fence >= b.fence {
				t.Errorf("fence %d entered before fence %d", a.fence, b.fence)
			}
			if !a.paused && b.enter.Before(a.out) {
				t.Errorf("section of fence %d entered before fence %d's ended", b.fence, a.fence)
			}
		}
	}
}

// Redis dies in the middle of a chain of local handoffs in Do: every fn
// that runs from then on has its ctx cancelled (cause ErrLockLost) and its
// Lock's Lost closed, and every Do returns an error.
func TestRedisDiesDuringChain(t *testing.T) {
	l, _, srv := newLocker(t, nil)
	ctx := t.Context()
	var (
		killed  atomic.Bool
		cycles  atomic.Int32
		after   atomic.Int32 // fns run after the kill
		wg      sync.WaitGroup
		lastErr = make([]error, 4)
	)
	for g := range 4 {
		wg.Go(func() {
			for {
				ran, late := false, false // late: fn ran after the kill
				err := l.Do(ctx, "chain", time.Second, func(ctx context.Context) error {
					ran = true
					m, _ := lock.FromContext(ctx)
					if cycles.Add(1) == 30 {
						srv.Kill()
						killed.Store(true)
					}
					if !killed.Load() {
						return nil
					}
					late = true
					after.Add(1)
					select {
					case <-ctx.Done():
					case <-time.After(20 * time.Second):
						t.Error("fn's ctx not cancelled 20s after Redis died")
						return nil
					}
					if cause := context.Cause(ctx); !errors.Is(cause, lock.ErrLockLost) {
						t.Errorf("ctx cause %v, want ErrLockLost", cause)
					}
					select {
					case <-m.Lost():
					default:
						t.Error("Lost() not closed")
					}
					return ctx.Err()
				})
				// (A fn that ran before the kill may see Do return after it.)
				if late && !errors.Is(err, lock.ErrLockLost) {
					t.Errorf("Do whose fn ran after the kill: %v, want ErrLockLost", err)
				}
				if !ran && err != nil {
					lastErr[g] = err
					return
				}
				if err != nil && !killed.Load() {
					t.Errorf("Do before the kill: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if after.Load() == 0 {
		t.Error("no fn ran after the kill")
	}
	for g, err := range lastErr {
		if !strings.HasPrefix(fmt.Sprint(err), "lock: acquire") {
			t.Errorf("goroutine %d ended with %v, want Acquire's error", g, err)
		}
	}
}
