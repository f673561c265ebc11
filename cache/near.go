package cache

import (
	"hash/maphash"
	mrand "math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// entry is a decoded value as the in-process tiers keep it. An entry is
// never changed once it is in a tier: a new value is a new entry.
type entry[T any] struct {
	key string // the key it is stored under in the near tier (for front)
	// gone is 1 once the near tier dropped it (see front). A plain uint32
	// used through atomic.LoadUint32/StoreUint32, not an atomic.Bool:
	// entries are built and passed by value before they enter a tier.
	gone  uint32
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

// nFront is the number of slots of the front table.
const nFront = 1024

// front is a direct-mapped table of entries in front of the near tier: a
// slot, chosen by the key's hash, holds the entry last read from the tier
// for a key with that hash. A hit there is a hash, an atomic load and a
// string compare (about a third of an otter lookup, which also hashes,
// probes and records the read for its eviction policy), and that is what
// makes a hot key cheap to read; keys that share a slot take turns in it
// and are served by the tier meanwhile.
//
// The front holds only entries that are in the tier. The tier's
// OnAtomicDeletion marks every entry it drops (invalidated, replaced,
// evicted, expired, cleared) as gone and then clears its slot; a reader
// that puts an entry in a slot checks the mark afterwards. Either the mark
// comes after that check, and the slot is cleared after the put, or the
// reader sees the mark and clears the slot itself: an entry never outlives
// its deletion from the tier, so invalidation and eviction apply to the
// front as they do to the tier. (Checking the tier instead of the mark is
// not enough: otter calls the hook before the replacing value is visible
// to readers, and a read in between still finds the old one.)
//
// Hand-written because no cache library offers such a front: otter's read
// path is already the fast general one.
type front[T any] struct {
	seed  maphash.Seed
	slots [nFront]atomic.Pointer[entry[T]]
}

func (f *front[T]) slot(key string) *atomic.Pointer[entry[T]] {
	return &f.slots[maphash.String(f.seed, key)&(nFront-1)]
}

// drop marks e gone and clears its slot if it still holds e.
func (f *front[T]) drop(e *entry[T]) {
	atomic.StoreUint32(&e.gone, 1)
	f.slot(e.key).CompareAndSwap(e, nil)
}

// frontPromote is how often (one tier hit in frontPromote+1, a power of
// two) a near hit served by the tier puts its entry in the front. A
// variable so that a test can make every hit do it.
var frontPromote uint32 = 15

// frontTouch is how often (one hit in frontTouch) a near hit is also
// passed to the tier, so that its eviction policy still sees a key served
// from the front as used.
const frontTouch = 64

// nearHit counts a near hit of key (see frontTouch).
func (c *Cache[T]) nearHit(key string) {
	if c.m.hitNear()%frontTouch == 0 {
		c.near.GetIfPresent(key)
	}
}

// newNearTier returns the near tier: a tier whose deletions clear f.
func newNearTier[T any](maxEntries int, f *front[T]) *otter.Cache[string, *entry[T]] {
	return otter.Must(&otter.Options[string, *entry[T]]{
		MaximumSize: maxEntries,
		// Runs under the tier's bucket lock: only an atomic CAS here.
		OnAtomicDeletion: func(ev otter.DeletionEvent[string, *entry[T]]) { f.drop(ev.Value) },
	})
}

// nearGet returns key's live near-cache entry.
func (c *Cache[T]) nearGet(key string) (*entry[T], bool) {
	slot := c.front.slot(key)
	if e := slot.Load(); e != nil && e.key == key && c.live(e) {
		return e, true
	}
	e, ok := c.near.GetIfPresent(key)
	if !ok {
		return nil, false
	}
	if !c.live(e) {
		c.dropExpired(c.near, key, e)
		return nil, false
	}
	// One tier hit in frontPromote+1 takes the slot: a key read often gets
	// it soon, and keys that share a slot, or a spread of keys none of
	// them hot, do not write the slot on every read (a write per read made
	// BenchmarkNearHitSpread/parallel 3x slower, the line moving between
	// cores). Then, see front: put, and check that the tier has not
	// dropped e.
	if mrand.Uint32()&frontPromote == 0 {
		slot.Store(e)
		if atomic.LoadUint32(&e.gone) == 1 {
			slot.CompareAndSwap(e, nil)
		}
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
	e.key = key
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
			// Not just after this process's own write: the invalidation
			// that write caused may come after its new last good value.
			// (A delete by another process then is seen by the next miss.)
			if !c.gen.recentlyWritten(key) {
				c.staleDeleted(key)
			}
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
	exp := now.Add(c.o.ttl) // a guess; e.exp stays 0 (see staleDeleted)
	if e.exp > 0 {
		exp = time.UnixMilli(e.exp)
	}
	e.until = exp.Add(c.o.failSafe).UnixNano()
	if e.until > now.UnixNano() {
		c.stale.Set(key, &e)
	}
}

// deleteSlack is how far before its known expiry a key must be found
// missing (or invalidated) to count as deleted rather than expired: the
// expiry this process knows may be a little later than Redis's, by the
// time its reply took to arrive.
const deleteSlack = 100 * time.Millisecond

// staleDeleted forgets key's last good value when Redis says the key is
// gone (a miss, or an invalidation of the key) before the value's expiry:
// someone deleted or replaced it, so serving it in the next outage would
// bring a deleted value back. A key that expired keeps it (that is what
// FailSafe serves). A value whose expiry this process does not know (read
// by GetMany without a near cache) is forgotten on any miss.
func (c *Cache[T]) staleDeleted(key string) {
	if c.stale == nil {
		return
	}
	e, ok := c.stale.GetIfPresent(key)
	if !ok || (e.exp > 0 && time.Now().Add(deleteSlack).UnixMilli() >= e.exp) {
		return
	}
	c.dropExpired(c.stale, key, e)
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
