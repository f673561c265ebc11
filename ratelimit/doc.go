// Package ratelimit limits the rate of events per key across a fleet of
// processes, in Redis: logins per user, calls per API key, requests per
// tenant.
//
// It implements GCRA (the generic cell rate algorithm): a Limit of Rate
// events per Period with a Burst allowed at once keeps, per key and limit,
// one number — the theoretical arrival time of the next event — in one
// string per key, which expires by itself when the key is back to a full
// burst of every limit. Each check is one Lua script run (EVALSHA) on
// Redis's clock (TIME inside the script), so the processes' clocks need not agree, and exact:
// over any interval of length t the fleet is allowed at most
// Burst + Rate×t/Period events.
//
//	lim := ratelimit.New(kit, "api", nil)
//	res, err := lim.AllowAll(ctx, apiKey, ratelimit.PerSecond(5), ratelimit.PerHour(1000))
//	if err == nil && !res.Allowed {
//		// wait res.RetryAfter
//	}
//
// AllowAll checks several limits of one key in one atomic call: either
// every limit allows and each is spent, or none is. All limits of a key
// are packed in one string whose name carries the key as a hash tag, so
// it works on a Redis Cluster. Peek reads a key's state without spending,
// Reset forgets it. Middleware limits HTTP requests and sets the
// RateLimit-* and Retry-After headers.
//
// When Redis is unavailable (not connected, the Kit's circuit breaker
// open, a command timed out) Options.Fallback decides: by default an
// in-process limiter per key (FallbackLocal), or allow all, or deny all.
// The call then returns the fallback's decision and a nil error (Result.
// Fallback says so, Stats counts it), the Limiter logs once when the
// outage begins and once when it ends, and the next call after the Kit
// reaches Redis again is decided by Redis. Bad arguments are errors
// (wrapping ErrInvalid), never decided by the fallback. A call waits for
// Redis as any Kit call does (up to the Kit's CommandTimeout while Redis
// does not answer and the breaker is still closed), or up to
// Options.Timeout when set; a caller whose ctx ends first gets ctx's
// error, not the fallback's decision.
//
// Left out: sliding-window and token-bucket variants (GCRA is
// equivalent to a token bucket and needs no more memory than one number),
// quotas shared across keys, and limits kept in sync between Redis and
// the local fallback: during an outage each process limits on its own.
package ratelimit
