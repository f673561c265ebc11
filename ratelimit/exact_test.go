package ratelimit_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/ratelimit"
	"github.com/redkit-go/redkit/redistest"
)

func TestExactness(t *testing.T) {
	srv := redistest.Start(t, nil)
	testExactness(t, func() *redkit.Kit { return testutil.OpenKit(t, "rl:", srv.Addr()) })
}

// redisTime reads Redis's clock, in µs.
func redisTime(t testing.TB, k *redkit.Kit) int64 {
	t.Helper()
	v, err := k.Do(t.Context(), k.B().Time().Build())
	if err != nil {
		t.Fatal(err)
	}
	a, err := v.AsStrSlice()
	if err != nil || len(a) != 2 {
		t.Fatalf("TIME: %v %v", a, err)
	}
	s, _ := strconv.ParseInt(a[0], 10, 64)
	us, _ := strconv.ParseInt(a[1], 10, 64)
	return s*1e6 + us
}

// testExactness runs 4 Kits (each a Limiter of its own, as 4 processes
// would) × 4 goroutines on one key for 2s: the fleet gets the burst plus
// one event per interval of Redis's clock, ± 1.
func testExactness(t *testing.T, open func() *redkit.Kit) {
	const (
		kits, goroutines = 4, 4
		run              = 2 * time.Second
	)
	// 100/s: an event every 10ms. The burst of 50 (500ms) absorbs stalls
	// of the whole client on a loaded machine: capacity not taken is kept
	// up to the burst, so only a stall over 500ms could lose any.
	lim := ratelimit.Limit{Rate: 100, Period: time.Second, Burst: 50}
	var ls []*ratelimit.Limiter
	var ks []*redkit.Kit
	for range kits {
		k := open()
		ks = append(ks, k)
		ls = append(ls, newLimiter(t, k, "exact", nil))
	}
	key := "hot-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	var allowed, refused, full atomic.Int64
	// Local ns: the first reply and the last call sent. The first script
	// ran before the first reply, the last one after the last send.
	var firstReply, lastSend atomic.Int64
	firstReply.Store(1<<63 - 1)
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, kits*goroutines)
	for _, l := range ls {
		for range goroutines {
			wg.Go(func() {
				<-start
				end := time.Now().Add(run)
				for time.Now().Before(end) {
					sent := time.Now().UnixNano()
					for v := lastSend.Load(); sent > v && !lastSend.CompareAndSwap(v, sent); v = lastSend.Load() {
					}
					r, err := l.Allow(context.Background(), key, lim)
					got := time.Now().UnixNano()
					for v := firstReply.Load(); got < v && !firstReply.CompareAndSwap(v, got); v = firstReply.Load() {
					}
					if err != nil {
						errs <- err
						return
					}
					if r.Fallback {
						t.Error("a fallback decided during the exactness run")
					}
					if r.Allowed {
						allowed.Add(1)
						if r.Remaining == lim.Burst-1 {
							full.Add(1) // the burst was full: capacity may have been lost
						}
					} else {
						refused.Add(1)
					}
				}
			})
		}
	}
	t0 := redisTime(t, ks[0])
	close(start)
	wg.Wait()
	t1 := redisTime(t, ks[0])
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	interval := int64(10_000) // µs
	elapsed := t1 - t0
	// The scripts ran within [t0, t1] of Redis's clock, and over at least
	// lastSend - firstReply: the bounds of what GCRA may allow.
	within := (lastSend.Load() - firstReply.Load()) / 1000
	upper := int64(lim.Burst) + elapsed/interval + 1
	lower := int64(lim.Burst) + within/interval - 1
	got := allowed.Load()
	t.Logf("allowed %d, refused %d; scripts within %v of Redis time, over at least %v: bounds [%d, %d]",
		got, refused.Load(), time.Duration(elapsed)*time.Microsecond, time.Duration(within)*time.Microsecond, lower, upper)
	if got > upper {
		t.Errorf("allowed %d > burst + rate × elapsed + 1 = %d", got, upper)
	}
	// Unused capacity is kept up to the burst: only a stall of every
	// client longer than the burst's 500ms loses any, and then the burst
	// is full again at the next call.
	switch {
	case full.Load() > 1:
		t.Logf("the clients stalled for over 500ms %d times (a loaded machine): lower bound not checked", full.Load()-1)
	case got < lower:
		t.Errorf("allowed %d < burst + rate × elapsed - 1 = %d", got, lower)
	}
	if refused.Load() == 0 {
		t.Errorf("nothing refused: the limit was never reached")
	}
	var sum int64
	for _, l := range ls {
		s := l.Stats()
		sum += s.Allowed
	}
	if sum != got {
		t.Errorf("Stats().Allowed summed over the limiters = %d; want %d", sum, got)
	}
}

// TestCluster runs the cluster cases on one 3-master cluster.
func TestCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0)
	t.Run("Exactness", func(t *testing.T) {
		testExactness(t, func() *redkit.Kit { return testutil.OpenKit(t, "rl:", cl.Addrs()...) })
	})
	t.Run("AllowAll", func(t *testing.T) {
		k := testutil.OpenKit(t, "rl:", cl.Addrs()...)
		testAllowAll(t, newLimiter(t, k, "api", nil), func(key string) string {
			rk := "rl:ratelimit:api:" + redkit.HashTag(key)
			v, err := cl.MasterFor(rk).Do("GET", rk)
			if err != nil {
				t.Fatal(err)
			}
			return v
		})
	})
	t.Run("AllSlots", func(t *testing.T) {
		for _, m := range cl.Masters() {
			if _, err := m.Do("FLUSHALL"); err != nil {
				t.Fatal(err)
			}
		}
		k := testutil.OpenKit(t, "rl-slots:", cl.Addrs()...)
		l := newLimiter(t, k, "users", nil)
		// One user per slot: the key of user i is l.Key("u"+i).
		users := make([]string, 0, 16384)
		seen := make([]bool, 16384)
		for i := 0; len(users) < 16384; i++ {
			u := "u" + strconv.Itoa(i)
			if s := redkit.Slot(l.Key(u)); !seen[s] {
				seen[s] = true
				users = append(users, u)
			}
		}
		short, long := ratelimit.Limit{Rate: 2, Period: time.Hour}, ratelimit.PerHour(100)
		var wg sync.WaitGroup
		var bad atomic.Int64
		for g := range 16 {
			wg.Go(func() {
				for i := g; i < len(users); i += 16 {
					for j := range 3 {
						r, err := l.AllowAll(t.Context(), users[i], short, long)
						if err != nil {
							t.Error(err)
							return
						}
						if r.Allowed != (j < 2) {
							bad.Add(1)
						}
					}
				}
			})
		}
		wg.Wait()
		if n := bad.Load(); n != 0 {
			t.Errorf("%d decisions wrong (want 2 allowed then 1 refused per user)", n)
		}
		var total int
		for _, m := range cl.Masters() {
			n, err := m.Do("DBSIZE")
			if err != nil {
				t.Fatal(err)
			}
			c, _ := strconv.Atoi(n)
			if c == 0 {
				t.Errorf("master %s holds no limiter key", m.Addr())
			}
			total += c
		}
		if total != len(users) {
			t.Errorf("%d keys in the cluster; want one per user, %d", total, len(users))
		}
		if s := l.Stats(); s.Allowed != 2*16384 || s.Refused != 16384 {
			t.Errorf("Stats %+v; want %d allowed, %d refused", s, 2*16384, 16384)
		}
	})
}
