package cache_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/cache"
	"github.com/redkit-go/redkit/redistest"
)

func nearOpts() *cache.Options {
	return &cache.Options{NearCache: &cache.NearCacheOptions{}}
}

// twoInstances opens two Kits (two "service instances") with the same
// prefix on addrs, and a near-cached Cache[user] named "users" on each.
func twoInstances(t *testing.T, addrs []string) (a, b *cache.Cache[user]) {
	prefix := prefixFor(t)
	ka := openKit(t, prefix, addrs, nil)
	kb := openKit(t, prefix, addrs, nil)
	a = cache.New[user](ka, "users", nearOpts())
	b = cache.New[user](kb, "users", nearOpts())
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// nearHit reads key from c and reports whether the near cache answered.
func nearHit(t *testing.T, c *cache.Cache[user], key string) (user, bool) {
	t.Helper()
	before := c.Stats().NearHits
	v, _, err := c.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v, c.Stats().NearHits > before
}

func TestNearInvalidation(t *testing.T) {
	srv := redistest.Start(t, nil)
	a, b := twoInstances(t, []string{srv.Addr()})
	testNearInvalidation(t, a, b, srv.Do)
}

// testNearInvalidation checks that b's near cache follows writes through
// a, and through do (redis-cli-like raw commands).
func testNearInvalidation(t *testing.T, a, b *cache.Cache[user], do func(...string) (string, error)) {
	ctx := t.Context()
	mustSet(t, a, "1", user{1, "v1"}, time.Minute)
	if v, hit := nearHit(t, b, "1"); hit || v.Name != "v1" {
		t.Fatalf("first Get on b = %v, near hit %v; want v1 from Redis", v, hit)
	}
	// Then from the near cache. (Eventually: on a cluster the engine may
	// drop its seed connections just after connecting, and any dropped
	// connection flushes the near cache.)
	eventually(t, "b to serve v1 from its near cache", func() bool {
		v, hit := nearHit(t, b, "1")
		return hit && v.Name == "v1"
	})
	// A hot key: enough reads that it is served from the near cache's
	// front table, which must follow the invalidations below too.
	hot := func() {
		for range 500 {
			b.Get(ctx, "1")
		}
	}
	hot()

	mustSet(t, a, "1", user{1, "v2"}, time.Minute)
	eventually(t, "b to see the write through a", func() bool {
		v, _, err := b.Get(ctx, "1")
		return err == nil && v.Name == "v2"
	})
	eventually(t, "b to near-cache v2", func() bool {
		v, hit := nearHit(t, b, "1")
		return hit && v.Name == "v2"
	})
	hot()

	if _, err := do("SET", b.Key("1"), `{"id":1,"name":"cli"}`); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b to see the write through redis-cli", func() bool {
		v, _, err := b.Get(ctx, "1")
		return err == nil && v.Name == "cli"
	})

	if _, err := a.Delete(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b to see the delete", func() bool {
		_, ok, err := b.Get(ctx, "1")
		return err == nil && !ok
	})
}

func TestNearFlushedOnKillAndRestart(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := openKit(t, prefixFor(t), []string{srv.Addr()}, func(c *redkit.Config) {
		c.Breaker.RecoveryTimeout = 200 * time.Millisecond
	})
	c := cache.New[user](k, "users", nearOpts())
	defer c.Close()
	ctx := t.Context()
	mustSet(t, c, "1", user{1, "before"}, time.Hour)
	c.Get(ctx, "1")
	if _, hit := nearHit(t, c, "1"); !hit {
		t.Fatal("no near hit before the kill")
	}
	srv.Kill()
	// The tracking connection dropped: the near cache must not answer
	// for a server it can no longer hear from.
	eventually(t, "the near cache to be flushed after the kill", func() bool {
		_, _, err := c.Get(ctx, "1")
		return err != nil
	})
	srv.Restart() // no persistence: the data is gone
	eventually(t, "the restarted, empty server to be read", func() bool {
		_, ok, err := c.Get(ctx, "1")
		return err == nil && !ok
	})

	// FLUSHALL also empties the near cache.
	mustSet(t, c, "2", user{2, "x"}, time.Hour)
	c.Get(ctx, "2")
	if _, hit := nearHit(t, c, "2"); !hit {
		t.Fatal("no near hit before FLUSHALL")
	}
	if _, err := srv.Do("FLUSHALL"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "FLUSHALL to empty the near cache", func() bool {
		_, ok, err := c.Get(ctx, "2")
		return err == nil && !ok
	})
}

func TestNearNeverOutlivesServerTTL(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Args: []string{"enable-debug-command yes"}})
	k := openKit(t, prefixFor(t), []string{srv.Addr()}, nil)
	ctx := t.Context()
	c := cache.New[user](k, "users", &cache.Options{NearCache: &cache.NearCacheOptions{TTL: time.Hour}})
	defer c.Close()

	// Active expiry off: Redis then sends no invalidation when the key
	// expires, so only the near cache's own deadline can drop it.
	if _, err := srv.Do("DEBUG", "SET-ACTIVE-EXPIRE", "0"); err != nil {
		t.Fatal(err)
	}
	mustSet(t, c, "short", user{1, "short"}, 300*time.Millisecond)
	if _, ok, _ := c.Get(ctx, "short"); !ok {
		t.Fatal("value missing right after Set")
	}
	if _, hit := nearHit(t, c, "short"); !hit {
		t.Fatal("no near hit")
	}
	time.Sleep(400 * time.Millisecond)
	if v, ok, err := c.Get(ctx, "short"); err != nil || ok {
		t.Fatalf("Get after the server TTL = %v, %v, %v; want nothing", v, ok, err)
	}

	// NearCacheOptions.TTL caps the local copy of a long-lived entry.
	c2 := cache.New[user](k, "capped", &cache.Options{NearCache: &cache.NearCacheOptions{TTL: 200 * time.Millisecond}})
	defer c2.Close()
	mustSet(t, c2, "long", user{2, "long"}, time.Hour)
	c2.Get(ctx, "long")
	if _, hit := nearHit(t, c2, "long"); !hit {
		t.Fatal("no near hit")
	}
	time.Sleep(300 * time.Millisecond)
	if _, hit := nearHit(t, c2, "long"); hit {
		t.Fatal("near hit past NearCacheOptions.TTL")
	}
}

// TestNearReadRacingWrites: readers hammer a key on one instance while
// another instance rewrites it; once the writes stop, every reader must
// converge on the last value and stay there — a read that raced an
// invalidation must not bring an older value back.
func TestNearReadRacingWrites(t *testing.T) {
	srv := redistest.Start(t, nil)
	a, b := twoInstances(t, []string{srv.Addr()})
	ctx := t.Context()
	const writes = 200
	var stop atomic.Bool
	var wg sync.WaitGroup
	for r := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, _, err := b.Get(ctx, strconv.Itoa(r%2)); err != nil {
					t.Error(err)
					return
				}
				// Leave the 2 cores to the writer and the engine now and
				// then: spinning readers would only slow the test.
				time.Sleep(20 * time.Microsecond)
			}
		}()
	}
	for i := range writes {
		for key := range 2 {
			mustSet(t, a, strconv.Itoa(key), user{i, "w"}, time.Hour)
		}
		// Some through redis-cli too.
		if i%10 == 0 {
			if _, err := srv.Do("SET", b.Key("1"), fmt.Sprintf(`{"id":%d,"name":"w"}`, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for key := range 2 {
		eventually(t, "b to converge on the last write", func() bool {
			v, _, _ := b.Get(ctx, strconv.Itoa(key))
			return v.ID == writes-1
		})
	}
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	for range 100 {
		for key := range 2 {
			if v, _, _ := b.Get(ctx, strconv.Itoa(key)); v.ID != writes-1 {
				t.Fatalf("key %d went back to %d after converging on %d", key, v.ID, writes-1)
			}
		}
	}
	if b.Stats().NearHits == 0 {
		t.Fatal("the near cache was never used")
	}
}

func TestNearReadYourWrites(t *testing.T) {
	_, k := single(t)
	ctx := t.Context()
	c := cache.New[int](k, "ryw", nearOpts())
	defer c.Close()
	for i := range 500 {
		mustSet(t, c, "k", i, time.Hour)
		if v, ok, err := c.Get(ctx, "k"); err != nil || !ok || v != i {
			t.Fatalf("Get right after Set(%d) = %d, %v, %v", i, v, ok, err)
		}
	}
}

func TestNearHitAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	_, k := single(t)
	ctx := context.Background()
	c := cache.New[user](k, "allocs", nearOpts())
	defer c.Close()
	mustSet(t, c, "hot", user{1, "hot"}, time.Hour)
	c.Get(ctx, "hot")
	allocs := testing.AllocsPerRun(1000, func() {
		if _, ok, err := c.Get(ctx, "hot"); !ok || err != nil {
			panic(fmt.Sprint(ok, err))
		}
	})
	if allocs != 0 {
		t.Fatalf("near hit: %v allocs/op; want 0", allocs)
	}
	allocs = testing.AllocsPerRun(1000, func() {
		if _, err := c.GetOrSet(ctx, "hot", func(context.Context) (user, error) { return user{}, errors.New("no") }, 0); err != nil {
			panic(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("GetOrSet near hit: %v allocs/op; want 0", allocs)
	}
}

func TestNearValueCopies(t *testing.T) {
	_, k := single(t)
	ctx := t.Context()
	c := cache.New[user](k, "copies", nearOpts())
	defer c.Close()
	mustSet(t, c, "u", user{1, "orig"}, time.Hour)
	for range 3 {
		v, _, _ := c.Get(ctx, "u")
		if v.Name != "orig" {
			t.Fatalf("Get = %v; the cached value was changed through a returned copy", v)
		}
		v.Name = "changed"
	}
}
