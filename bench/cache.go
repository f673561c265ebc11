package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	grcache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/redis/rueidis/rueidisaside"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/cache"
)

func init() {
	register(Suite{Name: "cache", Title: "Typed cache (cache)", Run: runCache})
}

// cacheValue is the cached value: a small struct, as services cache.
type cacheValue struct {
	ID    int      `json:"id" msgpack:"id"`
	Name  string   `json:"name" msgpack:"name"`
	Email string   `json:"email" msgpack:"email"`
	Roles []string `json:"roles" msgpack:"roles"`
}

var (
	cacheVal      = cacheValue{42, "Ada Lovelace", "ada@example.com", []string{"admin", "dev"}}
	errCacheValue = errors.New("cache: wrong value")
	errCacheMiss  = errors.New("cache: unexpected miss")
)

const (
	cacheKeys     = 1000    // remote reads spread over this many keys
	cacheMissKeys = 1 << 18 // fresh keys per miss variant
	cacheMissTTL  = 10 * time.Second
)

// cacheClients are the contenders of the cache suite.
type cacheClients struct {
	kit         *redkit.Kit
	near, plain *cache.Cache[cacheValue] // redkit, near cache on / off
	nearMiss    *cache.Cache[cacheValue]
	raw         rueidis.Client // rueidis with the Kit's engine settings
	aside       rueidisaside.CacheAsideClient
	gr          *redis.Client
	grLocal     *grcache.Cache // go-redis/cache with its TinyLFU local tier
	grRemote    *grcache.Cache // go-redis/cache, Redis only
	prefix      string
	keys        []string // remote keys, unprefixed (redkit adds its own)
	rawKeys     []string // the same under the rueidis / go-redis prefix
	grKeys      []string
	floor       sync.Map // the hot key's decoded value (hotSyncMap)
}

// loadHot is the hot-key GetOrSet's loader; the key is preloaded, so it
// never runs.
func loadHot(context.Context) (cacheValue, error) { return cacheVal, nil }

func openCache(env *Env, cl *closers) (*cacheClients, error) {
	c := &cacheClients{prefix: env.KeyPrefix("cache")}
	var err error
	if c.kit, err = env.OpenKit(redkit.Config{KeyPrefix: c.prefix + "redkit:"}); err != nil {
		return nil, err
	}
	cl.add(func() { c.kit.Close() })
	c.near = cache.New[cacheValue](c.kit, "near", &cache.Options{NearCache: &cache.NearCacheOptions{}})
	cl.add(func() { c.near.Close() })
	c.plain = cache.New[cacheValue](c.kit, "plain", nil)
	cl.add(func() { c.plain.Close() })
	c.nearMiss = cache.New[cacheValue](c.kit, "nearmiss", &cache.Options{NearCache: &cache.NearCacheOptions{}})
	cl.add(func() { c.nearMiss.Close() })
	if c.raw, err = env.OpenRueidis(env.KitEngineOption(c.kit)); err != nil {
		return nil, err
	}
	cl.add(c.raw.Close)
	if c.aside, err = rueidisaside.NewClient(rueidisaside.ClientOption{
		ClientOption: rueidis.ClientOption{InitAddress: []string{env.Addr}},
	}); err != nil {
		return nil, fmt.Errorf("open rueidisaside: %w", err)
	}
	cl.add(c.aside.Close)
	if err := warm(env.ctx, c.aside.Client()); err != nil {
		return nil, err
	}
	if c.gr, err = env.OpenGoRedis(nil); err != nil {
		return nil, err
	}
	cl.add(func() { c.gr.Close() })
	c.grLocal = grcache.New(&grcache.Options{Redis: c.gr, LocalCache: grcache.NewTinyLFU(10_000, time.Minute)})
	c.grRemote = grcache.New(&grcache.Options{Redis: c.gr})

	v := cacheVal
	c.floor.Store("k0000", &v)
	for i := range cacheKeys {
		k := fmt.Sprintf("k%04d", i)
		c.keys = append(c.keys, k)
		c.rawKeys = append(c.rawKeys, c.prefix+"raw:"+k)
		c.grKeys = append(c.grKeys, c.prefix+"gr:"+k)
	}
	// Preload every contender's keys, each in its own format.
	items := map[string]cacheValue{}
	for _, k := range c.keys {
		items[k] = cacheVal
	}
	for _, cc := range []*cache.Cache[cacheValue]{c.near, c.plain} {
		if err := cc.SetMany(env.ctx, items, time.Hour); err != nil {
			return nil, fmt.Errorf("preload redkit: %w", err)
		}
	}
	js, _ := json.Marshal(cacheVal)
	cmds := make(rueidis.Commands, 0, cacheKeys)
	for _, k := range c.rawKeys {
		cmds = append(cmds, c.raw.B().Set().Key(k).Value(string(js)).Ex(time.Hour).Build())
	}
	for _, r := range c.raw.DoMulti(env.ctx, cmds...) {
		if err := r.Error(); err != nil {
			return nil, fmt.Errorf("preload rueidis: %w", err)
		}
	}
	for _, k := range c.grKeys {
		if err := c.grRemote.Set(&grcache.Item{Ctx: env.ctx, Key: k, Value: cacheVal, TTL: time.Hour}); err != nil {
			return nil, fmt.Errorf("preload go-redis/cache: %w", err)
		}
	}
	return c, nil
}

func checkVal(v cacheValue, err error) error {
	if err == nil && v.ID != cacheVal.ID {
		return errCacheValue
	}
	return err
}

func decodeJSON(s string, err error) error {
	if err != nil {
		return err
	}
	var v cacheValue
	return checkVal(v, json.Unmarshal([]byte(s), &v))
}

// hot-key hit variants: every goroutine reads the same key.
const (
	hotRedkit = iota
	hotGoRedisCache
	hotAside
	hotDoCache
	hotRedkitGetOrSet
	hotSyncMap
)

// hotBatch lookups make one op of the hot-key comparison: a near hit
// takes tens of ns, as long as the harness's own timing of a call, which
// would otherwise hide most of the difference. Every contender does the
// same batch, so ratios are unaffected; ops/s, p50 and p99 are per batch.
const hotBatch = 32

func (c *cacheClients) hotVariants() []Variant {
	hot, raw, aside := c.keys[0], c.rawKeys[0], c.rawKeys[1]
	grHot := c.grKeys[0]
	js, _ := json.Marshal(cacheVal)
	fill := func(context.Context, string) (string, error) { return string(js), nil }
	batch := func(one func(ctx context.Context) error) Op {
		return func(ctx context.Context, _, _ int) error {
			for range hotBatch {
				if err := one(ctx); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return []Variant{
		hotRedkit: {"redkit cache, near cache", batch(func(ctx context.Context) error {
			v, ok, err := c.near.Get(ctx, hot)
			if err == nil && !ok {
				return errCacheMiss
			}
			return checkVal(v, err)
		})},
		hotGoRedisCache: {"go-redis/cache, TinyLFU local", batch(func(ctx context.Context) error {
			var v cacheValue
			return checkVal(v, c.grLocal.Get(ctx, grHot, &v))
		})},
		hotAside: {"rueidisaside + JSON decode", batch(func(ctx context.Context) error {
			return decodeJSON(c.aside.Get(ctx, time.Minute, aside, fill))
		})},
		hotDoCache: {"rueidis DoCache + JSON decode", batch(func(ctx context.Context) error {
			return decodeJSON(c.raw.DoCache(ctx, c.raw.B().Get().Key(raw).Cache(), time.Minute).ToString())
		})},
		hotRedkitGetOrSet: {"redkit cache GetOrSet, near cache", batch(func(ctx context.Context) error {
			return checkVal(c.near.GetOrSet(ctx, hot, loadHot, time.Hour))
		})},
		// The floor for a decoded near cache: a sync.Map load of the
		// decoded value's pointer, and the copy of the value redkit
		// returns.
		hotSyncMap: {"sync.Map load of the decoded pointer", batch(func(ctx context.Context) error {
			v, ok := c.floor.Load(hot)
			if !ok {
				return errCacheMiss
			}
			return checkVal(*v.(*cacheValue), nil)
		})},
	}
}

// remote read variants, no local tier: keys spread over cacheKeys.
const (
	remRedkit = iota
	remRueidis
	remGoRedisCache
)

func (c *cacheClients) remoteVariants() []Variant {
	return []Variant{
		remRedkit: {"redkit cache, near cache off", func(ctx context.Context, g, i int) error {
			v, ok, err := c.plain.Get(ctx, c.keys[(g*131+i)%cacheKeys])
			if err == nil && !ok {
				return errCacheMiss
			}
			return checkVal(v, err)
		}},
		remRueidis: {"rueidis GET + JSON decode", func(ctx context.Context, g, i int) error {
			return decodeJSON(c.raw.Do(ctx, c.raw.B().Get().Key(c.rawKeys[(g*131+i)%cacheKeys]).Build()).ToString())
		}},
		remGoRedisCache: {"go-redis/cache, no local tier", func(ctx context.Context, g, i int) error {
			var v cacheValue
			return checkVal(v, c.grRemote.Get(ctx, c.grKeys[(g*131+i)%cacheKeys], &v))
		}},
	}
}

// missKeys hands out fresh keys: a shared counter over a precomputed
// list, so that the op allocates nothing of its own.
type missKeys struct {
	keys []string
	n    atomic.Int64
}

func newMissKeys(prefix string) *missKeys {
	m := &missKeys{keys: make([]string, cacheMissKeys)}
	for i := range m.keys {
		m.keys[i] = prefix + strconv.Itoa(i)
	}
	return m
}

func (m *missKeys) next() string { return m.keys[int(m.n.Add(1))%len(m.keys)] }

// missVariants: GetOrSet of a key that is not there (the loader returns
// at once), so the numbers are the cache's own miss path: a read, the
// load, the write.
func (c *cacheClients) missVariants(stamp string) []Variant {
	rk := newMissKeys("miss" + stamp + ":")
	rkNear := newMissKeys("miss" + stamp + ":")
	gk := newMissKeys(c.prefix + "grmiss" + stamp + ":")
	ak := newMissKeys(c.prefix + "asidemiss" + stamp + ":")
	load := func(context.Context) (cacheValue, error) { return cacheVal, nil }
	grLoad := func(*grcache.Item) (any, error) { return cacheVal, nil }
	js, _ := json.Marshal(cacheVal)
	asideLoad := func(context.Context, string) (string, error) {
		b, err := json.Marshal(cacheVal) // what a loader for a JSON cache does
		_ = js
		return string(b), err
	}
	return []Variant{
		{"redkit GetOrSet, near cache off", func(ctx context.Context, g, i int) error {
			return checkVal(c.plain.GetOrSet(ctx, rk.next(), load, cacheMissTTL))
		}},
		{"redkit GetOrSet, near cache on", func(ctx context.Context, g, i int) error {
			return checkVal(c.nearMiss.GetOrSet(ctx, rkNear.next(), load, cacheMissTTL))
		}},
		{"go-redis/cache Once, no local tier", func(ctx context.Context, g, i int) error {
			var v cacheValue
			return checkVal(v, c.grRemote.Once(&grcache.Item{Ctx: ctx, Key: gk.next(), Value: &v, TTL: cacheMissTTL, Do: grLoad}))
		}},
		{"rueidisaside Get + JSON", func(ctx context.Context, g, i int) error {
			return decodeJSON(c.aside.Get(ctx, cacheMissTTL, ak.next(), asideLoad))
		}},
	}
}

func runCache(env *Env) (*Section, error) {
	var cl closers
	defer cl.closeAll()
	c, err := openCache(env, &cl)
	if err != nil {
		return nil, err
	}
	ctx := env.Context()
	// Fill the local tiers of the hot key.
	for _, v := range c.hotVariants() {
		if err := v.Op(ctx, 0, 0); err != nil {
			return nil, fmt.Errorf("%s: %w", v.Name, err)
		}
	}
	sec := &Section{Intro: fmt.Sprintf(`
A %d-byte JSON struct (ID, name, email, two roles). **Hot-key hit**: every
goroutine reads one key that every contender holds in process: redkit's
cache.Get and cache.GetOrSet with its near cache (decoded values in otter with a direct-mapped
front table for hot keys, invalidated by Redis client tracking); as the floor, a
sync.Map load of the decoded value's pointer (and the copy of the value that redkit
returns); go-redis/cache v9 with its TinyLFU local tier (bytes,
msgpack-decoded per hit); rueidisaside (rueidis client-side cache, a string)
and rueidis DoCache, both + json.Unmarshal. **Remote read**: no local tier,
reads spread over %d keys: redkit cache.Get with the near cache off; raw
rueidis GET + json.Unmarshal with the Kit's engine settings; go-redis/cache
v9 without local tier (go-redis pool, msgpack). **GetOrSet miss**: a fresh
key every call and a loader that returns at once: the cost of a miss path
(read, load, write): redkit GetOrSet (near cache off / on),
go-redis/cache Once without local tier, rueidisaside Get. CPU/op is the
bench process's CPU per call. In the hot-key table one op is %d lookups
(the harness times each op, which costs about as much as a near hit), so
divide its ops/s, latencies, allocs and CPU by %d for one lookup.`, len(mustJSON(cacheVal)), cacheKeys, hotBatch, hotBatch)}

	hot := ResultTable(fmt.Sprintf("Hot-key hit (local tier); one op = %d lookups:", hotBatch), "redkit")
	var targets []Target
	for _, g := range []int{1, 128} {
		env.Logf("cache hot-key hit, %d goroutines", g)
		res := env.Compare(g, c.hotVariants()...)
		hot.AddResults(res, hotRedkit)
		best := max(res[hotGoRedisCache].OpsPerSec, res[hotAside].OpsPerSec, res[hotDoCache].OpsPerSec)
		targets = append(targets, Target{
			What:  fmt.Sprintf("cache hot-key hit, %d goroutines: redkit near cache GetOrSet/best peer", g),
			Ratio: res[hotRedkitGetOrSet].OpsPerSec / best, Min: 25},
			Target{
				What:  fmt.Sprintf("cache hot-key hit, %d goroutines: 3 x redkit GetOrSet / sync.Map load (≥ 1: within 3x of the map)", g),
				Ratio: 3 * res[hotRedkitGetOrSet].Ratio(res[hotSyncMap]), Min: 1})
		for _, i := range []int{hotRedkit, hotRedkitGetOrSet} {
			if a := res[i].AllocsPerOp / hotBatch; a >= 0.01 {
				sec.Notes = append(sec.Notes, fmt.Sprintf("Hot-key hit, %d goroutines: %s allocated %.2f times per lookup (target 0).", g, res[i].Name, a))
			}
		}
	}
	rem := ResultTable("Remote read (no local tier):", "redkit")
	for _, g := range []int{1, 128} {
		env.Logf("cache remote read, %d goroutines", g)
		res := env.Compare(g, c.remoteVariants()...)
		rem.AddResults(res, remRedkit)
		if g == 128 {
			targets = append(targets,
				Target{What: "cache remote Get, 128 goroutines: redkit/rueidis GET+decode", Ratio: res[remRedkit].Ratio(res[remRueidis]), Min: 0.9},
				Target{What: "cache remote Get, 128 goroutines: redkit/go-redis/cache without local tier", Ratio: res[remRedkit].Ratio(res[remGoRedisCache]), Min: 2})
		}
	}
	miss := ResultTable("GetOrSet miss (fresh key each call):", "redkit near off")
	for _, g := range []int{1, 16} {
		env.Logf("cache GetOrSet miss, %d goroutines", g)
		res := env.Compare(g, c.missVariants(strconv.Itoa(g))...)
		miss.AddResults(res, 0)
	}
	sec.Tables = []Table{hot, rem, miss}
	sec.Targets = targets
	sec.Notes = append(sec.Notes,
		"redkit's near hit returns a copy of the decoded struct: no decode, no allocation; its slices are shared (documented: do not mutate).",
		"The miss variants write fresh keys with a 10s TTL; a row's allocs/op includes building the value on the loader's side.")
	return sec, nil
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
