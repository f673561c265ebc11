package lock_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/lock"
	"github.com/redkit-go/redkit/redistest"
)

// The basic operations on a 3-master cluster, with keys spread over the
// masters, and two Lockers (two Kits) contending.
func TestCluster(t *testing.T) {
	t.Cleanup(waitEngineClosers) // registered first: runs after the Kits close
	c := redistest.StartCluster(t, 3, 0)
	k1 := testutil.OpenKit(t, "cl:", c.Addrs()...)
	k2 := testutil.OpenKit(t, "cl:", c.Addrs()...)
	if k1.Mode() != "cluster" {
		t.Fatalf("mode %q, want cluster", k1.Mode())
	}
	l1, l2 := lock.New(k1, nil), lock.New(k2, nil)
	defer l1.Close()
	defer l2.Close()
	ctx := t.Context()
	keyGet := func(key string) string {
		t.Helper()
		v, err := c.MasterFor(key).Do("GET", key)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	t.Run("AcquireReleaseExtend", func(t *testing.T) {
		masters := map[string]bool{}
		for i := range 12 {
			key := "k" + strconv.Itoa(i)
			masters[c.MasterFor("cl:lock:{"+key+"}").Addr()] = true
			m, err := l1.Acquire(ctx, key, time.Minute, nil)
			if err != nil {
				t.Fatalf("Acquire %s: %v", key, err)
			}
			if got := keyGet("cl:lock:{" + key + "}"); got != m.Token() {
				t.Fatalf("%s holds %q", key, got)
			}
			if _, err := l2.TryAcquire(ctx, key, time.Second); !errors.Is(err, lock.ErrNotAcquired) {
				t.Fatalf("TryAcquire %s while held: %v", key, err)
			}
			if err := m.Extend(ctx, 2*time.Minute); err != nil {
				t.Fatalf("Extend %s: %v", key, err)
			}
			if ok, err := l2.Release(ctx, key, "wrong"); ok || err != nil {
				t.Fatalf("Release with a wrong token: %v, %v", ok, err)
			}
			if err := m.Release(ctx); err != nil {
				t.Fatalf("Release %s: %v", key, err)
			}
			if err := m.Release(ctx); !errors.Is(err, lock.ErrLockLost) {
				t.Fatalf("second Release %s: %v", key, err)
			}
		}
		if len(masters) < 2 {
			t.Errorf("keys landed on %d masters, want a spread", len(masters))
		}
	})

	t.Run("LostLockIsNotTouched", func(t *testing.T) {
		old, err := l1.Acquire(ctx, "lost", 100*time.Millisecond, nil)
		if err != nil {
			t.Fatal(err)
		}
		cur, err := l2.Acquire(ctx, "lost", time.Minute, nil) // waits out the lease
		if err != nil {
			t.Fatal(err)
		}
		if err := old.Release(ctx); !errors.Is(err, lock.ErrLockLost) {
			t.Errorf("old Release: %v", err)
		}
		if got := keyGet("cl:lock:{lost}"); got != cur.Token() || cur.Fence() <= old.Fence() {
			t.Errorf("new holder: lock %q fence %d (old %d)", got, cur.Fence(), old.Fence())
		}
		cur.Release(ctx)
	})

	t.Run("HandoffAcrossLockers", func(t *testing.T) {
		held, err := l1.Acquire(ctx, "handoff", time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan *lock.Lock, 1)
		go func() {
			m, err := l2.Acquire(ctx, "handoff", time.Minute, nil)
			if err != nil {
				t.Error(err)
			}
			got <- m
		}()
		waitUntil(t, "the waiter to queue", func() bool {
			n, _ := c.MasterFor("cl:lock:{handoff}:q").Do("LLEN", "cl:lock:{handoff}:q")
			return n == "1"
		})
		if err := held.Release(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			if m == nil || keyGet("cl:lock:{handoff}") != m.Token() {
				t.Fatal("waiter did not get the lock")
			}
			m.Release(ctx)
		case <-time.After(20 * time.Second):
			t.Fatal("waiter not served")
		}
	})

	t.Run("MutualExclusion", func(t *testing.T) {
		kits := []*redkit.Kit{k1, k2}
		lockers := []*lock.Locker{l1, l2}
		const per = 4
		rounds := 100
		if testing.Short() {
			rounds = 10
		}
		counter := "cl:counter:{mx}"
		var (
			mu     sync.Mutex
			fences []int64
			inside int
			wg     sync.WaitGroup
		)
		for i := range 2 * per {
			l, k := lockers[i%2], kits[i%2]
			wg.Go(func() {
				for range rounds {
					m, err := l.Acquire(ctx, "mx", 30*time.Second, nil)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					inside++
					if inside > 1 {
						t.Errorf("%d holders at once", inside)
					}
					fences = append(fences, m.Fence())
					mu.Unlock()
					v, err := k.Do(ctx, k.B().Get().Key(counter).Build())
					n := int64(0)
					if err == nil {
						n, _ = v.AsInt64()
					} else if !rueidis.IsRedisNil(err) {
						t.Error(err)
					}
					if _, err := k.Do(ctx, k.B().Set().Key(counter).Value(strconv.FormatInt(n+1, 10)).Build()); err != nil {
						t.Error(err)
					}
					mu.Lock()
					inside--
					mu.Unlock()
					if err := m.Release(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if got := keyGet(counter); got != strconv.Itoa(2*per*rounds) {
			t.Errorf("counter %s, want %d", got, 2*per*rounds)
		}
		for i := 1; i < len(fences); i++ {
			if fences[i] <= fences[i-1] {
				t.Fatalf("fence %d after %d", fences[i], fences[i-1])
			}
		}
	})

	t.Run("Do", func(t *testing.T) {
		err := l1.Do(ctx, "do", 300*time.Millisecond, func(ctx context.Context) error {
			time.Sleep(time.Second)
			return ctx.Err()
		})
		if err != nil {
			t.Errorf("Do: %v", err)
		}
	})

	t.Run("RWMutex", func(t *testing.T) {
		for i := range 3 {
			rw1, rw2 := l1.RWMutex(fmt.Sprint("rw", i)), l2.RWMutex(fmt.Sprint("rw", i))
			r, err := rw1.RLock(ctx, time.Minute, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rw2.TryRLock(ctx, time.Minute); err != nil {
				t.Errorf("second reader: %v", err)
			}
			if _, err := rw2.TryLock(ctx, time.Minute); !errors.Is(err, lock.ErrNotAcquired) {
				t.Errorf("writer with readers: %v", err)
			}
			if err := r.Release(ctx); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("Semaphore", func(t *testing.T) {
		for i := range 3 {
			s1, s2 := l1.Semaphore(fmt.Sprint("sem", i), 2), l2.Semaphore(fmt.Sprint("sem", i), 2)
			a, err := s1.TryAcquire(ctx, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s2.TryAcquire(ctx, time.Minute); err != nil {
				t.Fatal(err)
			}
			if _, err := s2.TryAcquire(ctx, time.Minute); !errors.Is(err, lock.ErrNotAcquired) {
				t.Errorf("third permit of 2: %v", err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := s2.Acquire(ctx, time.Minute, nil)
				done <- err
			}()
			time.Sleep(20 * time.Millisecond)
			if err := a.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Errorf("waiter: %v", err)
			}
		}
	})
}

// waitEngineClosers waits (up to 10s) for the goroutines rueidis starts
// when a cluster topology refresh drops connections: they sleep 5s, close
// the old connections and exit. They are the engine's and bounded, but
// goleak in TestMain would report them. (internal/leaktest should ignore
// github.com/redis/rueidis.(*clusterClient)._refresh.func2.)
func waitEngineClosers() {
	buf := make([]byte, 1<<20)
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		n := runtime.Stack(buf, true)
		if !strings.Contains(string(buf[:n]), "rueidis.(*clusterClient)._refresh.func") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
