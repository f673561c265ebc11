// Package cache is a typed distributed cache on Redis: Cache[T] stores
// values of type T under prefix + name + ":" + key, encoded with the Kit's
// codec (strings and byte slices raw, so other clients read them), and
// Counter keeps named numbers.
//
// What it adds over GET and SET:
//
//   - GetOrSet: read-through with one load per key per process
//     (singleflight) or, with StampedeDistributed, across processes (a
//     short SET NX PX lock; the others poll, bounded by LockWait); early
//     refresh before expiry (XFetch, Options.EarlyRefresh); fail-safe
//     (Options.FailSafe: the last good value when the loader or Redis
//     fails); negative caching of redkit.ErrNotFound (Options.NegativeTTL).
//   - A near cache (Options.NearCache): decoded values in process (otter),
//     filled only through the engine's tracking reads (RESP3 client-side
//     caching), so Redis tells the process when a key changes — whoever
//     changed it: this process, another one, or redis-cli. A dropped
//     connection or FLUSHALL empties it; no value is kept past its expiry
//     in Redis; a read that races an invalidation cannot bring the old
//     value back. A near hit costs no allocation; a key read often is
//     served from a small direct-mapped table in front of otter (a hash,
//     an atomic load and a string compare), which follows otter's
//     deletions, so it never serves what otter dropped.
//   - Tags (SetWithTags, GetOrSetWithTags, Tag, DeleteByTag) and
//     DeleteByPattern (SCAN on every master, UNLINK in batches).
//   - Stats and OpenTelemetry counters: hits by tier, misses, loads, load
//     errors, stale values served, decode errors.
//
// Values handed out are copies for value types; values holding pointers,
// maps or slices share them with the near cache and other callers, so
// never mutate what they point to.
//
// Keys next to the entries, under prefix + name + "#": "lock:" + key (the
// stampede lock), "xf:" + key (the last load duration, with EarlyRefresh)
// and "tag:" + tag (a tag's keys). DeleteByPattern never matches them.
// In keys, a name's ':', '#' and '%' are written %3A, %23 and %25, so no
// cache's keys start with another's prefix: "c" and "c:sub" never share
// a key (other names are used as they are).
//
// What it leaves out: write-behind, cache-wide size limits in Redis (use
// maxmemory and an eviction policy), and atomicity across keys (SetMany
// and the tag operations are pipelined, not transactions).
package cache
