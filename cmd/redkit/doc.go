// Command redkit is the command-line companion of the redkit toolkit: it
// checks, inspects and demonstrates a Redis deployment the way redkit's
// packages use it.
//
// Install it with
//
//	go install github.com/redkit-go/redkit/cmd/redkit@latest
//
// or run it from a clone with go run ./cmd/redkit. Usage:
//
//	redkit <command> [flags]
//
// The commands:
//
//	redkit health   probe Redis once (Kit.Health) and print the report as JSON
//	redkit doctor   check the server for what redkit needs and say what to change
//	redkit inspect  summarise redkit's keys under a prefix
//	redkit demo     run the pizzeria demo (examples/pizzeria)
//	redkit bench    run the side-by-side benchmarks and print their table
//	redkit version  print the module and Go versions
//
// Every command takes --help. The commands that talk to Redis read
// REDIS_URL and the other variables of redkit.ConfigFromEnv (REDIS_URL
// defaults to redis://127.0.0.1:6379); --url takes REDIS_URL's place (the
// other variables still apply), --timeout
// bounds the whole command and --json prints JSON. They connect once,
// without retrying, and fail at once when Redis cannot be reached.
//
// Exit status: 0 success (healthy; no check failed), 1 failure
// (unhealthy; a check failed; Redis unreachable), 2 usage error (an
// unknown command or flag, a bad URL).
//
// # health
//
//	redkit health [--url URL] [--timeout 5s]
//
// prints the Kit's redkit.HealthReport as JSON, with "status" ("ok" or
// "unavailable") and "latency_ms" added as health.Checker's handler
// serves them; exit 0 when healthy, 1 when not, so it works as a
// container health check.
//
// # doctor
//
//	redkit doctor [--url URL] [--json]
//
// checks, one line each with ok, warn or fail and advice: connect;
// version (Redis 7.0 or later: lock scripts declare flags, cache tags use
// PEXPIRE NX/GT); tracking (RESP3 client tracking, which near caches
// need); keyspace (notify-keyspace-events; redkit needs none today);
// eviction (an allkeys-* maxmemory-policy can evict fence counters, queued
// jobs, streams and sessions, a volatile-* one held locks and sessions:
// noeviction is the advice); persistence (appendonly for queues, streams
// and sessions); cluster (CLUSTER INFO state ok, all slots assigned, on
// every master); sentinel (every sentinel of a redis+sentinel:// URL
// answers and names the same master). --json prints a list of {check,
// status, detail, advice}. Exit 1 when a check fails; warnings do not.
//
// # inspect
//
//	redkit inspect [--prefix P] [--url URL] [--json] [--limit N]
//
// SCANs the keys under P (on every master of a cluster) and reports locks
// (held or free, fence, TTL, waiters), queues (waiting, delayed,
// in-flight, dead), streams (any key of TYPE stream: length, and per
// group consumers, pending and lag), sessions (keys under session:, and
// per-user index keys such as session:user:42), caches (entries, tags,
// refresh metadata and load locks per cache) and the other keys by first
// segment and type. The key layouts it knows are one table in layout.go.
//
// # demo and bench
//
//	redkit demo [-- pizzeria flags]
//	redkit bench [--quick] [--suite a,b] [--rounds N] [--duration D] [--url URL | --embedded] [--out FILE]
//
// run programs of redkit's source tree with go run, so they need the Go
// toolchain and a clone: the tree is found above the working directory
// (or the executable), or named by REDKIT_SOURCE. demo runs
// examples/pizzeria with the given arguments. bench runs the bench module
// against REDIS_URL's server (one node, plain redis://host:port; keys go
// under bench:) or one it starts itself, draws a progress bar on stderr
// from the bench program's -progress lines, and prints the Markdown
// report on stdout.
package main
