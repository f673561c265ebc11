package cache

import (
	"hash/maphash"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// entry is a decoded value as the in-process tiers keep it.
type entry[T any] struct {
	v     T
	neg   bool  // a remembered "not found" (NegativeTTL)
	exp   int64 // expiry in Redis, Unix ms; 0 when unknown or none
	delta int64 // duration of the load that produced it, ns; 0 when unknown
	until int64 // local deadline, Unix ns
}

// clockResolution is how often the in-process tiers read the time. A
// clock read per lookup was a fifth of a near hit's cost; entries are
// expired up to this much early (never late) instead.
const clockResolution = 5 * time.Millisecond

// newTier returns an otter cache bounded by size. Expiry is checked by
// the cache itself (live), not by otter: otter's expiring variant doubled
// the cost of a hit (measured: ~40ns without, ~70-100ns with, on the
// 2-core machine). Expired entries are never served and are dropped when
// seen, replaced, or evicted by size.
func newTier[T any](maxEntries int) *otter.Cache[string, *entry[T]] {
	return otter.Must(&otter.Options[string, *entry[T]]{MaximumSize: maxEntries})
}

// live reports whether e may still be served: the coarse clock lags the
// real time by up to its resolution, so an entry is live only while even
// the latest possible real time is before its deadline.
func (c *Cache[T]) live(e *entry[T]) bool {
	return c.clock.NowNano()+int64(clockResolution) < e.until
}

// nearGet returns key's live near-cache entry.
func (c *Cache[T]) nearGet(key string) (*entry[T], bool) {
	e, ok := c.near.GetIfPresent(key)
	if !ok {
		return nil, false
	}
	if !c.live(e) {
		c.dropExpired(c.near, key, e)
		return nil, false
	}
	return e, true
}

// dropExpired removes key from t if it still holds the expired e (a newer
// entry put meanwhile stays).
func (c *Cache[T]) dropExpired(t *otter.Cache[string, *entry[T]], key string, e *entry[T]) {
	t.ComputeIfPresent(key, func(old *entry[T]) (*entry[T], otter.ComputeOp) {
		if old == e {
			return nil, otter.InvalidateOp
		}
		return old, otter.CancelOp
	})
}

// nStripes is the number of generation counters; keys share them by hash.
const nStripes = 1024

// writeWindow is how long after this process wrote a key its reads skip
// values the engine's tracking cache already held: the server's
// invalidation of that cached copy follows the write's reply on the wire,
// and a read may run in between.
const writeWindow = time.Second

// gens guards the near cache against a read that races an invalidation:
// a reader takes a token before it asks Redis and, after inserting what
// Redis answered, compares it with a fresh one; an invalidation bumps the
// key's counter before it deletes the key's entry. So either the reader
// sees the bump and removes its entry, or the invalidation comes after the
// insert and removes it itself: an old value never outlives an
// invalidation. Counters are striped by key hash (fixed memory); keys
// sharing a stripe only cost each other a missed insert.
type gens struct {
	seed    maphash.Seed
	all     atomic.Uint64 // bumped when everything is flushed
	stripes [nStripes]atomic.Uint64
	written [nStripes]atomic.Int64 // Unix ns of this process's last write
}

func (g *gens) stripe(key string) *atomic.Uint64 {
	return &g.stripes[maphash.String(g.seed, key)&(nStripes-1)]
}

// wrote records that this process just wrote key.
func (g *gens) wrote(key string) {
	g.written[maphash.String(g.seed, key)&(nStripes-1)].Store(time.Now().UnixNano())
}

// recentlyWritten reports whether this process wrote key (or a key
// sharing its stripe) within writeWindow.
func (g *gens) recentlyWritten(key string) bool {
	w := g.written[maphash.String(g.seed, key)&(nStripes-1)].Load()
	return w != 0 && time.Now().UnixNano()-w < int64(writeWindow)
}

// token is the sum of two monotonic counters: it changes whenever either
// changes.
func (g *gens) token(key string) uint64 { return g.stripe(key).Load() + g.all.Load() }
func (g *gens) bump(key string)         { g.stripe(key).Add(1) }
func (g *gens) bumpAll()                { g.all.Add(1) }

// nearPut inserts e for key unless an invalidation happened since tok was
// taken (see gens).
func (c *Cache[T]) nearPut(key string, e entry[T], tok uint64) {
	now := time.Now()
	e.until = now.Add(c.o.nearTTL).UnixNano()
	if e.exp > 0 {
		if srv := e.exp * int64(time.Millisecond); srv < e.until {
			e.until = srv
		}
	}
	if e.until <= now.UnixNano() || c.gen.token(key) != tok {
		return
	}
	c.near.Set(key, &e)
	if c.gen.token(key) != tok {
		c.near.Invalidate(key)
	}
}

// invalidateLocal drops key from the near tier at once (before Redis's
// own invalidation arrives), so the process reads its own writes. Writers
// call it before and after the write.
func (c *Cache[T]) invalidateLocal(key string) {
	if c.near == nil {
		return
	}
	c.gen.bump(key)
	c.gen.wrote(key)
	c.near.Invalidate(key)
}

// onInvalidate is the Kit's tracking callback: keys Redis says changed, or
// nil when the tracking connection dropped or the server was flushed. It
// runs on the engine's connection goroutine, so it only bumps counters and
// deletes entries.
func (c *Cache[T]) onInvalidate(keys []string) {
	if keys == nil {
		c.gen.bumpAll()
		c.near.InvalidateAll()
		return
	}
	for _, full := range keys {
		if len(full) > len(c.prefix) && full[:len(c.prefix)] == c.prefix {
			key := full[len(c.prefix):]
			c.gen.bump(key)
			c.near.Invalidate(key)
		}
	}
}

// stalePut remembers e as key's last good value for FailSafe.
func (c *Cache[T]) stalePut(key string, e entry[T]) {
	if c.stale != nil && !e.neg {
		// A separate function: its e is moved to the heap, which costs
		// an allocation even when there is nothing to store.
		c.stalePutAlways(key, e)
	}
}

func (c *Cache[T]) stalePutAlways(key string, e entry[T]) {
	now := time.Now()
	exp := now.Add(c.o.ttl)
	if e.exp > 0 {
		exp = time.UnixMilli(e.exp)
	}
	e.until = exp.Add(c.o.failSafe).UnixNano()
	if e.until > now.UnixNano() {
		c.stale.Set(key, &e)
	}
}

// staleGet returns key's last good value, if FailSafe is on and it is
// recent enough, counting it as served.
func (c *Cache[T]) staleGet(key string) (T, bool) {
	if c.stale != nil {
		if e, ok := c.stale.GetIfPresent(key); ok {
			if c.live(e) {
				c.m.staleServed.Add(1)
				return c.out(e.v), true
			}
			c.dropExpired(c.stale, key, e)
		}
	}
	var zero T
	return zero, false
}
