package cache

import (
	"fmt"
	"hash/maphash"
	"sync"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"
)

// The front table is process-local (no Redis behaviour involved), so
// these tests drive it directly; the cache's own tests cover it through
// Redis invalidations (near_test.go).

func newFrontCache(t *testing.T, maxEntries int) *Cache[int] {
	t.Helper()
	f := &front[int]{seed: maphash.MakeSeed()}
	c := &Cache[int]{front: f, near: newNearTier(maxEntries, f), clock: otter.NewCoarseClock(clockResolution)}
	c.o.nearTTL = time.Hour
	t.Cleanup(func() {
		c.near.StopAllGoroutines()
		c.clock.Stop()
	})
	return c
}

// put inserts v for key as nearPut does, without the invalidation guard.
func (c *Cache[T]) put(key string, v T) *entry[T] {
	e := &entry[T]{key: key, v: v, until: time.Now().Add(time.Hour).UnixNano()}
	c.near.Set(key, e)
	return e
}

// promote reads key until its entry is in the front (a tier hit takes the
// slot one time in frontPromote+1) and returns it.
func promote[T any](t *testing.T, c *Cache[T], key string) *entry[T] {
	t.Helper()
	for range 1600 {
		e, ok := c.nearGet(key)
		if !ok {
			t.Fatalf("nearGet(%q) missed", key)
		}
		if c.front.slot(key).Load() == e {
			return e
		}
	}
	t.Fatalf("%d reads of %q did not put it in the front", 1600, key)
	return nil
}

// checkFront fails t unless every entry in the front is the one the tier
// holds for its key: the invariant that makes the front safe.
func checkFront[T any](t *testing.T, c *Cache[T]) {
	t.Helper()
	for i := range c.front.slots {
		e := c.front.slots[i].Load()
		if e == nil {
			continue
		}
		cur, ok := c.near.GetEntryQuietly(e.key)
		if !ok || cur.Value != e {
			t.Fatalf("front slot %d holds an entry for %q that the tier does not (tier has it: %v)", i, e.key, ok)
		}
	}
}

func TestFrontFollowsTier(t *testing.T) {
	c := newFrontCache(t, 1000)
	e1 := c.put("a", 1)
	if got := promote(t, c, "a"); got != e1 {
		t.Fatalf("nearGet = %v; want the entry", got)
	}

	// Replaced: the front drops the old entry, the next read sees the new.
	e2 := c.put("a", 2)
	if c.front.slot("a").Load() == e1 {
		t.Fatal("the front kept a replaced entry")
	}
	if got, _ := c.nearGet("a"); got != e2 {
		t.Fatalf("after replace nearGet = %v; want the new entry", got)
	}

	// Invalidated: gone from both.
	c.near.Invalidate("a")
	if _, ok := c.nearGet("a"); ok {
		t.Fatal("nearGet found an invalidated key")
	}

	// Expired: an entry past its deadline is not served from the front.
	e := c.put("old", 3)
	promote(t, c, "old")
	e.until = time.Now().Add(-time.Second).UnixNano()
	if _, ok := c.nearGet("old"); ok {
		t.Fatal("nearGet served an expired entry")
	}

	// Cleared: InvalidateAll empties the front.
	for i := range 100 {
		k := fmt.Sprint("k", i)
		c.put(k, i)
		promote(t, c, k)
	}
	c.near.InvalidateAll()
	for i := range c.front.slots {
		if e := c.front.slots[i].Load(); e != nil {
			t.Fatalf("InvalidateAll left %q in the front", e.key)
		}
	}
}

func TestFrontFollowsEviction(t *testing.T) {
	c := newFrontCache(t, 10)
	c.put("hot", 1)
	promote(t, c, "hot")
	for i := range 1000 {
		k := fmt.Sprint("k", i)
		c.put(k, i)
		c.nearGet(k)
	}
	c.near.CleanUp()
	if n := c.near.EstimatedSize(); n > 10 {
		t.Fatalf("tier holds %d entries; want at most 10", n)
	}
	checkFront(t, c)
	filled := 0
	for i := range c.front.slots {
		if c.front.slots[i].Load() != nil {
			filled++
		}
	}
	if filled > 10 {
		t.Fatalf("front holds %d entries, more than the tier's 10", filled)
	}
}

// TestFrontRacingWrites reads keys while others replace and invalidate
// them: once everything stops, the front holds nothing the tier does not
// (a read that put an entry in the front as its deletion ran must not
// leave it there).
func TestFrontRacingWrites(t *testing.T) {
	// Every tier hit takes its slot: the most puts that can race a deletion.
	old := frontPromote
	frontPromote = 0
	defer func() { frontPromote = old }()
	c := newFrontCache(t, 64)
	keys := make([]string, 32)
	for i := range keys {
		keys[i] = fmt.Sprint("key", i)
		c.put(keys[i], i)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := keys[(g*7+i)%len(keys)]
				if e, ok := c.nearGet(k); ok && e.key != k {
					t.Errorf("nearGet(%q) returned the entry of %q", k, e.key)
					return
				}
			}
		})
	}
	for g := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := keys[(g*5+i)%len(keys)]
				if i%3 == 0 {
					c.near.Invalidate(k)
				} else {
					c.put(k, i)
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	checkFront(t, c)
}
