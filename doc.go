// Package redkit is the root of a toolkit of Redis-backed building blocks
// for Go services: a Kit is one connection to Redis (a single node, a
// Sentinel group or a Cluster, detected from the addresses) with the
// configuration every redkit package shares.
//
//	kit, err := redkit.Open(ctx, redkit.Config{URL: "redis://localhost:6379/0", KeyPrefix: "myapp:"})
//	if err != nil { ... }
//	defer kit.Close()
//	users := cache.New[User](kit, "users", nil)
//
// The Kit owns:
//   - the engine, github.com/redis/rueidis, tuned from measurements
//     (auto-pipelining with a short flush delay, RESP3, server-assisted
//     client-side caching);
//   - the key prefix applied to every key redkit writes (Key, HashTag,
//     EscapePattern);
//   - the codec and compression of typed values (package codec);
//   - CommandTimeout, the longest a call waits for a silent server,
//     whatever its context (no per-call cost), retry with
//     backoff and jitter for idempotent commands only, and a circuit
//     breaker that fails fast with ErrUnavailable while Redis is down;
//   - logs (log/slog), metrics and traces (OpenTelemetry).
//
// Errors for Redis calls are *Error values naming the operation and key and
// wrapping a sentinel (ErrWrongType, ErrOOM, ErrUnavailable...) and the
// cause, so errors.Is and errors.As both work.
//
// The packages built on a Kit: cache (typed cache with a near cache),
// lock (distributed locks), collection (typed sets, lists, hashes, sorted
// sets), queue (a job queue with workers, retries, dead letters, unique
// jobs and schedules), pubsub (typed pub/sub and durable streams), session
// (HTTP sessions, and an scs store), ratelimit (GCRA limits with a local
// fallback), health (PING checks and a handler); codec (how typed values
// are stored); and redistest (real redis-server processes for tests). The
// redkit command (cmd/redkit) checks, inspects and benchmarks a server.
//
// # Raw calls
//
// Every call takes one route to Redis: the circuit breaker, retry of
// idempotent commands, classification of errors into *Error, Stats and the
// metrics. For a command redkit does not wrap, Kit.Client returns that route
// as a rueidis.Client (Do, DoMulti, Receive, Dedicated, Nodes...), and Do,
// DoMulti, DoCache, DoMultiCache and Exec are shorthands on it that return
// the reply and the error apart; B builds commands. There is no way around
// the route: a raw call is protected and counted like redkit's own.
//
// What it leaves out: it is not a general Redis client API of its own —
// commands are rueidis's (Kit.B), sent on the Kit's route.
package redkit
