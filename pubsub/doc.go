// Package pubsub is typed publish/subscribe and durable streams on Redis.
//
// # Pub/sub
//
// A Topic[T] publishes T values to a channel (Publish, or PublishMany in
// one pipeline) and subscribes handlers to it (Subscribe, SubscribeWith);
// SubscribePattern subscribes to every channel matching a pattern.
// Channel names get the Kit's prefix, and Message.Channel comes without
// it. Values are encoded with the Kit's codec (strings and byte slices
// raw), so other clients can publish and read them; a payload that does
// not decode is counted and logged, never delivered.
//
// Each Subscription holds a dedicated connection and two goroutines until
// Close: one keeps the subscription up, one runs the handler, one message
// at a time, in order. Messages wait for it in a bounded buffer
// (SubscribeOptions.Buffer, default DefaultBuffer).
// When the buffer is full the default policy, Drop, discards and counts
// the message (Stats().Dropped), so a slow handler never holds the
// connection back and memory stays bounded; Block waits instead. A
// handler's error or panic is logged and counted, and the next message is
// delivered as usual.
//
// Pub/sub is at most once. When the connection drops, the server restarts
// or fails over, or (on a cluster) the slot of a shard channel moves, the
// subscription subscribes again by itself, with backoff, on a new
// connection — never a second subscription — and counts a gap
// (Stats().Gaps): messages published meanwhile are lost. SubscribeOptions.
// OnGap is told of each gap before the first message after it, so a live
// view can re-read its state. On a cluster topics use sharded pub/sub
// (SPUBLISH, SSUBSCRIBE: a message travels to its shard only) unless
// TopicOptions.Classic; patterns use PSUBSCRIBE, which sees classic
// PUBLISH only. One node and Sentinel use classic pub/sub.
//
// # Streams
//
// A Stream[T] is a Redis stream read by consumer groups: at least once,
// durable as far as the server persists. Publish appends (XADD, with
// approximate MAXLEN trimming when StreamOptions.MaxLen is set). Consume
// creates the group when missing and calls its handler for each entry,
// Concurrency at a time (default 1, in order); a nil return acknowledges
// the entry. Entries left pending — a failed handler, a dead consumer —
// are reclaimed after ClaimIdle (XAUTOCLAIM) and delivered again; after
// MaxDeliveries deliveries an entry moves to the dead-letter stream
// (DeadLetters) with its reason, by a script that acknowledges it in the
// same step (the stream and its dead-letter stream share a hash tag, so
// this works on a cluster). Entries trimmed from the stream while pending
// are acknowledged and counted (Stats().Trimmed), never retried forever. A
// consumer is never deleted from its group while entries are pending on
// it: a stop releases its unfinished entries to the others and deletes
// the consumer only when nothing is left on it. Info reports the length,
// the group's pending entries, its lag and its consumers.
//
// What it leaves out: exactly-once delivery, message ordering across a
// Concurrency above 1 or across reclaims, keyspace notifications, and
// replaying pub/sub messages missed during a gap (use a Stream for that).
package pubsub
