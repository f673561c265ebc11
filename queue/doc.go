// Package queue is a reliable priority work queue on Redis: Priority[T].
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
// goroutine.
//
// Errors other than ErrEmpty are *redkit.Error values whose Key is the
// queue's name (not its Redis keys); test them with errors.Is
// (ErrJobLost, redkit.ErrDecode, redkit.ErrWrongType...).
//
// What it leaves out: dead-letter queues and maximum attempts (check
// Job.Attempts and Ack to drop), job results, unique jobs, cron
// schedules, and per-job payload size limits beyond Redis's own. For
// fan-out to many consumers, or a durable log, use pubsub.Stream.
package queue
