// Package queue is a reliable priority work queue and job system on
// Redis: Priority[T], its workers (Work), and schedules (Scheduler).
//
// Producers Push values with a priority (optionally delayed). Workers Pop
// (or PopWait for) the job with the highest priority — the oldest first
// among equal priorities — which one Lua script moves atomically from the
// ready set to an in-flight set, scored by a visibility deadline and tagged
// with a receipt token for this delivery. A worker that finishes Acks the
// job; one that cannot Nacks it (back to the queue, now or after a delay).
// A worker that dies or stalls past the deadline loses the job: the next
// Pop by anyone returns it to the ready set and delivers it again, with
// Attempts counting the deliveries, and the stale worker's Ack then fails
// with ErrJobLost. So a job is delivered to one worker at a time, and is
// never lost while Redis keeps its data: delivery is at least once, and
// the handlers must be idempotent, or check Attempts.
//
// All of a queue's keys share one hash tag, k.Key("queue", "{name}", ...),
// so every script touches a single cluster slot: queues work on one node,
// Sentinel and Cluster alike (one queue lives on one shard; spread load
// over several queues). Deadlines and delays use the Redis server's clock,
// so workers' clocks do not need to agree.
//
// PopWait blocks on a wake-up list that Push and Nack signal (BLPOP on a
// dedicated connection, for the call only), with a bounded poll as the
// fallback (one Pop per Options.PollInterval, default 1s, while idle), so
// a waiting worker starts within a round trip of a push. It starts no
// goroutine. A Pop that finds the queue empty also clears stale wake-up
// tokens, so a waiter is not woken for jobs already taken.
//
// # Jobs: Work, retries, dead letters, unique jobs
//
// Work runs a Handler on a pool of WorkOptions.Concurrency slots. A nil
// return acknowledges the job; an error or a panic (logged with its stack)
// is a failed attempt, retried after Options.Backoff (by default 1s,
// doubling, jittered, capped at 1h) until Options.MaxAttempts deliveries
// (default 10), after which the job is dead: Dead lists dead jobs with
// their LastError, Requeue brings one back, and dead jobs are removed,
// with every field they had, DeadRetention (default 7 days) after they
// died. While a handler runs, Work extends the job's visibility, so a
// long job is never delivered twice; if the process dies, the job comes
// back after Options.Visibility. When Work's ctx ends it stops popping,
// waits up to ShutdownTimeout for running handlers, gives back the jobs
// still running (the attempt not counted) and returns nil.
//
// Idle slots are woken, not polling: one BLPOP per Work call on the
// queue's wake-up list (only while a slot is idle) wakes one slot per
// pushed job; a slot whose last pop left jobs ready pops again at once;
// and a local timer wakes a slot when the earliest delayed job or retry
// falls due (delayed pushes and retries put their due time in the wake-up
// token). A pushed job starts within a round trip or two; a delayed one
// within milliseconds of when it is due. Under load, the slots' pops and
// acks are batched: slots asking at the same time share one script call
// (up to 64 jobs), so a job costs fewer round trips and Redis commands
// than a pop and an ack of its own.
//
// PushUnique refuses (ErrDuplicate) a job whose unique key is held by a
// job still waiting, delayed or in flight, or pushed less than ttl ago; the
// key is released when its job is acknowledged or dead and the ttl has
// passed.
//
// Nothing outlives its purpose: a queue's keys hold only live jobs, dead
// jobs within their retention, unique keys within their ttl, and two
// counters (Stats.Processed and Failed) that expire DeadRetention after
// the queue's last use; the FIFO counter and the wake-up list go when the
// queue is found empty.
//
// # Schedules
//
// A Scheduler fires functions on fixed intervals (Every) or cron specs
// (Cron). Any number of processes run the same schedule; each tick fires
// in exactly one of them, at most once, across restarts and clock skew
// (see Scheduler). Ticks missed while no process ran are skipped and
// counted, not fired late. Pair a tick with PushUnique for at-least-once
// work (see the Scheduler example).
//
// # Several queues and clusters
//
// A queue's keys share one hash tag, so one queue lives on one cluster
// shard. To spread load over a cluster, split the work over several
// queues (say "mail-0".."mail-7", picking one by a hash of the job) and
// serve them together with WorkMany, which also serves queues of
// different kinds by priority: strictly in order (WorkOptions.Strict) or,
// by default, in proportion to each Source's weight.
//
// # Metrics
//
// Stats costs one round trip of O(1) commands. The Kit's MeterProvider
// gets counters queue.pushed, delivered, acked, nacked, reclaimed, lost,
// processed, failed, retried and dead, histograms queue.handler.duration
// and queue.pickup.latency (from a job becoming ready to its delivery, on
// the Redis clock), and for schedules queue.schedule.fired, skipped and
// failed.
//
// Errors other than ErrEmpty are *redkit.Error values whose Key is the
// queue's name (not its Redis keys); test them with errors.Is
// (ErrJobLost, ErrDuplicate, redkit.ErrNotFound, redkit.ErrDecode,
// redkit.ErrWrongType...).
//
// What it leaves out: job results, payload size limits beyond Redis's
// own, and a web UI (Stats and Dead are the building blocks). For fan-out
// to many consumers, or a durable log, use pubsub.Stream.
package queue
