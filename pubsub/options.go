package pubsub

import (
	"context"
	"strconv"
	"time"

	"github.com/redkit-go/redkit/codec"
	"github.com/redkit-go/redkit/internal/optcheck"
)

// Defaults for SubscribeOptions and StreamOptions.
const (
	// DefaultBuffer is how many received messages a subscription holds
	// for its handler before its Overflow policy applies.
	DefaultBuffer = 1024
	// DefaultMaxDeliveries is how often a stream entry is delivered
	// before it moves to the dead-letter stream.
	DefaultMaxDeliveries = 5
	// DefaultClaimIdle is how long an entry stays pending on a consumer
	// before another consumer of the group (or the same one) reclaims it.
	DefaultClaimIdle = 30 * time.Second
	// DefaultConcurrency is how many handlers one Consume runs at once.
	DefaultConcurrency = 1
	// DefaultBatch is how many entries one read of a Consume fetches at
	// most (at least Concurrency).
	DefaultBatch = 64
)

// Overflow says what a subscription does with a message that arrives
// while its buffer is full.
type Overflow uint8

const (
	// Drop discards the message and counts it in SubscriptionStats.Dropped
	// (the default): a slow handler never slows the connection, and the
	// memory held is bounded by the buffer.
	Drop Overflow = iota
	// Block waits for room in the buffer. The subscription's connection
	// (its own) then stops reading, so Redis buffers the messages
	// instead, up to its client-output-buffer-limit for pub/sub, past
	// which it closes the connection; a connection silent for long may
	// also be taken for dead by the client. Either way the subscription
	// reconnects and counts a gap: Block trades memory for fewer losses,
	// it cannot make pub/sub lossless (use a Stream for that).
	Block
)

// String returns "drop" or "block".
func (o Overflow) String() string {
	switch o {
	case Drop:
		return "drop"
	case Block:
		return "block"
	}
	return "overflow(" + strconv.Itoa(int(o)) + ")"
}

// Gap describes a moment after which a subscription may have missed
// messages: its connection dropped, the server restarted or failed over,
// or (on a cluster) the slot of its shard channel moved. It is reported
// once the subscription is confirmed again, before any message received
// after it.
type Gap struct {
	// Channel is the subscription's channel, or its pattern, without the
	// Kit's prefix.
	Channel string
	// Cause is why the previous subscription ended: the connection's
	// error, or nil when the server ended it (a slot migration).
	Cause error
	// Gaps is how many gaps this report covers (more than 1 when several
	// happened before the handler goroutine could report them).
	Gaps int64
}

// SubscribeOptions tune one subscription. The zero value (or nil) means
// the defaults. Negative values are invalid: SubscribeWith returns the
// error Validate reports.
type SubscribeOptions struct {
	// Buffer is how many received messages wait for the handler at most,
	// besides those of the batch it is working through (the handler
	// takes the waiting messages all at once, so at most 2×Buffer are
	// held); default DefaultBuffer.
	Buffer int
	// Overflow is what happens to a message arriving at a full buffer;
	// default Drop.
	Overflow Overflow
	// OnGap, when set, is called on the handler's goroutine after each
	// gap (see Gap), before the messages received after it, so that a
	// live view can re-read its state. A panic in OnGap is recovered
	// and logged.
	OnGap func(ctx context.Context, g Gap)
	// Codec decodes payloads; nil means the Kit's.
	Codec codec.Codec
}

// Validate reports every invalid field of o, each error naming the field
// and its value; nil when o is nil or valid.
func (o *SubscribeOptions) Validate() error {
	if o == nil {
		return nil
	}
	c := optcheck.For("pubsub: SubscribeOptions")
	optcheck.NonNegative(c, "Buffer", o.Buffer)
	if o.Overflow > Block {
		c.Add("Overflow", "must be Drop or Block (got %d)", o.Overflow)
	}
	return c.Err()
}

// TopicOptions tune a Topic. The zero value (or nil) means the defaults.
type TopicOptions struct {
	// Classic makes the topic use PUBLISH and SUBSCRIBE even on a
	// cluster, where by default it uses sharded pub/sub (SPUBLISH and
	// SSUBSCRIBE: a message goes to one shard only, not to every node).
	// Set it when pattern subscriptions must see the topic's messages on
	// a cluster: Redis has no sharded pattern subscription, so
	// SubscribePattern uses PSUBSCRIBE, which sees only classic PUBLISH.
	Classic bool
	// Codec encodes and decodes payloads; nil means the Kit's.
	Codec codec.Codec
}

// StreamOptions configure a Stream. The zero value (or nil) means the
// defaults. Negative values are invalid: NewStream panics with the error
// Validate reports.
type StreamOptions struct {
	// MaxLen trims the stream to about this many entries on each
	// Publish (XADD MAXLEN ~); 0 means no trimming. Entries trimmed while
	// pending in a group are acknowledged and counted
	// (StreamStats.Trimmed), never retried.
	MaxLen int64
	// MaxDeliveries is how often an entry is delivered before it moves to
	// the dead-letter stream; default DefaultMaxDeliveries.
	MaxDeliveries int
	// ClaimIdle is how long an entry stays pending, unacknowledged, before
	// a consumer of the group reclaims it (XAUTOCLAIM): its consumer died,
	// or its handler failed; default DefaultClaimIdle. It must be longer
	// than a handler takes.
	ClaimIdle time.Duration
	// Concurrency is how many handlers one Consume runs at once; default
	// DefaultConcurrency, where entries are handled one at a time, in
	// order.
	Concurrency int
	// Batch is how many entries one read fetches at most; default
	// DefaultBatch, and never less than Concurrency. Fetched entries are
	// pending while they wait for a handler, so ClaimIdle must exceed the
	// time a batch takes to handle, or other consumers reclaim its tail
	// (delivering it twice).
	Batch int
	// Codec encodes and decodes entries; nil means the Kit's.
	Codec codec.Codec
}

// Validate reports every invalid field of o, each error naming the field
// and its value, joined with errors.Join; nil when o is nil or valid.
// NewStream panics with this error.
func (o *StreamOptions) Validate() error {
	if o == nil {
		return nil
	}
	c := optcheck.For("pubsub: StreamOptions")
	optcheck.NonNegative(c, "MaxLen", o.MaxLen)
	optcheck.NonNegative(c, "MaxDeliveries", o.MaxDeliveries)
	optcheck.NonNegative(c, "ClaimIdle", o.ClaimIdle)
	optcheck.NonNegative(c, "Concurrency", o.Concurrency)
	optcheck.NonNegative(c, "Batch", o.Batch)
	return c.Err()
}

func orDefault[N int | int64 | time.Duration](v, def N) N {
	if v == 0 {
		return def
	}
	return v
}
