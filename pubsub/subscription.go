package pubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/codec"
	"github.com/redkit-go/redkit/internal/engine"
	"github.com/redkit-go/redkit/internal/telemetry"
)

// kind of subscription.
type kind uint8

const (
	kindChannel kind = iota // SUBSCRIBE
	kindShard               // SSUBSCRIBE
	kindPattern             // PSUBSCRIBE
)

// Resubscription backoff after a failed attempt.
const (
	minBackoff = 20 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// SubscriptionStats are a subscription's counts since it started.
type SubscriptionStats struct {
	// Delivered is how many messages were handed to the handler.
	Delivered int64
	// Dropped is how many messages the Drop policy discarded because the
	// buffer was full.
	Dropped int64
	// DecodeErrors is how many payloads did not decode (never delivered).
	DecodeErrors int64
	// HandlerErrors is how many handler calls returned an error or
	// panicked.
	HandlerErrors int64
	// Gaps is how many times the subscription was confirmed again after
	// it had ended (a reconnect, a server restart or failover, a slot
	// migration): messages published in between were missed. Pub/sub is
	// at most once.
	Gaps int64
}

// Subscription is a live subscription made by Topic.Subscribe or
// SubscribePattern. It owns a connection and two goroutines, which Close
// stops. Its methods are safe for concurrent use.
type Subscription struct {
	k       *redkit.Kit
	name    string // channel or pattern without the prefix
	full    string // with it
	kind    kind
	opts    SubscribeOptions
	log     *slog.Logger
	handle  func(ctx context.Context, m rueidis.PubSubMessage)
	ctx     context.Context // ends with Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
	gapWake chan struct{}

	// The buffer: a slice the receiving goroutine appends to and the
	// handler goroutine swaps out whole, woken only when it was empty.
	// One lock per message and one wake-up per batch cost far less than
	// a channel send per message (the pubsub bench row: delivery vs
	// rueidis Receive).
	qmu   sync.Mutex
	queue []rueidis.PubSubMessage
	spare []rueidis.PubSubMessage
	wake  chan struct{} // the queue became non-empty
	space chan struct{} // the handler took the queue (for Block)

	confirmedOnce atomic.Bool // the first subscription was confirmed
	pendingGaps   atomic.Int64
	causeMu       sync.Mutex
	cause         error // why the last subscription ended

	delivered, dropped, decodeErrors, handlerErrors, gaps counter
	lastLog                                               [3]atomic.Int64 // unix nanos, per logKind
}

// logKind rate-limits warnings: at most one per kind per second.
type logKind int

const (
	logDrop logKind = iota
	logDecode
	logHandler
)

func subscribe[T any](ctx context.Context, op string, k *redkit.Kit, name, full string, kd kind, f codec.Format, h Handler[T], opts *SubscribeOptions) (*Subscription, error) {
	if h == nil {
		return nil, redkit.Wrap(op, name, fmt.Errorf("nil handler: %w", ErrInvalid))
	}
	if err := opts.Validate(); err != nil {
		return nil, redkit.Wrap(op, name, errors.Join(err, ErrInvalid))
	}
	s := &Subscription{k: k, name: name, full: full, kind: kd, log: engine.HooksOf(k.Client()).Tel.Logger}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Codec != nil {
		f.Codec = s.opts.Codec
	}
	s.opts.Buffer = orDefault(s.opts.Buffer, DefaultBuffer)
	s.instrument()
	s.gapWake = make(chan struct{}, 1)
	s.wake = make(chan struct{}, 1)
	s.space = make(chan struct{}, 1)
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))

	prefix := k.Key()
	s.handle = func(ctx context.Context, m rueidis.PubSubMessage) {
		v, err := codec.Decode[T](f, unsafe.Slice(unsafe.StringData(m.Message), len(m.Message)))
		if err != nil {
			s.decodeErrors.Add(1)
			s.warn(logDecode, "pubsub: a message does not decode; dropped", "channel", m.Channel, telemetry.KeyError, err)
			return
		}
		msg := Message[T]{Channel: trimPrefix(prefix, m.Channel), Payload: v}
		if s.kind == kindPattern {
			msg.Pattern = s.name
		}
		s.delivered.Add(1)
		if err := callHandler(ctx, h, msg); err != nil {
			s.handlerErrors.Add(1)
			s.warn(logHandler, "pubsub: handler failed", "channel", m.Channel, telemetry.KeyError, err)
		}
	}

	ready := make(chan error, 1)
	s.wg.Add(2)
	go s.receive(ready)
	go s.work()
	select {
	case err := <-ready:
		if err != nil {
			s.Close()
			return nil, redkit.Wrap(op, name, err)
		}
		return s, nil
	case <-ctx.Done():
		s.Close()
		return nil, redkit.Wrap(op, name, ctx.Err())
	}
}

func callHandler[T any](ctx context.Context, h Handler[T], m Message[T]) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return h(ctx, m)
}

// warn logs at most once a second per kind, so a flood of drops or bad
// payloads cannot flood the log; the counts are in Stats.
func (s *Subscription) warn(lk logKind, msg string, args ...any) {
	now := time.Now().UnixNano()
	last := s.lastLog[lk].Load()
	if now-last < int64(time.Second) || !s.lastLog[lk].CompareAndSwap(last, now) {
		return
	}
	s.log.Warn(msg, append(args, "subscription", s.name)...)
}

func (s *Subscription) command(b rueidis.Builder) rueidis.Completed {
	switch s.kind {
	case kindShard:
		return b.Ssubscribe().Channel(s.full).Build()
	case kindPattern:
		return b.Psubscribe().Pattern(s.full).Build()
	}
	return b.Subscribe().Channel(s.full).Build()
}

// receive keeps the subscription up until Close: one dedicated
// connection per attempt, with pub/sub hooks (messages are handed over
// on the connection's reading goroutine, one goroutine switch fewer than
// Receive, which the pubsub bench row's delivery rate pays for). A
// connection of its own means every confirmation the hook sees is this
// subscription's, and a connection that drops ends the attempt (a
// dedicated connection does not resubscribe behind our back), so each
// confirmation after the first is exactly one gap.
func (s *Subscription) receive(ready chan<- error) {
	defer s.wg.Done()
	backoff := minBackoff
	for {
		var confirmed atomic.Bool
		ended := make(chan struct{}, 1)
		hooks := rueidis.PubSubHooks{
			OnMessage: s.onMessage,
			OnSubscription: func(c rueidis.PubSubSubscription) {
				// Runs on the connection's reading goroutine: no blocking.
				if c.Channel != s.full {
					return
				}
				switch c.Kind {
				case "unsubscribe", "sunsubscribe", "punsubscribe":
					signal(ended)
					return
				case "subscribe", "ssubscribe", "psubscribe":
				default:
					return
				}
				if confirmed.Swap(true) {
					return
				}
				if !s.confirmedOnce.Swap(true) {
					ready <- nil
					return
				}
				s.gaps.Add(1)
				s.pendingGaps.Add(1)
				signal(s.gapWake)
			},
		}
		dc, release := s.k.Client().Dedicate()
		closed := dc.SetPubSubHooks(hooks)
		err := dc.Do(s.ctx, s.command(dc.B())).Error()
		if err == nil {
			select {
			case <-s.ctx.Done():
			case <-ended:
			case e, ok := <-closed:
				err = e
				if !ok || err == nil {
					err = errors.New("pub/sub connection closed")
				}
			}
		}
		release()
		if s.ctx.Err() != nil {
			return
		}
		if !s.confirmedOnce.Load() {
			if err == nil {
				err = errors.New("unsubscribed before the subscription was confirmed")
			}
			ready <- err
			return
		}
		if kitClosed(err) {
			// The Kit is gone for good: end the subscription (Close
			// still returns nil).
			s.log.Warn("pubsub: the Kit was closed under a subscription; it ends", "subscription", s.name)
			s.cancel()
			return
		}
		s.causeMu.Lock()
		s.cause = err
		s.causeMu.Unlock()
		if confirmed.Load() {
			backoff = minBackoff
			if err == nil {
				// The server ended it (a slot migration): resubscribe now.
				s.log.Info("pubsub: subscription ended by the server; resubscribing", "subscription", s.name)
				continue
			}
		}
		s.log.Info("pubsub: subscription lost; resubscribing", "subscription", s.name, telemetry.KeyError, err)
		if !sleep(s.ctx, jitter(backoff)) {
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// onMessage runs on the connection's reading goroutine.
func (s *Subscription) onMessage(m rueidis.PubSubMessage) {
	for {
		s.qmu.Lock()
		if len(s.queue) < s.opts.Buffer {
			s.queue = append(s.queue, m)
			first := len(s.queue) == 1
			s.qmu.Unlock()
			if first {
				signal(s.wake)
			}
			return
		}
		s.qmu.Unlock()
		if s.opts.Overflow != Block {
			s.dropped.Add(1)
			s.warn(logDrop, "pubsub: handler too slow, buffer full; message dropped",
				"channel", m.Channel, "buffer", s.opts.Buffer)
			return
		}
		select {
		case <-s.space:
		case <-s.ctx.Done():
			return
		}
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// work runs the handler, one message at a time, and OnGap before the
// first message received after a gap.
func (s *Subscription) work() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.gapWake:
			s.reportGaps()
		case <-s.wake:
		}
		s.qmu.Lock()
		batch := s.queue
		s.queue = s.spare[:0]
		s.qmu.Unlock()
		signal(s.space)
		for i := range batch {
			if s.ctx.Err() != nil {
				return
			}
			if s.pendingGaps.Load() != 0 {
				s.reportGaps()
			}
			s.handle(s.ctx, batch[i])
		}
		clear(batch) // let the payloads go
		s.spare = batch[:0]
	}
}

func (s *Subscription) reportGaps() {
	n := s.pendingGaps.Swap(0)
	if n == 0 || s.opts.OnGap == nil {
		return
	}
	s.causeMu.Lock()
	cause := s.cause
	s.causeMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("pubsub: OnGap panicked", "subscription", s.name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	s.opts.OnGap(s.ctx, Gap{Channel: s.name, Cause: cause, Gaps: n})
}

// Close unsubscribes, stops the subscription's goroutines and gives its
// connection back; it waits for a running handler to return (so it must
// not be called from the handler itself). Messages still buffered are
// discarded. Close is idempotent and always returns nil.
func (s *Subscription) Close() error {
	s.once.Do(func() {
		s.cancel()
		s.wg.Wait()
	})
	return nil
}

// Name returns the subscription's channel or pattern, without the Kit's
// prefix.
func (s *Subscription) Name() string { return s.name }

// Stats returns the subscription's counts so far.
func (s *Subscription) Stats() SubscriptionStats {
	return SubscriptionStats{
		Delivered:     s.delivered.Load(),
		Dropped:       s.dropped.Load(),
		DecodeErrors:  s.decodeErrors.Load(),
		HandlerErrors: s.handlerErrors.Load(),
		Gaps:          s.gaps.Load(),
	}
}

// kitClosed reports an error saying the Kit was closed.
func kitClosed(err error) bool {
	return errors.Is(err, redkit.ErrClosed) || errors.Is(err, rueidis.ErrClosing)
}

// jitter returns a random duration in [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
