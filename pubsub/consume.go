package pubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/codec"
	"github.com/redkit-go/redkit/internal/engine"
	"github.com/redkit-go/redkit/internal/telemetry"
)

// Bounds of one Consume.
const (
	// maxBlock bounds one XREADGROUP BLOCK, so that reclaiming runs on
	// time whatever ClaimIdle.
	maxBlock = 2 * time.Second
	// maxAckBatch is how many IDs one XACK carries at most.
	maxAckBatch = 1024
	// stopTimeout bounds the Redis calls of a stop (acks, release).
	stopTimeout = 5 * time.Second
	// maxLastErrs bounds the handler errors remembered for dead-letter
	// reasons.
	maxLastErrs = 10000
)

// entry is one stream entry as read.
type entry struct {
	id         string
	payload    string
	reason     string
	deliveries int64
}

// consumer is one Consume call.
type consumer[T any] struct {
	s      *Stream[T]
	group  string
	name   string
	h      Handler[T]
	log    *slog.Logger
	work   chan entry
	acks   chan string
	cursor string // XAUTOCLAIM's

	// With Concurrency 1 the fetching goroutine runs the handler itself
	// and acknowledges each batch in one XACK: no goroutine hand-off per
	// entry (the pubsub bench's streams rows pay for it).
	inline  bool
	hctx    context.Context
	pending []string
}

// Consume reads the stream as consumer of group and calls h for each
// entry, until ctx ends. It creates the group (reading from the start
// of the stream) when it is missing. An entry is acknowledged when h
// returns nil; when h returns an error or panics, the entry stays pending
// and is delivered again once it has been idle for ClaimIdle (to this or
// another consumer of the group), up to MaxDeliveries deliveries in all,
// after which it moves to the dead-letter stream with the reason. An
// entry that does not decode as T moves there at once. Entries pending on
// a consumer that died are reclaimed the same way (XAUTOCLAIM), so every
// entry is handled at least once: handlers must be idempotent.
//
// Concurrency handlers run at once; with 1 (the default) entries are
// handled one at a time, in stream order (a reclaimed entry comes when it
// is reclaimed). Handlers get a context with ctx's values that is not
// cancelled when ctx is: when ctx ends, Consume stops reading, waits for
// the running handlers, sends their acknowledgements, and releases the
// entries it had fetched but not handled (they become claimable by the
// group's other consumers at once). It then deletes its consumer from the
// group if, and only if, nothing is pending on it.
//
// Entries left pending by an earlier run of a consumer of the same name
// are reclaimed like any other's, once idle for ClaimIdle.
//
// Consume returns ctx's error after such a stop, or an error at once
// when group or consumer is empty, h is nil, or the group cannot be
// created, and redkit.ErrClosed when the Kit is closed under it.
// Failures while running (Redis unavailable, a reconnect) are logged and
// retried with backoff.
func (s *Stream[T]) Consume(ctx context.Context, group, consumerName string, h Handler[T]) error {
	const op = "pubsub: consume"
	if err := s.check(op); err != nil {
		return err
	}
	switch {
	case group == "":
		return redkit.Wrap(op, s.name, fmt.Errorf("empty group: %w", redkit.ErrEmptyKey))
	case consumerName == "":
		return redkit.Wrap(op, s.name, fmt.Errorf("empty consumer: %w", redkit.ErrEmptyKey))
	case h == nil:
		return redkit.Wrap(op, s.name, fmt.Errorf("nil handler: %w", ErrInvalid))
	}
	if err := s.createGroup(ctx, group); err != nil {
		return redkit.Wrap(op, s.name, err)
	}
	c := &consumer[T]{
		s: s, group: group, name: consumerName, h: h,
		log:    engine.HooksOf(s.k.Client()).Tel.Logger,
		work:   make(chan entry),
		acks:   make(chan string, 2*s.opt.Batch),
		cursor: "0-0",
	}
	c.hctx = context.WithoutCancel(ctx)
	c.inline = s.opt.Concurrency == 1
	if c.inline {
		err := c.fetch(ctx)
		c.flush()
		c.release(c.hctx)
		return err
	}
	var workers sync.WaitGroup
	for range s.opt.Concurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for e := range c.work {
				if c.handle(c.hctx, e) {
					c.acks <- e.id
				}
			}
		}()
	}
	ackDone := make(chan struct{})
	go c.acker(ackDone)

	err := c.fetch(ctx)

	close(c.work)
	workers.Wait()
	close(c.acks)
	<-ackDone
	c.release(c.hctx)
	return err
}

func (s *Stream[T]) createGroup(ctx context.Context, group string) error {
	_, err := s.k.Do(ctx, s.k.B().XgroupCreate().Key(s.key).Group(group).Id("0").Mkstream().Build())
	if err != nil && !isBusyGroup(err) {
		return err
	}
	return nil
}

// fetch reads and dispatches entries until ctx ends (it then returns
// ctx's error) or the Kit is closed.
func (c *consumer[T]) fetch(ctx context.Context) error {
	claimEvery := max(c.s.opt.ClaimIdle/2, 10*time.Millisecond)
	nextClaim := time.Now()
	backoff := minBackoff
	for ctx.Err() == nil {
		if !time.Now().Before(nextClaim) {
			entries, more, err := c.reclaim(ctx)
			nextClaim = time.Now().Add(claimEvery)
			if err != nil && ctx.Err() == nil {
				c.log.Warn("pubsub: reclaiming idle entries failed", "stream", c.s.name, "group", c.group, telemetry.KeyError, err)
			} else if more {
				nextClaim = time.Now()
			}
			for _, e := range entries {
				if !c.dispatch(ctx, e) {
					return ctx.Err()
				}
			}
			c.flush()
		}
		wait := min(max(time.Until(nextClaim), time.Millisecond), maxBlock)
		entries, err := c.read(ctx, wait)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if kitClosed(err) {
				return redkit.Wrap("pubsub: consume", c.s.name, err)
			}
			c.flush()
			if isNoGroup(err) {
				err = c.s.createGroup(ctx, c.group)
				if err == nil {
					continue
				}
			}
			c.log.Warn("pubsub: reading the stream failed; retrying", "stream", c.s.name, "group", c.group, telemetry.KeyError, err)
			if !sleep(ctx, jitter(backoff)) {
				return ctx.Err()
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		for _, e := range entries {
			if !c.dispatch(ctx, e) {
				return ctx.Err()
			}
		}
		// The inline handler's acknowledgements go with the next read.
	}
	return ctx.Err()
}

// dispatch hands e to a worker; false when ctx ended first (e stays
// pending on this consumer, and the stop releases it).
func (c *consumer[T]) dispatch(ctx context.Context, e entry) bool {
	if c.inline {
		if ctx.Err() != nil {
			return false
		}
		if c.handle(c.hctx, e) {
			c.pending = append(c.pending, e.id)
		}
		return true
	}
	select {
	case c.work <- e:
		return true
	case <-ctx.Done():
		return false
	}
}

// read fetches new entries (XREADGROUP >), waiting up to wait for one.
// The inline handler's pending acknowledgements go in the same round
// trip, with a read that does not block (one write and one read less
// per batch while entries keep coming, on the shared pipeline rather
// than a connection of its own: the pubsub bench's streams rows); when
// it finds nothing, the next read blocks.
func (c *consumer[T]) read(ctx context.Context, wait time.Duration) ([]entry, error) {
	b := c.s.k.B()
	var r rueidis.RedisMessage
	var err error
	if len(c.pending) == 0 {
		r, err = c.s.k.Do(ctx, b.Arbitrary("XREADGROUP").Args("GROUP", c.group, c.name,
			"COUNT", strconv.Itoa(c.s.opt.Batch), "BLOCK", strconv.FormatInt(max(wait.Milliseconds(), 1), 10), "STREAMS").
			Keys(c.s.key).Args(">").Blocking())
	} else {
		// A stop must not cut this round trip short: Redis may have
		// applied the XACK already, and the stop's flush would then find
		// nothing pending and count none of them acknowledged. The read
		// does not block, so this waits one round trip (bounded like the
		// flush it replaces); entries it brings stay pending on this
		// consumer, and the stop releases them.
		mctx, cancel := context.WithTimeout(c.hctx, stopTimeout)
		var res []rueidis.RedisResult
		res, err = c.s.k.DoMulti(mctx,
			b.Xack().Key(c.s.key).Group(c.group).Id(c.pending...).Build(),
			b.Arbitrary("XREADGROUP").Args("GROUP", c.group, c.name, "COUNT", strconv.Itoa(c.s.opt.Batch), "STREAMS").
				Keys(c.s.key).Args(">").Build())
		cancel()
		if err == nil {
			c.acked(c.pending, res[0])
			c.pending = c.pending[:0]
			r, err = res[1].ToMessage()
		}
	}
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return nil, nil
		}
		return nil, err
	}
	var list []rueidis.RedisMessage
	if r.IsMap() {
		m, err := r.AsMap()
		if err != nil {
			return nil, err
		}
		v := m[c.s.key]
		list, err = v.ToArray()
		if err != nil {
			return nil, err
		}
	} else {
		streams, err := r.ToArray()
		if err != nil {
			return nil, err
		}
		for _, st := range streams {
			kv, err := st.ToArray()
			if err != nil || len(kv) != 2 {
				return nil, fmt.Errorf("XREADGROUP: unexpected reply")
			}
			if list, err = kv[1].ToArray(); err != nil {
				return nil, err
			}
		}
	}
	return parseEntries(list, 1, nil)
}

// parseEntries parses [id, [field, value, ...]] pairs. Entries whose
// fields are nil (deleted) are skipped.
func parseEntries(list []rueidis.RedisMessage, deliveries int64, counts map[string]int64) ([]entry, error) {
	out := make([]entry, 0, len(list))
	for _, v := range list {
		kv, err := v.ToArray()
		if err != nil || len(kv) != 2 {
			return nil, fmt.Errorf("stream entry: unexpected reply")
		}
		id, err := kv[0].ToString()
		if err != nil {
			return nil, err
		}
		fields, err := kv[1].ToArray()
		if err != nil {
			if rueidis.IsRedisNil(err) {
				continue
			}
			return nil, err
		}
		e := entry{id: id, deliveries: deliveries}
		if n, ok := counts[id]; ok {
			e.deliveries = n + 1
		}
		for i := 0; i+1 < len(fields); i += 2 {
			f, _ := fields[i].ToString()
			switch f {
			case payloadField:
				e.payload, _ = fields[i+1].ToString()
			case "reason":
				e.reason, _ = fields[i+1].ToString()
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// reclaim moves entries idle past ClaimIdle that were delivered
// MaxDeliveries times to the dead-letter stream, then claims up to a
// batch of the other idle ones (XAUTOCLAIM) for this consumer. more is
// true when XAUTOCLAIM has not scanned the whole pending list yet.
func (c *consumer[T]) reclaim(ctx context.Context) (_ []entry, more bool, err error) {
	s := c.s
	idle := strconv.FormatInt(max(s.opt.ClaimIdle.Milliseconds(), 1), 10)
	batch := strconv.Itoa(s.opt.Batch)
	r, err := s.k.Do(ctx, s.k.B().Arbitrary("XPENDING").Keys(s.key).Args(c.group, "IDLE", idle, "-", "+", batch).Build())
	if err != nil {
		return nil, false, err
	}
	pend, err := r.ToArray()
	if err != nil {
		return nil, false, err
	}
	counts := make(map[string]int64, len(pend))
	for _, p := range pend {
		f, err := p.ToArray()
		if err != nil || len(f) != 4 {
			return nil, false, fmt.Errorf("XPENDING: unexpected reply")
		}
		id, _ := f[0].ToString()
		n, _ := f[3].AsInt64()
		if n >= int64(s.opt.MaxDeliveries) {
			if err := c.deadLetter(ctx, id, c.maxReason(id, n), n); err != nil {
				return nil, false, err
			}
			continue
		}
		counts[id] = n
	}
	if len(counts) == 0 && len(pend) < s.opt.Batch {
		// Nothing idle is left to claim (XPENDING lists trimmed entries
		// too, so none of those either): save the XAUTOCLAIM.
		return nil, false, nil
	}
	r, err = s.k.Do(ctx, s.k.B().Arbitrary("XAUTOCLAIM").Keys(s.key).Args(c.group, c.name, idle, c.cursor, "COUNT", batch).Build())
	if err != nil {
		return nil, false, err
	}
	parts, err := r.ToArray()
	if err != nil || len(parts) < 2 {
		return nil, false, fmt.Errorf("XAUTOCLAIM: unexpected reply (%v)", err)
	}
	next, _ := parts[0].ToString()
	list, err := parts[1].ToArray()
	if err != nil {
		return nil, false, err
	}
	entries, err := parseEntries(list, 2, counts)
	if err != nil {
		return nil, false, err
	}
	if len(parts) >= 3 {
		// Redis 7: entries deleted from the stream while pending, which
		// XAUTOCLAIM removed from the pending list.
		if del, err := parts[2].ToArray(); err == nil && len(del) > 0 {
			s.st.trimmed.Add(int64(len(del)))
			c.log.Info("pubsub: pending entries were trimmed from the stream; acknowledged",
				"stream", s.name, "group", c.group, "count", len(del))
		}
	}
	c.cursor = next
	s.st.reclaimed.Add(int64(len(entries)))
	return entries, next != "0-0", nil
}

func (c *consumer[T]) maxReason(id string, n int64) string {
	reason := fmt.Sprintf("delivered %d times without an acknowledgement (MaxDeliveries %d)", n, c.s.opt.MaxDeliveries)
	if v, ok := c.s.lastErr.Load(id); ok {
		reason += "; last error: " + v.(string)
	}
	return reason
}

// deadLetter moves entry id to the dead-letter stream (for a dead-letter
// stream itself, only acknowledges it: a dead letter is not moved again).
func (c *consumer[T]) deadLetter(ctx context.Context, id, reason string, deliveries int64) error {
	s := c.s
	defer c.forget(id)
	if s.key == s.deadKey {
		_, err := s.k.Do(ctx, s.k.B().Xack().Key(s.key).Group(c.group).Id(id).Build())
		if err == nil {
			s.st.deadLettered.Add(1)
			c.log.Warn("pubsub: dead letter dropped", "stream", s.name, "group", c.group, "id", id, "reason", reason)
		}
		return err
	}
	r, err := s.k.Exec(ctx, deadLetterScript, []string{s.key, s.deadKey},
		[]string{c.group, id, reason, strconv.FormatInt(deliveries, 10)})
	if err != nil {
		return err
	}
	switch n, _ := r.AsInt64(); n {
	case 1:
		s.st.deadLettered.Add(1)
		c.log.Warn("pubsub: entry moved to the dead-letter stream", "stream", s.name, "group", c.group, "id", id, "reason", reason)
	case 0:
		s.st.trimmed.Add(1)
	}
	return nil
}

func (c *consumer[T]) remember(id string, err error) {
	if c.s.nErr.Load() >= maxLastErrs {
		c.s.lastErr.Clear()
		c.s.nErr.Store(0)
	}
	if _, loaded := c.s.lastErr.Swap(id, err.Error()); !loaded {
		c.s.nErr.Add(1)
	}
}

func (c *consumer[T]) forget(id string) {
	if _, ok := c.s.lastErr.LoadAndDelete(id); ok {
		c.s.nErr.Add(-1)
	}
}

// handle decodes e and runs the handler; true when e is to be
// acknowledged.
func (c *consumer[T]) handle(ctx context.Context, e entry) bool {
	s := c.s
	v, err := codec.Decode[T](s.f, unsafe.Slice(unsafe.StringData(e.payload), len(e.payload)))
	if err != nil {
		s.st.decodeErrors.Add(1)
		if err := c.deadLetter(ctx, e.id, "decode: "+err.Error(), e.deliveries); err != nil {
			c.log.Warn("pubsub: moving an undecodable entry to the dead-letter stream failed", "stream", s.name, "id", e.id, telemetry.KeyError, err)
		}
		return false
	}
	s.st.delivered.Add(1)
	m := Message[T]{Channel: s.name, ID: e.id, Payload: v, Deliveries: e.deliveries, Reason: e.reason}
	if err := callHandler(ctx, c.h, m); err != nil {
		s.st.failed.Add(1)
		c.remember(e.id, err)
		c.log.Warn("pubsub: stream handler failed; the entry will be delivered again",
			"stream", s.name, "group", c.group, "id", e.id, "deliveries", e.deliveries, telemetry.KeyError, err)
		return false
	}
	return true
}

// flush acknowledges the entries the inline handler finished.
func (c *consumer[T]) flush() {
	if len(c.pending) > 0 {
		c.ack(c.pending)
		c.pending = c.pending[:0]
	}
}

// acker sends the acknowledgements, several IDs per XACK when they queue.
func (c *consumer[T]) acker(done chan<- struct{}) {
	defer close(done)
	ids := make([]string, 0, maxAckBatch)
	for id := range c.acks {
		ids = append(ids[:0], id)
	collect:
		for len(ids) < maxAckBatch {
			select {
			case id, ok := <-c.acks:
				if !ok {
					break collect
				}
				ids = append(ids, id)
			default:
				break collect
			}
		}
		c.ack(ids)
	}
}

// ack sends one XACK for ids.
func (c *consumer[T]) ack(ids []string) {
	s := c.s
	actx, cancel := context.WithTimeout(c.hctx, stopTimeout)
	r := s.k.Client().Do(actx, s.k.B().Xack().Key(s.key).Group(c.group).Id(ids...).Build())
	cancel()
	c.acked(ids, r)
}

// acked counts the reply to an XACK of ids.
func (c *consumer[T]) acked(ids []string, r rueidis.RedisResult) {
	s := c.s
	n, err := r.AsInt64()
	if err != nil {
		c.log.Warn("pubsub: acknowledging entries failed; they will be delivered again",
			"stream", s.name, "group", c.group, "count", len(ids), telemetry.KeyError, err)
		return
	}
	s.st.acked.Add(n)
	if s.nErr.Load() > 0 {
		for _, id := range ids {
			c.forget(id)
		}
	}
}

// release makes the entries still pending on this consumer (fetched but
// not handled, failed, or read by a call the stop cut short) claimable
// by the group's other consumers at once, and deletes the consumer when
// nothing is pending on it.
func (c *consumer[T]) release(ctx context.Context) {
	s := c.s
	ctx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	r, err := s.k.Do(ctx, s.k.B().Arbitrary("XPENDING").Keys(s.key).Args(c.group, "-", "+", "10000", c.name).Build())
	if err == nil {
		var pend []rueidis.RedisMessage
		if pend, err = r.ToArray(); err == nil && len(pend) > 0 {
			args := []string{c.group, c.name, "0"}
			for _, p := range pend {
				if f, err := p.ToArray(); err == nil && len(f) > 0 {
					id, _ := f[0].ToString()
					args = append(args, id)
				}
			}
			idle := strconv.FormatInt((s.opt.ClaimIdle + time.Second).Milliseconds(), 10)
			args = append(args, "IDLE", idle, "JUSTID")
			_, err = s.k.Do(ctx, s.k.B().Arbitrary("XCLAIM").Keys(s.key).Args(args...).Build())
			if err == nil {
				c.log.Info("pubsub: consumer stopped; released its pending entries",
					"stream", s.name, "group", c.group, "consumer", c.name, "count", len(pend))
			}
		} else if err == nil {
			_, err = s.k.Exec(ctx, delConsumerScript, []string{s.key}, []string{c.group, c.name})
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		c.log.Warn("pubsub: releasing a stopped consumer's entries failed; they are reclaimed after ClaimIdle",
			"stream", s.name, "group", c.group, "consumer", c.name, telemetry.KeyError, err)
	}
}
