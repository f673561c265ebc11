package cache

import (
	"context"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/sync/singleflight"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/codec"
	"github.com/redkit-go/redkit/internal/engine"
)

// ErrValueTooLarge is returned (wrapped, with the key) by the calls that
// store a value whose encoded form is larger than the server accepts
// (its proto-max-bulk-len, 512 MiB by default). Nothing is sent. It is
// redkit.ErrValueTooLarge: the Kit refuses such a value for every write.
var ErrValueTooLarge = redkit.ErrValueTooLarge

// negMarker is what a remembered "not found" stores in Redis. It is
// codec.Marker followed by a compression byte no Format uses, so no
// stored value can equal it: Encode frames any raw value that starts with
// the marker.
const negMarker = codec.Marker + "\xfe"

// Cache is a typed cache of values of type T in Redis, under keys
// prefix + name + ":" + key, with an optional in-process near cache,
// stampede control, early refresh and fail-safe (see Options).
//
// Values are encoded with the Kit's codec (or Options.Codec); string and
// []byte values are stored raw. Values returned are copies of what the
// cache holds for value types (and a fresh slice for T = []byte), but
// values that contain pointers, maps or slices share them with the near
// cache and with other callers: do not mutate what they point to.
//
// A Cache is safe for concurrent use. Close it when done if it has a near
// cache, FailSafe or EarlyRefresh (it then owns a registration and
// goroutines); Close is harmless otherwise.
type Cache[T any] struct {
	k      *redkit.Kit
	st     *engine.Hooks
	name   string
	prefix string // prefix + name + ":"
	side   string // prefix + name + "#": lock, meta and tag keys
	o      options
	format codec.Format
	bytesT bool // T is []byte: hand out copies

	near  *otter.Cache[string, *entry[T]]
	stale *otter.Cache[string, *entry[T]]
	clock *otter.CoarseClock
	gen   *gens
	front *front[T] // in front of near (see front)

	sf         singleflight.Group
	fills      *[nFills]atomic.Uint64 // see mustRecheck
	fillSeed   maphash.Seed
	refreshing sync.Map // key -> struct{}: early refreshes in flight

	m counters

	base       context.Context // cancelled by Close: background loads
	cancelBase context.CancelFunc
	mu         sync.RWMutex // closed vs wg.Add
	closed     atomic.Bool
	wg         sync.WaitGroup
	unsub      func()
	closeOnce  sync.Once
}

// New returns the cache named name on k: its keys are k.Key(name, key),
// with any ':', '#' and '%' in name written as %3A, %23 and %25 (see
// keyName), so that no two caches share a key.
// Options may be nil (see Options for the defaults). It does no I/O.
//
// New panics if k is nil, name is empty, opts.Validate reports an error,
// or opts.NearCache is set while the Kit's client-side cache is disabled
// (Config.ClientCache.Disable): those are programming errors.
func New[T any](k *redkit.Kit, name string, opts *Options) *Cache[T] {
	if k == nil {
		panic("cache: New with nil Kit")
	}
	if name == "" {
		panic("cache: New with empty name")
	}
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	o := opts.normalize(k.Config().DefaultExpiry)
	if o.near && k.Config().ClientCache.Disable {
		panic("cache: NearCache needs the Kit's client-side cache, but Config.ClientCache.Disable is set")
	}
	f := k.Format()
	if opts != nil {
		if opts.Codec != nil {
			f.Codec = opts.Codec
		}
		if opts.Compression != nil {
			f.Compression = *opts.Compression
		}
	}
	c := &Cache[T]{
		k:      k,
		st:     engine.HooksOf(k.Client()),
		name:   name,
		prefix: k.Key(keyName(name)) + ":",
		side:   k.Key(keyName(name)) + "#",
		o:      o,
		format: f,
	}
	_, c.bytesT = any((*T)(nil)).(*[]byte)
	c.fills, c.fillSeed = new([nFills]atomic.Uint64), maphash.MakeSeed()
	c.base, c.cancelBase = context.WithCancel(context.Background())
	if o.near || o.failSafe > 0 {
		c.clock = otter.NewCoarseClock(clockResolution)
	}
	if o.near {
		c.front = &front[T]{seed: maphash.MakeSeed()}
		c.near = newNearTier(o.nearMax, c.front)
		c.gen = &gens{seed: maphash.MakeSeed()}
		c.unsub = c.st.OnInvalidate(c.onInvalidate)
	}
	if o.failSafe > 0 {
		n := DefaultFailSafeEntries
		if o.near {
			n = o.nearMax
		}
		c.stale = newTier[T](n)
	}
	c.m.register(c.st, name)
	return c
}

// Name returns the cache's name.
func (c *Cache[T]) Name() string { return c.name }

// Key returns the Redis key of key: the Kit's prefix, the cache's name
// (with ':', '#' and '%' escaped, see New), a colon, and key.
func (c *Cache[T]) Key(key string) string { return c.prefix + key }

// keyName is name as it appears in keys: ':' (between name and key), '#'
// (before the side keys) and '%' (the escape) percent-encoded. Without it
// a cache named "c" and one named "c:sub" would share keys ("c"'s "sub:x"
// is "c:sub"'s "x"), and c.DeleteByPattern("*") would delete the other's
// entries. Escaped, a name holds neither separator, so each cache's keys
// start with a prefix no other cache's keys start with. Names without
// those characters, the usual ones, keep their keys unchanged; rather
// than refuse a name like "menu:list" (in use), it is stored under
// "menu%3Alist:".
func keyName(name string) string {
	if !strings.ContainsAny(name, ":#%") {
		return name
	}
	return strings.NewReplacer("%", "%25", ":", "%3A", "#", "%23").Replace(name)
}

func (c *Cache[T]) metaKey(key string) string { return c.side + "xf:" + key }
func (c *Cache[T]) lockKey(key string) string { return c.side + "lock:" + key }
func (c *Cache[T]) tagKey(tag string) string  { return c.side + "tag:" + tag }

// Close stops the cache's background refreshes (cancelling their
// loaders' contexts) and waits for them, removes its near cache's
// invalidation registration, and drops its in-process tiers. Calls after
// Close fail with redkit.ErrClosed. Close the Cache before its Kit. It is
// idempotent and always returns nil.
func (c *Cache[T]) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed.Store(true)
		c.mu.Unlock()
		c.cancelBase()
		c.wg.Wait()
		if c.unsub != nil {
			c.unsub()
		}
		for _, t := range []*otter.Cache[string, *entry[T]]{c.near, c.stale} {
			if t != nil {
				t.InvalidateAll()
				t.StopAllGoroutines()
			}
		}
		if c.clock != nil {
			c.clock.Stop()
		}
		c.m.unregister()
	})
	return nil
}

// enter registers a background task; false once the cache is closed.
func (c *Cache[T]) enter() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed.Load() {
		return false
	}
	c.wg.Add(1)
	return true
}

// out returns v as handed to a caller: a fresh copy for []byte.
func (c *Cache[T]) out(v T) T {
	if c.bytesT {
		b := any(v).([]byte)
		if b != nil {
			b = append([]byte{}, b...)
		}
		return any(b).(T)
	}
	return v
}

// check validates the common arguments of a call.
func (c *Cache[T]) check(ctx context.Context, op, key string) error {
	if c.closed.Load() {
		return redkit.Wrap(op, key, redkit.ErrClosed)
	}
	if key == "" {
		return redkit.Wrap(op, key, redkit.ErrEmptyKey)
	}
	if err := ctx.Err(); err != nil {
		return redkit.Wrap(op, key, err)
	}
	return nil
}

// ttlFor resolves a per-call TTL: 0 means the cache's TTL.
func (c *Cache[T]) ttlFor(op, key string, ttl time.Duration) (time.Duration, error) {
	switch {
	case ttl < 0:
		return 0, redkit.Wrap(op, key, fmt.Errorf("%w: %s", redkit.ErrNegativeTTL, ttl))
	case ttl == 0:
		return c.o.ttl, nil
	}
	return ttl, nil
}
