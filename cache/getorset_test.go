package cache_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/cache"
	"github.com/redkit-go/redkit/redistest"
)

// stampede runs n concurrent GetOrSet calls of key on caches (round
// robin) and checks they all return the loaded value.
func stampede(t *testing.T, caches []*cache.Cache[user], key string, n int, load func(context.Context) (user, error)) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := range n {
		c := caches[i%len(caches)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			v, err := c.GetOrSet(t.Context(), key, load, time.Minute)
			if err == nil && v.Name != "loaded" {
				err = fmt.Errorf("got %v", v)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("GetOrSet: %v", err)
	}
}

func countingLoad(loads *atomic.Int64, d time.Duration) func(context.Context) (user, error) {
	return func(ctx context.Context) (user, error) {
		loads.Add(1)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return user{}, ctx.Err()
		}
		return user{1, "loaded"}, nil
	}
}

func TestGetOrSetOneLoadPerProcess(t *testing.T) {
	_, k := single(t)
	for _, opts := range []*cache.Options{nil, nearOpts()} {
		name := map[bool]string{true: "plain", false: "near"}[opts == nil]
		t.Run(name, func(t *testing.T) {
			c := cache.New[user](k, name, opts)
			defer c.Close()
			var loads atomic.Int64
			stampede(t, []*cache.Cache[user]{c}, "cold", 1000, countingLoad(&loads, 100*time.Millisecond))
			if n := loads.Load(); n != 1 {
				t.Fatalf("1,000 concurrent GetOrSet on a cold key: %d loads; want 1", n)
			}
			if st := c.Stats(); st.Loads != 1 {
				t.Fatalf("Stats().Loads = %d; want 1", st.Loads)
			}
		})
	}
}

func TestGetOrSetDistributedFourKits(t *testing.T) {
	srv := redistest.Start(t, nil)
	testDistributed(t, []string{srv.Addr()})
}

func testDistributed(t *testing.T, addrs []string) {
	prefix := prefixFor(t)
	var caches []*cache.Cache[user]
	for range 4 {
		k := openKit(t, prefix, addrs, nil)
		c := cache.New[user](k, "d", &cache.Options{Stampede: cache.StampedeDistributed, NearCache: &cache.NearCacheOptions{}})
		defer c.Close()
		caches = append(caches, c)
	}
	var loads atomic.Int64
	stampede(t, caches, "cold", 1000, countingLoad(&loads, 200*time.Millisecond))
	if n := loads.Load(); n != 1 {
		t.Fatalf("1,000 GetOrSet over 4 Kits with StampedeDistributed: %d loads; want 1", n)
	}
}

func TestGetOrSetDistributedWaitIsBounded(t *testing.T) {
	srv, k := single(t)
	c := cache.New[user](k, "d", &cache.Options{Stampede: cache.StampedeDistributed, LockTTL: time.Minute, LockWait: 300 * time.Millisecond})
	defer c.Close()
	// A holder that died mid-load: its lock stays until LockTTL.
	if _, err := srv.Do("SET", k.Key("d#lock:k"), "dead-holder", "PX", "60000"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var loads atomic.Int64
	v, err := c.GetOrSet(t.Context(), "k", countingLoad(&loads, 0), 0)
	if err != nil || v.Name != "loaded" || loads.Load() != 1 {
		t.Fatalf("GetOrSet behind a dead lock holder = %v, %v (%d loads); want the loaded value", v, err, loads.Load())
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("GetOrSet took %v; want it to wait about LockWait (300ms) for the holder first", d)
	}
}

// Multi-process stampede: the test binary re-runs itself as helpers.
const (
	envHelper = "REDKIT_CACHE_HELPER"
	envAddr   = "REDKIT_CACHE_ADDR"
	envPrefix = "REDKIT_CACHE_PREFIX"
)

// helperMain runs a helper role when the environment asks for one, and
// reports whether it did (TestMain then returns).
func helperMain() bool {
	if os.Getenv(envHelper) != "distributed" {
		return false
	}
	if err := distributedHelper(os.Getenv(envAddr), os.Getenv(envPrefix)); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	return true
}

// distributedHelper waits for the "go" key, then GetOrSets one key with
// 50 goroutines; its loader counts loads in Redis.
func distributedHelper(addr, prefix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k, err := redkit.Open(ctx, redkit.Config{Addrs: []string{addr}, KeyPrefix: prefix})
	if err != nil {
		return err
	}
	defer k.Close()
	c := cache.New[string](k, "d", &cache.Options{Stampede: cache.StampedeDistributed})
	defer c.Close()
	loads := cache.NewCounter(k, "loads")
	for {
		if _, err := k.Do(ctx, k.B().Get().Key(k.Key("go")).Build()); err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(5 * time.Millisecond)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := c.GetOrSet(ctx, "cold", func(ctx context.Context) (string, error) {
				if _, err := loads.Incr(ctx, "n", 1); err != nil {
					return "", err
				}
				time.Sleep(300 * time.Millisecond)
				return "loaded", nil
			}, time.Minute)
			if err == nil && v != "loaded" {
				err = fmt.Errorf("got %q", v)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	fmt.Println("helper ok")
	return nil
}

func TestGetOrSetDistributedProcesses(t *testing.T) {
	srv := redistest.Start(t, nil)
	prefix := prefixFor(t)
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for range 4 {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envHelper+"=distributed", envAddr+"="+srv.Addr(), envPrefix+"="+prefix)
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		outs = append(outs, out)
	}
	// Start all four at once: each waits for this key.
	if _, err := srv.Do("SET", prefix+"go", "1"); err != nil {
		t.Fatal(err)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil || !strings.Contains(outs[i].String(), "helper ok") {
			t.Fatalf("helper %d: %v\n%s", i, err, outs[i])
		}
	}
	if n, err := srv.Do("GET", prefix+"loads:n"); err != nil || n != "1" {
		t.Fatalf("loads across 4 processes = %q, %v; want 1", n, err)
	}
}

func TestNegativeCaching(t *testing.T) {
	_, k := single(t)
	ctx := t.Context()
	c := cache.New[int](k, "neg", &cache.Options{NegativeTTL: 300 * time.Millisecond, NearCache: &cache.NearCacheOptions{}})
	defer c.Close()
	var loads atomic.Int64
	missing := func(context.Context) (int, error) {
		loads.Add(1)
		return 0, fmt.Errorf("user 9: %w", redkit.ErrNotFound)
	}
	for range 3 {
		if _, err := c.GetOrSet(ctx, "9", missing, 0); !errors.Is(err, redkit.ErrNotFound) {
			t.Fatalf("GetOrSet with a not-found loader: err = %v; want ErrNotFound", err)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Fatalf("loader called %d times within NegativeTTL; want 1", n)
	}
	if v, ok, err := c.Get(ctx, "9"); err != nil || ok || v != 0 {
		t.Fatalf("Get of a remembered not-found = %v, %v, %v; want 0, false, nil", v, ok, err)
	}
	if ok, err := c.Exists(ctx, "9"); err != nil || ok {
		t.Fatalf("Exists of a remembered not-found = %v, %v; want false", ok, err)
	}
	eventually(t, "NegativeTTL to pass", func() bool {
		c.GetOrSet(ctx, "9", missing, 0)
		return loads.Load() > 1
	})

	// A stored zero value is a value, not "not found".
	zero := func(context.Context) (int, error) { return 0, nil }
	if v, err := c.GetOrSet(ctx, "0", zero, 0); err != nil || v != 0 {
		t.Fatalf("GetOrSet(zero) = %v, %v", v, err)
	}
	if v, ok, err := c.Get(ctx, "0"); err != nil || !ok || v != 0 {
		t.Fatalf("Get of a stored 0 = %v, %v, %v; want 0, true, nil", v, ok, err)
	}
	if ok, _ := c.Exists(ctx, "0"); !ok {
		t.Fatal("Exists of a stored 0 = false")
	}

	// Without NegativeTTL, not found is not remembered.
	c2 := cache.New[int](k, "noneg", nil)
	defer c2.Close()
	loads.Store(0)
	for range 3 {
		c2.GetOrSet(ctx, "9", missing, 0)
	}
	if n := loads.Load(); n != 3 {
		t.Fatalf("without NegativeTTL the loader ran %d times; want 3", n)
	}
}

func TestEarlyRefresh(t *testing.T) {
	_, k := single(t)
	for _, near := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "near"}[near]
		t.Run(name, func(t *testing.T) {
			opts := &cache.Options{EarlyRefresh: 2}
			if near {
				opts.NearCache = &cache.NearCacheOptions{}
			}
			c := cache.New[user](k, name, opts)
			defer c.Close()
			var loads atomic.Int64
			load := countingLoad(&loads, 50*time.Millisecond)
			const ttl = time.Second
			// Steady reads for 3 TTLs. Without early refresh each TTL
			// would end in a miss and a load; with XFetch the entry is
			// reloaded in the background before it expires, so reads keep
			// hitting. (XFetch is random: on a very busy machine one
			// refresh may come too late, so the test asks for most, not
			// all, reloads to be early.)
			end := time.Now().Add(3 * ttl)
			for time.Now().Before(end) {
				if _, err := c.GetOrSet(t.Context(), "hot", load, ttl); err != nil {
					t.Fatal(err)
				}
				time.Sleep(3 * time.Millisecond)
			}
			st := c.Stats()
			t.Logf("Stats = %+v", st)
			if st.Loads < 3 {
				t.Fatalf("Stats = %+v; want at least 3 loads over 3 TTLs", st)
			}
			if early := st.Loads - st.Misses; early < st.Loads/2 {
				t.Fatalf("Stats = %+v; want most loads to be early refreshes, not misses after expiry", st)
			}
		})
	}
}

func TestFailSafe(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := openKit(t, prefixFor(t), []string{srv.Addr()}, func(c *redkit.Config) {
		c.Breaker.RecoveryTimeout = 200 * time.Millisecond
		c.CommandTimeout = time.Second
	})
	ctx := t.Context()
	c := cache.New[user](k, "fs", &cache.Options{FailSafe: time.Hour, NearCache: &cache.NearCacheOptions{}})
	defer c.Close()
	var version atomic.Int64
	load := func(context.Context) (user, error) {
		return user{int(version.Add(1)), "fresh"}, nil
	}
	if v, err := c.GetOrSet(ctx, "k", load, 300*time.Millisecond); err != nil || v.ID != 1 {
		t.Fatalf("first GetOrSet = %v, %v", v, err)
	}
	// The loader fails: the last good value is served, counted.
	time.Sleep(400 * time.Millisecond)
	failing := func(context.Context) (user, error) { return user{}, errors.New("database down") }
	if v, err := c.GetOrSet(ctx, "k", failing, 300*time.Millisecond); err != nil || v.ID != 1 {
		t.Fatalf("GetOrSet with a failing loader = %v, %v; want the stale value 1", v, err)
	}
	if st := c.Stats(); st.StaleServed != 1 || st.LoadErrors != 1 {
		t.Fatalf("Stats = %+v; want 1 stale served, 1 load error", st)
	}

	// Redis down: stale too, from GetOrSet and Get.
	srv.Kill()
	for range 20 {
		v, err := c.GetOrSet(ctx, "k", load, 300*time.Millisecond)
		if err != nil || v.ID != 1 {
			t.Fatalf("GetOrSet with Redis down = %v, %v; want the stale value 1", v, err)
		}
		if v, ok, err := c.Get(ctx, "k"); err != nil || !ok || v.ID != 1 {
			t.Fatalf("Get with Redis down = %v, %v, %v; want the stale value 1", v, ok, err)
		}
	}
	if st := c.Stats(); st.StaleServed < 40 {
		t.Fatalf("Stats = %+v; want at least 40 stale served", st)
	}
	// And without fail-safe, the outage is an error.
	plain := cache.New[user](k, "plain", nil)
	defer plain.Close()
	if _, err := plain.GetOrSet(ctx, "k", load, 0); !errors.Is(err, redkit.ErrUnavailable) {
		t.Fatalf("GetOrSet without FailSafe, Redis down: err = %v; want ErrUnavailable", err)
	}

	srv.Restart()
	eventually(t, "a fresh value after Redis returned", func() bool {
		v, err := c.GetOrSet(ctx, "k", load, time.Minute)
		return err == nil && v.ID > 1
	})
	// Deleting forgets the last good value.
	if _, err := c.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetOrSet(ctx, "k", failing, 0); err == nil || !strings.Contains(err.Error(), "database down") {
		t.Fatalf("GetOrSet after Delete with a failing loader: err = %v; want the loader's error", err)
	}
}

// TestServerKilledUnderLoad: readers keep calling GetOrSet while the
// server dies and returns. They get stale values meanwhile, the breaker
// opens, and fresh values flow again after the restart, on the same Kit.
func TestServerKilledUnderLoad(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := openKit(t, prefixFor(t), []string{srv.Addr()}, func(c *redkit.Config) {
		c.Breaker.FailureThreshold = 5
		c.Breaker.RecoveryTimeout = 200 * time.Millisecond
		c.CommandTimeout = time.Second
	})
	ctx := t.Context()
	c := cache.New[int](k, "load", &cache.Options{FailSafe: time.Hour})
	defer c.Close()
	var gen atomic.Int64
	gen.Store(1)
	load := func(context.Context) (int, error) { return int(gen.Load()), nil }
	keys := []string{"a", "b", "c", "d"}
	for _, key := range keys {
		if _, err := c.GetOrSet(ctx, key, load, 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	var stop atomic.Bool
	var errCount, fresh atomic.Int64
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				v, err := c.GetOrSet(ctx, keys[i%len(keys)], load, 200*time.Millisecond)
				if err != nil {
					errCount.Add(1)
				} else if v == 2 {
					fresh.Add(1)
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	srv.Kill()
	eventually(t, "the breaker to open", func() bool { return k.Stats().BreakerOpens > 0 })
	time.Sleep(300 * time.Millisecond) // entries expire meanwhile: stale only
	stale := c.Stats().StaleServed
	if stale == 0 {
		t.Fatal("no stale values served while Redis was down")
	}
	gen.Store(2)
	srv.Restart()
	eventually(t, "fresh values after the restart", func() bool { return fresh.Load() > 100 })
	stop.Store(true)
	wg.Wait()
	if n := errCount.Load(); n != 0 {
		t.Fatalf("%d GetOrSet calls failed; fail-safe should have served every one", n)
	}
}

// TestFailSafeForgetsDeleted: a value another instance deleted is not
// served as stale in the next outage, whether this process saw the
// delete as a miss (plain) or as an invalidation (near cache).
func TestFailSafeForgetsDeleted(t *testing.T) {
	for _, near := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "near"}[near]
		t.Run(name, func(t *testing.T) {
			srv := redistest.Start(t, nil)
			prefix := prefixFor(t)
			tweak := func(c *redkit.Config) { c.CommandTimeout = time.Second }
			ka := openKit(t, prefix, []string{srv.Addr()}, tweak)
			kb := openKit(t, prefix, []string{srv.Addr()}, tweak)
			opts := &cache.Options{FailSafe: time.Hour}
			if near {
				opts.NearCache = &cache.NearCacheOptions{}
			}
			a := cache.New[user](ka, "fs", opts)
			defer a.Close()
			b := cache.New[user](kb, "fs", nil)
			defer b.Close()
			ctx := t.Context()
			mustSet(t, b, "k", user{1, "old"}, time.Minute)
			if v, ok, err := a.Get(ctx, "k"); err != nil || !ok || v.Name != "old" {
				t.Fatalf("a.Get = %v, %v, %v; want old", v, ok, err)
			}
			if _, err := b.Delete(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "a.Get to say not found", func() bool {
				_, ok, err := a.Get(ctx, "k")
				return err == nil && !ok
			})
			srv.Kill()
			// ErrUnavailable, or (near) the tracking cache's "not found"
			// answered before the dropped connection is noticed: anything
			// but the deleted value.
			v, ok, err := a.Get(ctx, "k")
			if ok || (err != nil && !errors.Is(err, redkit.ErrUnavailable)) {
				t.Fatalf("a.Get of a deleted key, Redis down = %v, %v, %v; want not found or ErrUnavailable, not the deleted value", v, ok, err)
			}
			if st := a.Stats(); st.StaleServed != 0 {
				t.Fatalf("Stats().StaleServed = %d; want 0", st.StaleServed)
			}
		})
	}
}

// A request-scoped caller gets the last good value before its deadline
// when Redis does not answer in time (FailSafe's soft timeout), not
// context.DeadlineExceeded; a caller without a deadline still gets it
// after CommandTimeout.
func TestFailSafeSoftTimeout(t *testing.T) {
	srv := redistest.Start(t, nil)
	p := redistest.NewProxy(t, srv.Addr())
	k := openKit(t, "soft:", []string{p.Addr()}, func(c *redkit.Config) { c.CommandTimeout = 10 * time.Second })
	c := cache.New[string](k, "c", &cache.Options{FailSafe: time.Minute, TTL: time.Minute})
	defer c.Close()
	if err := c.Set(t.Context(), "k", "good", 0); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Get(t.Context(), "k"); err != nil || !ok || v != "good" {
		t.Fatalf("Get = %q, %v, %v", v, ok, err)
	}
	p.Blackhole(true)
	defer p.Blackhole(false)
	// The soft timeout leaves the caller 50ms to take the stale value. A
	// machine so loaded that this goroutine is not scheduled for longer
	// than that misses the caller's deadline through no fault of the
	// cache: such an attempt is repeated, not failed.
	for _, name := range []string{"Get", "GetOrSet"} {
		served := false
		for attempt := 0; attempt < 5 && !served; attempt++ {
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			var v string
			var err error
			if name == "Get" {
				v, _, err = c.Get(ctx, "k")
			} else {
				v, err = c.GetOrSet(ctx, "k", func(context.Context) (string, error) { return "loaded", nil }, 0)
			}
			late := ctx.Err()
			cancel()
			if late != nil {
				t.Logf("%s: attempt %d came back after the caller's deadline (a loaded machine); again", name, attempt)
				continue
			}
			if err != nil || v != "good" {
				t.Fatalf("%s with a 300ms deadline on a blackholed Redis = %q, %v; want the last good value", name, v, err)
			}
			served = true
		}
		if !served {
			t.Fatalf("%s never came back before the caller's deadline", name)
		}
	}
	if s := c.Stats(); s.SoftTimeouts < 2 || s.StaleServed < 2 {
		t.Errorf("Stats = %+v, want at least 2 soft timeouts and 2 stale values served", s)
	}
}
