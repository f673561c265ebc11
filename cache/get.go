package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unsafe"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/codec"
	"github.com/redkit-go/redkit/internal/telemetry"
)

const (
	opGet      = "cache: get"
	opGetMany  = "cache: get many"
	opExists   = "cache: exists"
	opTTL      = "cache: ttl"
	opGetOrSet = "cache: get or set"
)

// Get returns the value stored under key and true, or the zero T and false
// when there is none (or a remembered "not found", see NegativeTTL). With a
// near cache it answers from process memory when it can.
//
// Errors (wrapped with the key): redkit.ErrEmptyKey; redkit.ErrDecode when
// the stored bytes do not decode as T; redkit.ErrWrongType when the key
// holds another Redis type; redkit.ErrUnavailable when Redis cannot be
// reached — unless FailSafe has a last good value, which Get then returns
// with a nil error (also when ctx has a deadline that Redis does not answer
// before: see Options.FailSafe); redkit.ErrClosed after Close; ctx's error.
func (c *Cache[T]) Get(ctx context.Context, key string) (T, bool, error) {
	var zero T
	if err := c.check(ctx, opGet, key); err != nil {
		return zero, false, err
	}
	if c.near != nil {
		if e, ok := c.nearGet(key); ok {
			if e.neg {
				c.m.miss()
				return zero, false, nil
			}
			c.nearHit(key)
			return c.out(e.v), true, nil
		}
	}
	ctx, sp := c.st.Tel.Start(ctx, "cache.get", key)
	e, found, err := c.fetchSoft(ctx, opGet, key)
	telemetry.End(sp, err)
	if err != nil {
		if errors.Is(err, redkit.ErrUnavailable) {
			if v, ok := c.staleGet(key); ok {
				return v, true, nil
			}
		}
		return zero, false, err
	}
	if !found || e.neg {
		c.staleDeleted(key)
		c.m.miss()
		return zero, false, nil
	}
	c.m.hitRemote()
	c.stalePut(key, e)
	return c.out(e.v), true, nil
}

// trackTTL is the local cap handed to the engine's tracking cache: long
// enough that the expiry it reports is the key's expiry in Redis for
// entries written with the cache's TTL. Tracking invalidates it anyway.
func (c *Cache[T]) trackTTL() time.Duration { return max(c.o.nearTTL, c.o.ttl) }

// fetch reads key from Redis and decodes it. With a near cache the read
// goes through the engine's tracking cache, so that Redis tells this
// process when the key changes, and fills the near cache. With
// EarlyRefresh it also reads the key's expiry and last load duration.
func (c *Cache[T]) fetch(ctx context.Context, op, key string) (entry[T], bool, error) {
	if c.near == nil {
		return c.fetchPlain(ctx, op, key)
	}
	full := c.prefix + key
	tok := c.gen.token(key)
	var (
		msg  rueidis.RedisMessage
		err  error
		meta string
	)
	if c.o.beta > 0 {
		var res []rueidis.RedisResult
		res, err = c.k.DoMultiCache(ctx,
			rueidis.CT(c.k.B().Get().Key(full).Cache(), c.trackTTL()),
			rueidis.CT(c.k.B().Get().Key(c.metaKey(key)).Cache(), c.trackTTL()))
		if err == nil {
			msg, err = res[0].ToMessage()
			meta, _ = res[1].ToString()
		}
	} else {
		msg, err = c.k.DoCache(ctx, c.k.B().Get().Key(full).Cache(), c.trackTTL())
	}
	if msg.IsCacheHit() && c.gen.recentlyWritten(key) {
		// The engine's copy may predate this process's own write; ask
		// Redis, and leave the near cache alone.
		return c.fetchPlain(ctx, op, key)
	}
	e, found, err := c.decodeReply(op, key, msg, err)
	if !found {
		return e, false, err
	}
	if px := msg.CachePXAT(); px > 0 {
		e.exp = px
	}
	e.delta = parseDelta(meta)
	c.nearPut(key, e, tok)
	return e, true, nil
}

// fetchPlain is fetch without the tracking cache: GET (and, with
// EarlyRefresh, the load duration; with EarlyRefresh or FailSafe, PTTL, so
// that the last good value knows its expiry: see staleDeleted), one round
// trip.
func (c *Cache[T]) fetchPlain(ctx context.Context, op, key string) (entry[T], bool, error) {
	full := c.prefix + key
	if c.o.beta <= 0 && c.stale == nil {
		msg, err := c.k.Do(ctx, c.k.B().Get().Key(full).Build())
		return c.decodeReply(op, key, msg, err)
	}
	cmds := []rueidis.Completed{c.k.B().Get().Key(full).Build(), c.k.B().Pttl().Key(full).Build()}
	if c.o.beta > 0 {
		cmds = append(cmds, c.k.B().Get().Key(c.metaKey(key)).Build())
	}
	res, err := c.k.DoMulti(ctx, cmds...)
	if err != nil {
		return entry[T]{}, false, redkit.Wrap(op, key, err)
	}
	msg, err := res[0].ToMessage()
	e, found, err := c.decodeReply(op, key, msg, err)
	if !found {
		return e, false, err
	}
	if pttl, err := res[1].AsInt64(); err == nil && pttl > 0 {
		e.exp = time.Now().UnixMilli() + pttl
	}
	if c.o.beta > 0 {
		meta, _ := res[2].ToString()
		e.delta = parseDelta(meta)
	}
	return e, true, nil
}

func parseDelta(s string) int64 {
	if s == "" {
		return 0
	}
	d, err := strconv.ParseInt(s, 10, 64)
	if err != nil || d < 0 {
		return 0
	}
	return d
}

// decodeReply turns a GET reply into an entry: found false for a nil
// reply, ErrDecode (counted) for bytes that are not a T.
func (c *Cache[T]) decodeReply(op, key string, msg rueidis.RedisMessage, err error) (entry[T], bool, error) {
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return entry[T]{}, false, nil
		}
		return entry[T]{}, false, redkit.Wrap(op, key, err)
	}
	s, err := msg.ToString()
	if err != nil {
		return entry[T]{}, false, redkit.Wrap(op, key, err)
	}
	return c.decode(op, key, s)
}

func (c *Cache[T]) decode(op, key, s string) (entry[T], bool, error) {
	if s == negMarker {
		return entry[T]{neg: true}, true, nil
	}
	// Decode only reads its input; viewing the reply's string as bytes
	// saves a copy of every value.
	v, err := codec.Decode[T](c.format, unsafe.Slice(unsafe.StringData(s), len(s)))
	if err != nil {
		c.m.decodeErrors.Add(1)
		return entry[T]{}, false, redkit.Wrap(op, key, err)
	}
	return entry[T]{v: v}, true, nil
}

// GetMany returns the values stored under keys, in one pipelined round
// trip (MGET per cluster slot, or per-key tracked reads with a near
// cache, which answers what it can first; without a near cache, a second
// round trip asks the TYPE of the keys MGET found nil, since MGET does not
// tell a missing key from one of another type). Missing keys are absent
// from the map. Keys whose bytes do not decode are left out and reported in
// the error (wrapping redkit.ErrDecode) next to the values that did.
// Other errors: redkit.ErrEmptyKey, redkit.ErrWrongType (a key holds
// another Redis type, with or without a near cache), redkit.ErrUnavailable, redkit.ErrClosed, ctx's error; then the map is
// nil.
func (c *Cache[T]) GetMany(ctx context.Context, keys ...string) (map[string]T, error) {
	out := make(map[string]T, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	for _, key := range keys {
		if err := c.check(ctx, opGetMany, key); err != nil {
			return nil, err
		}
	}
	todo := make([]string, 0, len(keys))
	seen := make(map[string]bool, len(keys))
	for _, key := range keys {
		if seen[key] {
			continue
		}
		seen[key] = true
		if c.near != nil {
			if e, ok := c.nearGet(key); ok {
				if e.neg {
					c.m.miss()
				} else {
					c.nearHit(key)
					out[key] = c.out(e.v)
				}
				continue
			}
		}
		todo = append(todo, key)
	}
	if len(todo) == 0 {
		return out, nil
	}
	var decodeErrs []error
	put := func(key string, e entry[T], found bool, err error) error {
		switch {
		case err != nil && errors.Is(err, redkit.ErrDecode):
			decodeErrs = append(decodeErrs, err)
		case err != nil:
			return err
		case !found || e.neg:
			c.staleDeleted(key)
			c.m.miss()
		default:
			c.m.hitRemote()
			c.stalePut(key, e)
			out[key] = c.out(e.v)
		}
		return nil
	}
	if c.near != nil && !c.anyRecentlyWritten(todo) {
		toks := make([]uint64, len(todo))
		cmds := make([]rueidis.CacheableTTL, len(todo))
		for i, key := range todo {
			toks[i] = c.gen.token(key)
			cmds[i] = rueidis.CT(c.k.B().Get().Key(c.prefix+key).Cache(), c.trackTTL())
		}
		res, err := c.k.DoMultiCache(ctx, cmds...)
		if err != nil {
			return nil, redkit.Wrap(opGetMany, todo[0], err)
		}
		for i, key := range todo {
			msg, err := res[i].ToMessage()
			e, found, err := c.decodeReply(opGetMany, key, msg, err)
			if found {
				if px := msg.CachePXAT(); px > 0 {
					e.exp = px
				}
				c.nearPut(key, e, toks[i])
			}
			if err := put(key, e, found, err); err != nil {
				return nil, err
			}
		}
		return out, errors.Join(decodeErrs...)
	}
	// Without a near cache, or when the engine's cached copies may
	// predate this process's own writes: ask Redis itself.
	if err := c.mget(ctx, todo, put); err != nil {
		return nil, err
	}
	return out, errors.Join(decodeErrs...)
}

func (c *Cache[T]) anyRecentlyWritten(keys []string) bool {
	for _, k := range keys {
		if c.gen.recentlyWritten(k) {
			return true
		}
	}
	return false
}

// mget reads keys with MGET, one command per cluster slot (or per 512
// keys), pipelined. MGET answers nil for a key of another type as for a
// missing one; so when some keys came back nil, a second round trip asks
// their TYPE (a hit costs no more than one round trip), and a key that
// holds another type is redkit.ErrWrongType, as GET says on the other
// paths.
func (c *Cache[T]) mget(ctx context.Context, keys []string, put func(string, entry[T], bool, error) error) error {
	groups := c.groups(keys)
	cmds := make([]rueidis.Completed, len(groups))
	for i, g := range groups {
		full := make([]string, len(g))
		for j, key := range g {
			full[j] = c.prefix + key
		}
		cmds[i] = c.k.B().Mget().Key(full...).Build()
	}
	res, err := c.k.DoMulti(ctx, cmds...)
	if err != nil {
		return redkit.Wrap(opGetMany, keys[0], err)
	}
	var missing []string
	for i, g := range groups {
		vals, err := res[i].ToArray()
		if err != nil {
			return redkit.Wrap(opGetMany, g[0], err)
		}
		for j, key := range g {
			if j >= len(vals) || vals[j].IsNil() {
				missing = append(missing, key)
				continue
			}
			e, found, err := c.decodeReply(opGetMany, key, vals[j], vals[j].Error())
			if err := put(key, e, found, err); err != nil {
				return err
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	types := make([]rueidis.Completed, len(missing))
	for i, key := range missing {
		types[i] = c.k.B().Type().Key(c.prefix + key).Build()
	}
	res, err = c.k.DoMulti(ctx, types...)
	if err != nil {
		return redkit.Wrap(opGetMany, missing[0], err)
	}
	for i, key := range missing {
		typ, err := res[i].ToString()
		switch {
		case err != nil:
			return redkit.Wrap(opGetMany, key, err)
		case typ != "none" && typ != "string":
			// "string": written since the MGET; missing when it ran.
			return redkit.Wrap(opGetMany, key, fmt.Errorf("%w: the key holds a %s", redkit.ErrWrongType, typ))
		}
		if err := put(key, entry[T]{}, false, nil); err != nil {
			return err
		}
	}
	return nil
}

// maxBatch caps the keys of one multi-key command.
const maxBatch = 512

// groups splits keys (unprefixed) into batches whose Redis keys share a
// cluster slot (on a cluster) and number at most maxBatch.
func (c *Cache[T]) groups(keys []string) [][]string {
	return batches(c.k.Mode() == "cluster", keys, func(k string) string { return c.prefix + k })
}

func batches(cluster bool, keys []string, full func(string) string) [][]string {
	var out [][]string
	if !cluster {
		for len(keys) > 0 {
			n := min(len(keys), maxBatch)
			out = append(out, keys[:n:n])
			keys = keys[n:]
		}
		return out
	}
	bySlot := make(map[uint16]int) // slot -> index of its open batch in out
	for _, k := range keys {
		s := redkit.Slot(full(k))
		i, ok := bySlot[s]
		if !ok || len(out[i]) >= maxBatch {
			out = append(out, nil)
			i = len(out) - 1
			bySlot[s] = i
		}
		out[i] = append(out[i], k)
	}
	return out
}

// Exists reports whether a value is stored under key (a remembered "not
// found" does not count). Errors: as for Get, except ErrDecode.
func (c *Cache[T]) Exists(ctx context.Context, key string) (bool, error) {
	if err := c.check(ctx, opExists, key); err != nil {
		return false, err
	}
	if c.near != nil {
		if e, ok := c.nearGet(key); ok {
			return !e.neg, nil
		}
	}
	full := c.prefix + key
	if c.o.negTTL <= 0 {
		n, err := c.k.Do(ctx, c.k.B().Exists().Key(full).Build())
		if err != nil {
			return false, redkit.Wrap(opExists, key, err)
		}
		v, err := n.AsInt64()
		return v == 1, redkit.Wrap(opExists, key, err)
	}
	// A negative entry is a string equal to negMarker: tell it apart
	// without transferring the value.
	res, err := c.k.DoMulti(ctx,
		c.k.B().Exists().Key(full).Build(),
		c.k.B().Strlen().Key(full).Build(),
		c.k.B().Getrange().Key(full).Start(0).End(int64(len(negMarker))).Build())
	if err != nil {
		return false, redkit.Wrap(opExists, key, err)
	}
	n, err := res[0].AsInt64()
	if err != nil {
		return false, redkit.Wrap(opExists, key, err)
	}
	if n == 0 {
		return false, nil
	}
	l, err := res[1].AsInt64()
	if err != nil {
		return false, redkit.Wrap(opExists, key, err)
	}
	head, _ := res[2].ToString()
	return !(l == int64(len(negMarker)) && head == negMarker), nil
}

// TTL returns key's remaining time to live (PTTL): the time left and
// true for a key with an expiry, 0 and true for a key without one, and 0
// and false when there is no such key (as the collection types' TTL).
// Errors: redkit.ErrEmptyKey, redkit.ErrUnavailable, redkit.ErrClosed,
// ctx's error.
func (c *Cache[T]) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	if err := c.check(ctx, opTTL, key); err != nil {
		return 0, false, err
	}
	msg, err := c.k.Do(ctx, c.k.B().Pttl().Key(c.prefix+key).Build())
	if err != nil {
		return 0, false, redkit.Wrap(opTTL, key, err)
	}
	ms, err := msg.AsInt64()
	switch {
	case err != nil:
		return 0, false, redkit.Wrap(opTTL, key, err)
	case ms == -2:
		return 0, false, nil
	case ms < 0:
		return 0, true, nil
	}
	return time.Duration(ms) * time.Millisecond, true, nil
}
