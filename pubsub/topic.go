package pubsub

import (
	"context"
	"errors"
	"strings"
	"unsafe"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/codec"
)

// Message is one message handed to a Handler.
type Message[T any] struct {
	// Channel is the channel or stream name, without the Kit's prefix.
	Channel string
	// Pattern is the pattern that matched, without the prefix, for
	// pattern subscriptions; empty otherwise.
	Pattern string
	// ID is the stream entry ID; empty for pub/sub.
	ID string
	// Payload is the decoded value. A payload that does not decode is
	// never delivered (it is counted, and for a stream dead-lettered).
	Payload T
	// Deliveries is, for a stream entry, how often it has been delivered
	// counting this delivery (1 the first time); 0 for pub/sub.
	Deliveries int64
	// Reason is, for an entry of a dead-letter stream, why it was moved
	// there; empty otherwise.
	Reason string
}

// Handler handles one message. For a stream, returning nil acknowledges
// the entry; an error (or a panic) leaves it pending, to be delivered
// again after StreamOptions.ClaimIdle. For pub/sub an error or panic is
// counted and logged, and the next message is delivered as usual.
type Handler[T any] func(ctx context.Context, m Message[T]) error

// Topic publishes T values to one pub/sub channel, and subscribes to it.
// The channel's name on Redis is k.Key(channel). On a cluster a Topic
// uses sharded pub/sub (SPUBLISH, SSUBSCRIBE) unless TopicOptions.Classic
// is set; on one node and on Sentinel, PUBLISH and SUBSCRIBE. A Topic
// holds no connection or goroutine and is safe for concurrent use.
type Topic[T any] struct {
	k       *redkit.Kit
	name    string // without the prefix
	channel string // with it
	f       codec.Format
	classic bool
}

// NewTopic returns the topic of channel on k, with the defaults of
// TopicOptions. It does no I/O. An empty channel is reported by every
// call (redkit.ErrEmptyKey). It panics if k is nil.
func NewTopic[T any](k *redkit.Kit, channel string) *Topic[T] {
	return NewTopicWith[T](k, channel, nil)
}

// NewTopicWith is NewTopic with options; nil opts means the defaults.
func NewTopicWith[T any](k *redkit.Kit, channel string, opts *TopicOptions) *Topic[T] {
	if k == nil {
		panic("pubsub: NewTopic with a nil *redkit.Kit")
	}
	t := &Topic[T]{k: k, name: channel, channel: k.Key(channel), f: k.Format()}
	if opts != nil {
		t.classic = opts.Classic
		if opts.Codec != nil {
			t.f.Codec = opts.Codec
		}
	}
	return t
}

// Name returns the topic's channel name without the Kit's prefix.
func (t *Topic[T]) Name() string { return t.name }

func (t *Topic[T]) sharded() bool { return !t.classic && t.k.Mode() == "cluster" }

func (t *Topic[T]) publishCmd(payload []byte) rueidis.Completed {
	msg := unsafe.String(unsafe.SliceData(payload), len(payload)) // payload is ours and never changes
	if t.sharded() {
		return t.k.B().Spublish().Channel(t.channel).Message(msg).Build()
	}
	return t.k.B().Publish().Channel(t.channel).Message(msg).Build()
}

func (t *Topic[T]) check(op string) error {
	if t.name == "" {
		return redkit.Wrap(op, "", redkit.ErrEmptyKey)
	}
	return nil
}

// Publish sends msg and returns how many subscribers received it (on a
// cluster with sharded pub/sub, those of the channel's shard). Delivery
// is at most once: a subscriber that is reconnecting misses it (and
// counts a gap). Errors are *redkit.Error values naming the channel.
func (t *Topic[T]) Publish(ctx context.Context, msg T) (receivers int64, err error) {
	const op = "pubsub: publish"
	if err := t.check(op); err != nil {
		return 0, err
	}
	b, err := codec.Encode(t.f, msg)
	if err != nil {
		return 0, redkit.Wrap(op, t.name, err)
	}
	r, err := t.k.Do(ctx, t.publishCmd(b))
	if err != nil {
		return 0, redkit.Wrap(op, t.name, err)
	}
	n, err := r.AsInt64()
	if err != nil {
		return 0, redkit.Wrap(op, t.name, err)
	}
	return n, nil
}

// PublishMany sends msgs in one pipeline, in order. It returns the
// errors of the messages that failed, joined (each naming the channel and
// the message's index); the others were sent.
func (t *Topic[T]) PublishMany(ctx context.Context, msgs ...T) error {
	const op = "pubsub: publish many"
	if err := t.check(op); err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	cmds := make([]rueidis.Completed, 0, len(msgs))
	var errs []error
	for _, m := range msgs {
		b, err := codec.Encode(t.f, m)
		if err != nil {
			errs = append(errs, redkit.Wrap(op, t.name, err))
			continue
		}
		cmds = append(cmds, t.publishCmd(b))
	}
	res, err := t.k.DoMulti(ctx, cmds...)
	if err != nil {
		return redkit.Wrap(op, t.name, err)
	}
	for _, r := range res {
		if err := r.Error(); err != nil {
			errs = append(errs, redkit.Wrap(op, t.name, err))
		}
	}
	return errors.Join(errs...)
}

// Subscribe subscribes h to the topic with the default SubscribeOptions.
// It returns once the server confirmed the subscription; ctx bounds only
// that wait (handlers get a context that ends with Close). See
// SubscribeWith.
func (t *Topic[T]) Subscribe(ctx context.Context, h Handler[T]) (*Subscription, error) {
	return t.SubscribeWith(ctx, h, nil)
}

// SubscribeWith is Subscribe with options (nil means the defaults).
//
// The subscription holds one connection of its own (from the Kit's pool
// of dedicated connections) and two goroutines, until Close. It
// resubscribes by itself after the connection drops, the server restarts
// or fails over, or its cluster slot moves, and counts each of these in
// Stats().Gaps (and reports it to SubscribeOptions.OnGap). Messages
// go through a buffer of SubscribeOptions.Buffer to h, which runs on one
// goroutine, one message at a time, in order; a payload that does not
// decode as T is counted and logged, never delivered; an error or a panic
// of h is counted and logged, and the next message is delivered as usual.
//
// It fails when h is nil, the channel is empty, opts is invalid, or the
// first SUBSCRIBE fails or ctx ends before the server confirms it.
func (t *Topic[T]) SubscribeWith(ctx context.Context, h Handler[T], opts *SubscribeOptions) (*Subscription, error) {
	const op = "pubsub: subscribe"
	if err := t.check(op); err != nil {
		return nil, err
	}
	kind := kindChannel
	if t.sharded() {
		kind = kindShard
	}
	return subscribe(ctx, op, t.k, t.name, t.channel, kind, t.f, h, opts)
}

// SubscribePattern subscribes h to every channel matching pattern (a
// PSUBSCRIBE glob, after the Kit's prefix, which is matched literally),
// with the default SubscribeOptions. Message.Channel is the channel that
// matched, Message.Pattern the pattern, both without the prefix. On a
// cluster it sees only classic PUBLISH messages: use TopicOptions.Classic
// for topics it must see. Otherwise as Topic.Subscribe.
func SubscribePattern[T any](ctx context.Context, k *redkit.Kit, pattern string, h Handler[T]) (*Subscription, error) {
	return SubscribePatternWith(ctx, k, pattern, h, nil)
}

// SubscribePatternWith is SubscribePattern with options (nil means the
// defaults): see Topic.SubscribeWith. It panics if k is nil.
func SubscribePatternWith[T any](ctx context.Context, k *redkit.Kit, pattern string, h Handler[T], opts *SubscribeOptions) (*Subscription, error) {
	const op = "pubsub: subscribe pattern"
	if k == nil {
		panic("pubsub: SubscribePattern with a nil *redkit.Kit")
	}
	if pattern == "" {
		return nil, redkit.Wrap(op, "", redkit.ErrEmptyKey)
	}
	full := redkit.EscapePattern(k.Key()) + pattern
	return subscribe(ctx, op, k, pattern, full, kindPattern, k.Format(), h, opts)
}

// trimPrefix removes the Kit's prefix from a channel name Redis reported.
func trimPrefix(prefix, channel string) string {
	return strings.TrimPrefix(channel, prefix)
}
