package lock_test

import (
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/lock"
)

func TestAcquireRelease(t *testing.T) {
	l, _, srv := newLocker(t, nil)
	ctx := t.Context()

	before := time.Now()
	m, err := l.Acquire(ctx, "orders", 10*time.Second, nil)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	// A new counter starts from the server's clock (see Lock.Fence).
	if m.Key() != "orders" || m.TTL() != 10*time.Second || m.Fence() < 1e15 {
		t.Errorf("Key, TTL, Fence = %q, %v, %d; want orders, 10s, a clock seed", m.Key(), m.TTL(), m.Fence())
	}
	if at := m.AcquiredAt(); at.Before(before) || at.After(time.Now()) {
		t.Errorf("AcquiredAt %v not within the call", at)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(m.Token())
	if err != nil || len(raw)*8 < 128 {
		t.Errorf("Token %q: %d random bits (%v), want >= 128", m.Token(), len(raw)*8, err)
	}
	if got := do(t, srv, "GET", "lt:lock:{orders}"); got != m.Token() {
		t.Errorf("lock key holds %q, want the token %q", got, m.Token())
	}
	if pttl, _ := strconv.Atoi(do(t, srv, "PTTL", "lt:lock:{orders}")); pttl <= 9000 || pttl > 10000 {
		t.Errorf("lock PTTL %d, want about 10000", pttl)
	}

	_, err = l.TryAcquire(ctx, "orders", time.Second)
	if !errors.Is(err, lock.ErrNotAcquired) || errors.Is(err, redkit.ErrUnavailable) {
		t.Errorf("TryAcquire while held: %v, want ErrNotAcquired (and not ErrUnavailable)", err)
	}
	if want := `lock: acquire "orders": lock: not acquired`; err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
	if err := m.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if got := do(t, srv, "EXISTS", "lt:lock:{orders}"); got != "0" {
		t.Errorf("lock key still exists after Release")
	}
	if err := m.Release(ctx); !errors.Is(err, lock.ErrLockLost) || errors.Is(err, redkit.ErrUnavailable) {
		t.Errorf("second Release: %v, want ErrLockLost", err)
	}

	m2, err := l.TryAcquire(ctx, "orders", time.Second)
	if err != nil {
		t.Fatalf("TryAcquire after release: %v", err)
	}
	// (Above, not next: the failed TryAcquire took a fence.)
	if m2.Fence() <= m.Fence() || m2.Token() == m.Token() {
		t.Errorf("second lock: fence %d token %q; want a fence above %d and a new token", m2.Fence(), m2.Token(), m.Fence())
	}
	if err := m2.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestReleaseExtendByToken(t *testing.T) {
	l, _, srv := newLocker(t, nil)
	ctx := t.Context()
	m, err := l.Acquire(ctx, "k", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := l.Extend(ctx, "k", "not-the-token", time.Hour); ok || err != nil {
		t.Errorf("Extend with a wrong token = %v, %v; want false, nil", ok, err)
	}
	if ok, err := l.Release(ctx, "k", "not-the-token"); ok || err != nil {
		t.Errorf("Release with a wrong token = %v, %v; want false, nil", ok, err)
	}
	if got := do(t, srv, "GET", "lt:lock:{k}"); got != m.Token() {
		t.Fatalf("a wrong token touched the lock: it holds %q", got)
	}
	if ok, err := l.Extend(ctx, "k", m.Token(), time.Minute); !ok || err != nil {
		t.Errorf("Extend = %v, %v; want true, nil", ok, err)
	}
	if pttl, _ := strconv.Atoi(do(t, srv, "PTTL", "lt:lock:{k}")); pttl < 50000 {
		t.Errorf("PTTL after Extend to 1m: %d", pttl)
	}
	if ok, err := l.Release(ctx, "k", m.Token()); !ok || err != nil {
		t.Errorf("Release = %v, %v; want true, nil", ok, err)
	}
	if ok, err := l.Release(ctx, "k", m.Token()); ok || err != nil {
		t.Errorf("Release again = %v, %v; want false, nil", ok, err)
	}
}

// A lock that expired and was taken by another holder is not touched by
// the first holder's Release or Extend, which report ErrLockLost.
func TestLostLockIsNotTouched(t *testing.T) {
	l, _, srv := newLocker(t, nil)
	ctx := t.Context()
	old, err := l.Acquire(ctx, "k", 100*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	lost := old.Lost()
	time.Sleep(150 * time.Millisecond)
	cur, err := l.Acquire(ctx, "k", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Fence() <= old.Fence() {
		t.Errorf("fence after expiry %d, not above %d", cur.Fence(), old.Fence())
	}
	if err := old.Extend(ctx, time.Hour); !errors.Is(err, lock.ErrLockLost) {
		t.Errorf("old Extend: %v, want ErrLockLost", err)
	}
	select {
	case <-lost:
	default:
		t.Error("Lost() not closed after Extend found the lock lost")
	}
	if err := old.Release(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Errorf("old Release: %v, want ErrLockLost", err)
	}
	if got := do(t, srv, "GET", "lt:lock:{k}"); got != cur.Token() {
		t.Errorf("new holder's lock holds %q, want %q", got, cur.Token())
	}
	if pttl, _ := strconv.Atoi(do(t, srv, "PTTL", "lt:lock:{k}")); pttl < 50000 {
		t.Errorf("new holder's lease was changed: PTTL %d", pttl)
	}
	select {
	case <-cur.Lost():
		t.Error("the new holder's Lost() is closed")
	default:
	}
}

// The fence counter never expires and keeps counting across expiries
// and deletions of the lock.
func TestFenceSurvivesExpiry(t *testing.T) {
	l, _, srv := newLocker(t, nil)
	ctx := t.Context()
	var last int64
	for i := range 5 {
		m, err := l.Acquire(ctx, "f", 20*time.Millisecond, nil)
		if err != nil {
			t.Fatal(err)
		}
		if m.Fence() <= last {
			t.Fatalf("acquisition %d: fence %d not above %d", i, m.Fence(), last)
		}
		last = m.Fence()
		if i%2 == 0 {
			time.Sleep(30 * time.Millisecond) // let it expire
		} else {
			do(t, srv, "DEL", "lt:lock:{f}")
		}
	}
	if got := do(t, srv, "PTTL", "lt:lock:{f}:fence"); got != "-1" {
		t.Errorf("fence counter PTTL %s, want -1 (no expiry)", got)
	}
	if got := do(t, srv, "GET", "lt:lock:{f}:fence"); got != strconv.FormatInt(last, 10) {
		t.Errorf("fence counter %s, want %d", got, last)
	}
}

func TestBadInput(t *testing.T) {
	l, _, srv := newLocker(t, nil)
	ctx := t.Context()
	if _, err := l.Acquire(ctx, "", time.Second, nil); !errors.Is(err, redkit.ErrEmptyKey) {
		t.Errorf("empty key: %v", err)
	}
	if _, err := l.TryAcquire(ctx, "k", -time.Second); !errors.Is(err, redkit.ErrNegativeTTL) {
		t.Errorf("negative ttl: %v", err)
	}
	if _, err := l.Extend(ctx, "k", "t", -1); !errors.Is(err, redkit.ErrNegativeTTL) {
		t.Errorf("Extend negative ttl: %v", err)
	}
	if _, err := l.Release(ctx, "", "t"); !errors.Is(err, redkit.ErrEmptyKey) {
		t.Errorf("Release empty key: %v", err)
	}
	do(t, srv, "HSET", "lt:lock:{h}", "a", "b")
	_, err := l.TryAcquire(ctx, "h", time.Second)
	if !errors.Is(err, redkit.ErrWrongType) || errors.Is(err, lock.ErrNotAcquired) {
		t.Errorf("lock key of the wrong type: %v, want ErrWrongType", err)
	}
	m, err := l.Acquire(ctx, "ok", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.TTL() != lock.DefaultTTL {
		t.Errorf("ttl 0 gave %v, want DefaultTTL", m.TTL())
	}
	if err := m.Extend(ctx, -1); !errors.Is(err, redkit.ErrNegativeTTL) {
		t.Errorf("Lock.Extend negative: %v", err)
	}
	l.Close()
	if _, err := l.TryAcquire(ctx, "k", time.Second); !errors.Is(err, redkit.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

func TestWaitTimeoutAndCancel(t *testing.T) {
	l, _, srv := newLocker(t, nil)
	ctx := t.Context()
	held, err := l.Acquire(ctx, "k", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	_, err = l.Acquire(ctx, "k", time.Second, &lock.AcquireOptions{WaitTimeout: 150 * time.Millisecond})
	if !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("WaitTimeout: %v, want ErrNotAcquired", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("gave up after %v, before WaitTimeout", d)
	}

	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = l.Acquire(cctx, "k", time.Second, nil)
	if !errors.Is(err, lock.ErrNotAcquired) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ctx deadline: %v, want ErrNotAcquired joined with DeadlineExceeded", err)
	}

	if _, err := l.Acquire(ctx, "k", time.Second, &lock.AcquireOptions{WaitTimeout: -1}); !errors.Is(err, lock.ErrNotAcquired) {
		t.Errorf("WaitTimeout < 0 (no wait): %v", err)
	}
	// The waiters that gave up left the queue.
	if n := do(t, srv, "LLEN", "lt:lock:{k}:q"); n != "0" {
		t.Errorf("queue length %s after the waiters gave up, want 0", n)
	}
	if n := do(t, srv, "HLEN", "lt:lock:{k}:w"); n != "0" {
		t.Errorf("waiter info count %s after the waiters gave up, want 0", n)
	}
	if err := held.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if n := do(t, srv, "EXISTS", "lt:lock:{k}"); n != "0" {
		t.Errorf("lock handed to a waiter that gave up")
	}
}

// Waiters get the lock in arrival order, handed over on release.
// Waiters queued in Redis are served in arrival order (local handoffs
// off: with them, waiters of the holder's own Locker wait in the process;
// see TestLocalHandoff).
func TestHandoffFIFO(t *testing.T) {
	l, _, srv := newLocker(t, &lock.Options{DisableLocalHandoff: true})
	ctx := t.Context()
	held, err := l.Acquire(ctx, "k", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	var (
		mu    sync.Mutex
		order []int
		wg    sync.WaitGroup
	)
	locks := make(chan *lock.Lock, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := l.Acquire(ctx, "k", time.Minute, nil)
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			locks <- m
		}()
		// Wait until waiter i is queued before starting the next.
		waitUntil(t, "waiter "+strconv.Itoa(i)+" queued", func() bool {
			return do(t, srv, "LLEN", "lt:lock:{k}:q") == strconv.Itoa(i+1)
		})
	}
	prev := held
	for range n {
		if err := prev.Release(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case prev = <-locks:
		case <-time.After(20 * time.Second):
			t.Fatal("no waiter got the released lock")
		}
		if got := do(t, srv, "GET", "lt:lock:{k}"); got != prev.Token() {
			t.Fatalf("lock holds %q, the woken waiter has %q", got, prev.Token())
		}
	}
	wg.Wait()
	if err := prev.Release(ctx); err != nil {
		t.Fatal(err)
	}
	for i, w := range order {
		if w != i {
			t.Fatalf("waiters served in order %v, want arrival order", order)
		}
	}
}

// Queue entries of dead waiters are skipped: expired ones, and on one node
// those whose channel has no subscriber.
func TestHandoffSkipsDeadWaiters(t *testing.T) {
	l, _, srv := newLocker(t, &lock.Options{DisableLocalHandoff: true})
	ctx := t.Context()
	held, err := l.Acquire(ctx, "k", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	// An expired entry, and a live one of a process that has gone.
	do(t, srv, "RPUSH", "lt:lock:{k}:q", "expired", "gone")
	do(t, srv, "HSET", "lt:lock:{k}:w", "expired", "1 60000 1 somechannel", "gone", "99999999999999 60000 1 nobody-listens")

	got := make(chan *lock.Lock, 1)
	go func() {
		m, err := l.Acquire(ctx, "k", time.Minute, nil)
		if err != nil {
			t.Errorf("live waiter: %v", err)
		}
		got <- m
	}()
	waitUntil(t, "live waiter queued", func() bool { return do(t, srv, "LLEN", "lt:lock:{k}:q") == "3" })
	if err := held.Release(ctx); err != nil {
		t.Fatal(err)
	}
	m := <-got
	if m == nil {
		t.FailNow()
	}
	if v := do(t, srv, "GET", "lt:lock:{k}"); v != m.Token() {
		t.Errorf("lock holds %q, want the live waiter's token", v)
	}
	if err := m.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if v := do(t, srv, "EXISTS", "lt:lock:{k}", "lt:lock:{k}:q", "lt:lock:{k}:w"); v != "0" {
		t.Errorf("%s lock keys left after the last release, want 0", v)
	}
}

// A holder that dies sends no notification: a waiter gets the lock by
// polling once its lease ends.
func TestWaiterPollsAfterExpiry(t *testing.T) {
	l, _, _ := newLocker(t, &lock.Options{PollInterval: 50 * time.Millisecond})
	ctx := t.Context()
	first, err := l.Acquire(ctx, "k", 200*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	m, err := l.Acquire(ctx, "k", time.Second, nil)
	if err != nil {
		t.Fatalf("waiter: %v", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("acquired after %v, before the first lease ended", d)
	}
	if m.Fence() <= first.Fence() {
		t.Errorf("fence %d, want above %d", m.Fence(), first.Fence())
	}
}

// Many goroutines of one process contend: each critical section runs alone
// and the fences follow the order of entry, with local handoffs on and off.
func TestContentionInProcess(t *testing.T) {
	for _, off := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisableLocalHandoff=%v", off), func(t *testing.T) {
			contention(t, &lock.Options{DisableLocalHandoff: off})
		})
	}
}

func contention(t *testing.T, opts *lock.Options) {
	l, _, srv := newLocker(t, opts)
	ctx := t.Context()
	do(t, srv, "CONFIG", "RESETSTAT")
	const workers, rounds = 8, 50
	var (
		mu     sync.Mutex
		inside int
		fences []int64
		wg     sync.WaitGroup
	)
	count := make([]int, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				m, err := l.Acquire(ctx, "hot", 10*time.Second, nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				inside++
				if inside != 1 {
					t.Errorf("%d holders at once", inside)
				}
				fences = append(fences, m.Fence())
				mu.Unlock()
				count[w]++
				mu.Lock()
				inside--
				mu.Unlock()
				if err := m.Release(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := 1; i < len(fences); i++ {
		if fences[i] <= fences[i-1] {
			t.Fatalf("fence %d entered after %d", fences[i], fences[i-1])
		}
	}
	if len(fences) != workers*rounds {
		t.Errorf("%d critical sections, want %d", len(fences), workers*rounds)
	}
	if v := do(t, srv, "EXISTS", "lt:lock:{hot}", "lt:lock:{hot}:q", "lt:lock:{hot}:w"); v != "0" {
		t.Errorf("%s keys left, want 0", v)
	}
	// Every handoff went to a waiter of the same Locker, which the
	// releaser wakes from the script's reply: nothing goes through pub/sub.
	for line := range strings.Lines(do(t, srv, "INFO", "commandstats")) {
		if strings.HasPrefix(line, "cmdstat_publish:") {
			t.Errorf("handoffs within one Locker published: %s", strings.TrimSpace(line))
		}
	}
}

// With local handoffs off, a waiter that arrives while its own Locker
// holds the lock parks until the holder's release queues it; one that gives up meanwhile leaves
// nothing behind, and one whose holder is slow queues itself.
func TestParkedWaiters(t *testing.T) {
	l, _, srv := newLocker(t, &lock.Options{DisableLocalHandoff: true})
	ctx := t.Context()
	held, err := l.Acquire(ctx, "k", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Millisecond)
	_, err = l.Acquire(cctx, "k", time.Minute, nil)
	cancel()
	if !errors.Is(err, lock.ErrNotAcquired) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("parked waiter that gave up: %v", err)
	}

	const n = 5
	got := make(chan *lock.Lock, n)
	for range n {
		go func() {
			m, err := l.Acquire(ctx, "k", time.Minute, nil)
			if err != nil {
				t.Error(err)
			}
			got <- m
		}()
	}
	time.Sleep(20 * time.Millisecond) // some park, some have queued themselves
	prev := held
	seen := map[int64]bool{}
	for range n {
		if err := prev.Release(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case prev = <-got:
		case <-time.After(20 * time.Second):
			t.Fatal("a waiter was not served")
		}
		if prev == nil {
			t.FailNow()
		}
		if seen[prev.Fence()] {
			t.Fatalf("fence %d twice", prev.Fence())
		}
		seen[prev.Fence()] = true
	}
	if err := prev.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if v := do(t, srv, "EXISTS", "lt:lock:{k}", "lt:lock:{k}:q", "lt:lock:{k}:w"); v != "0" {
		t.Errorf("%s lock keys left, want 0", v)
	}
}
