package pubsub

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/codec"
)

var (
	//go:embed deadletter.lua
	deadLetterSrc string
	//go:embed delconsumer.lua
	delConsumerSrc string

	deadLetterScript  = rueidis.NewLuaScript(deadLetterSrc)
	delConsumerScript = rueidis.NewLuaScript(delConsumerSrc)
)

// payloadField is the stream entry field holding the encoded value.
const payloadField = "d"

// Stream is a durable stream of T values (a Redis stream) read by
// consumer groups: see the package documentation. Its key is
// k.Key("stream", "{name}"), its dead-letter stream's the same with
// ":dead" appended (one hash tag, so the script moving an entry to it
// works on a cluster). A Stream holds no connection or goroutine of its
// own and is safe for concurrent use; Consume runs until its ctx ends.
type Stream[T any] struct {
	k       *redkit.Kit
	name    string // without prefix
	key     string
	deadKey string
	f       codec.Format
	opt     StreamOptions
	dead    *Stream[T] // lazily, see DeadLetters
	deadMu  sync.Mutex
	st      *streamStats

	lastErr sync.Map // entry ID → last handler error (this process only)
	nErr    atomic.Int64
}

type streamStats struct {
	published, delivered, acked, failed, reclaimed, deadLettered, trimmed, decodeErrors counter
}

// StreamStats are a Stream value's counts in this process, over all its
// Consume calls.
type StreamStats struct {
	// Published is how many entries Publish added.
	Published int64
	// Delivered is how many entries were handed to a handler.
	Delivered int64
	// Acked is how many entries were acknowledged after their handler
	// returned nil.
	Acked int64
	// Failed is how many handler calls returned an error or panicked
	// (the entry stays pending, to be delivered again).
	Failed int64
	// Reclaimed is how many idle pending entries this process claimed
	// from a consumer that did not acknowledge them in time.
	Reclaimed int64
	// DeadLettered is how many entries this process moved to the
	// dead-letter stream.
	DeadLettered int64
	// Trimmed is how many pending entries were found trimmed (or
	// deleted) from the stream and so acknowledged without delivery.
	Trimmed int64
	// DecodeErrors is how many entries did not decode as T (they are
	// dead-lettered at once).
	DecodeErrors int64
}

// StreamInfo describes a stream and one of its consumer groups.
type StreamInfo struct {
	// Length is the number of entries in the stream (XLEN).
	Length int64
	// Pending is how many entries the group has delivered and not yet
	// had acknowledged.
	Pending int64
	// Lag is how many entries the group has not yet been delivered; -1
	// when Redis cannot tell (entries were deleted from the middle of
	// the stream). A missing group has Lag = Length.
	Lag int64
	// Consumers is the number of consumers of the group.
	Consumers int64
}

// NewStream returns the stream called name. It does no I/O. A nil opts
// means the defaults. An empty name is reported by every call
// (redkit.ErrEmptyKey). It panics if k is nil or opts.Validate reports an
// error.
func NewStream[T any](k *redkit.Kit, name string, opts *StreamOptions) *Stream[T] {
	if k == nil {
		panic("pubsub: NewStream with a nil *redkit.Kit")
	}
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	var o StreamOptions
	if opts != nil {
		o = *opts
	}
	o.MaxDeliveries = orDefault(o.MaxDeliveries, DefaultMaxDeliveries)
	o.ClaimIdle = orDefault(o.ClaimIdle, DefaultClaimIdle)
	o.Concurrency = orDefault(o.Concurrency, DefaultConcurrency)
	o.Batch = max(orDefault(o.Batch, DefaultBatch), o.Concurrency)
	key := k.Key("stream", redkit.HashTag(name))
	s := &Stream[T]{k: k, name: name, key: key, deadKey: key + ":dead", f: k.Format(), opt: o, st: newStreamStats(k, name)}
	if o.Codec != nil {
		s.f.Codec = o.Codec
	}
	return s
}

// Name returns the stream's name, without the Kit's prefix.
func (s *Stream[T]) Name() string { return s.name }

// Key returns the stream's Redis key.
func (s *Stream[T]) Key() string { return s.key }

// DeadLetters returns the stream that entries move to after
// MaxDeliveries deliveries or when they do not decode, with the same
// options. Its entries carry Message.Reason; consume it like any stream
// (or read its Info). The dead-letter stream of a dead-letter stream is
// itself.
func (s *Stream[T]) DeadLetters() *Stream[T] {
	s.deadMu.Lock()
	defer s.deadMu.Unlock()
	if s.dead == nil {
		if s.key == s.deadKey {
			s.dead = s
		} else {
			s.dead = &Stream[T]{k: s.k, name: s.name + ":dead", key: s.deadKey, deadKey: s.deadKey, f: s.f, opt: s.opt, st: newStreamStats(s.k, s.name+":dead")}
		}
	}
	return s.dead
}

// Stats returns this Stream value's counts so far.
func (s *Stream[T]) Stats() StreamStats {
	return StreamStats{
		Published:    s.st.published.Load(),
		Delivered:    s.st.delivered.Load(),
		Acked:        s.st.acked.Load(),
		Failed:       s.st.failed.Load(),
		Reclaimed:    s.st.reclaimed.Load(),
		DeadLettered: s.st.deadLettered.Load(),
		Trimmed:      s.st.trimmed.Load(),
		DecodeErrors: s.st.decodeErrors.Load(),
	}
}

func (s *Stream[T]) check(op string) error {
	if s.name == "" {
		return redkit.Wrap(op, "", redkit.ErrEmptyKey)
	}
	return nil
}

// Publish appends v (XADD, trimming to about MaxLen entries when set) and
// returns its entry ID. Once Publish returns without error the entry is
// in Redis; it survives a server restart as far as the server's
// persistence does (appendfsync always for every acknowledged entry).
// Errors are *redkit.Error values naming the stream.
func (s *Stream[T]) Publish(ctx context.Context, v T) (id string, err error) {
	const op = "pubsub: stream publish"
	if err := s.check(op); err != nil {
		return "", err
	}
	b, err := codec.Encode(s.f, v)
	if err != nil {
		return "", redkit.Wrap(op, s.name, err)
	}
	payload := unsafe.String(unsafe.SliceData(b), len(b)) // b is ours and never changes
	r, err := s.k.Do(ctx, s.xadd(payload))
	if err != nil {
		return "", redkit.Wrap(op, s.name, err)
	}
	id, err = r.ToString()
	if err != nil {
		return "", redkit.Wrap(op, s.name, err)
	}
	s.st.published.Add(1)
	return id, nil
}

func (s *Stream[T]) xadd(payload string) rueidis.Completed {
	if s.opt.MaxLen > 0 {
		return s.k.B().Xadd().Key(s.key).Maxlen().Almost().Threshold(strconv.FormatInt(s.opt.MaxLen, 10)).
			Id("*").FieldValue().FieldValue(payloadField, payload).Build()
	}
	return s.k.B().Xadd().Key(s.key).Id("*").FieldValue().FieldValue(payloadField, payload).Build()
}

// PublishMany appends vs in one pipeline, in order, and returns their
// entry IDs (empty for a value that failed). The error joins those of the
// values that failed, each naming the stream; the others were appended.
func (s *Stream[T]) PublishMany(ctx context.Context, vs ...T) (ids []string, err error) {
	const op = "pubsub: stream publish many"
	if err := s.check(op); err != nil {
		return nil, err
	}
	ids = make([]string, len(vs))
	cmds := make([]rueidis.Completed, 0, len(vs))
	at := make([]int, 0, len(vs))
	var errs []error
	for i, v := range vs {
		b, err := codec.Encode(s.f, v)
		if err != nil {
			errs = append(errs, redkit.Wrap(op, s.name, err))
			continue
		}
		cmds = append(cmds, s.xadd(unsafe.String(unsafe.SliceData(b), len(b))))
		at = append(at, i)
	}
	if len(cmds) > 0 {
		res, err := s.k.DoMulti(ctx, cmds...)
		if err != nil {
			return ids, redkit.Wrap(op, s.name, err)
		}
		for j, r := range res {
			id, err := r.ToString()
			if err != nil {
				errs = append(errs, redkit.Wrap(op, s.name, err))
				continue
			}
			ids[at[j]] = id
			s.st.published.Add(1)
		}
	}
	return ids, errors.Join(errs...)
}

// Info returns the stream's length and group's pending count, lag and
// number of consumers. A missing stream gives zeros; a missing group,
// Lag = Length and zeros otherwise. An empty group is an error
// (redkit.ErrEmptyKey).
func (s *Stream[T]) Info(ctx context.Context, group string) (StreamInfo, error) {
	const op = "pubsub: stream info"
	if err := s.check(op); err != nil {
		return StreamInfo{}, err
	}
	if group == "" {
		return StreamInfo{}, redkit.Wrap(op, s.name, fmt.Errorf("empty group: %w", redkit.ErrEmptyKey))
	}
	res, err := s.k.DoMulti(ctx,
		s.k.B().Xlen().Key(s.key).Build(),
		s.k.B().XinfoGroups().Key(s.key).Build())
	if err != nil {
		return StreamInfo{}, redkit.Wrap(op, s.name, err)
	}
	var info StreamInfo
	if info.Length, err = res[0].AsInt64(); err != nil {
		return StreamInfo{}, redkit.Wrap(op, s.name, err)
	}
	groups, err := res[1].ToArray()
	if err != nil {
		if isNoKey(err) {
			return StreamInfo{}, nil
		}
		return StreamInfo{}, redkit.Wrap(op, s.name, err)
	}
	info.Lag = info.Length
	for _, g := range groups {
		m, err := g.AsMap()
		if err != nil {
			return StreamInfo{}, redkit.Wrap(op, s.name, err)
		}
		name := m["name"]
		if n, _ := name.ToString(); n != group {
			continue
		}
		pending := m["pending"]
		consumers := m["consumers"]
		info.Pending, _ = pending.AsInt64()
		info.Consumers, _ = consumers.AsInt64()
		lag := m["lag"]
		if l, err := lag.AsInt64(); err == nil {
			info.Lag = l
		} else {
			info.Lag = -1
		}
		return info, nil
	}
	return info, nil
}

func isNoKey(err error) bool {
	var re *rueidis.RedisError
	return errors.As(err, &re) && strings.Contains(re.Error(), "no such key")
}

func isBusyGroup(err error) bool {
	var re *rueidis.RedisError
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "BUSYGROUP")
}

func isNoGroup(err error) bool {
	var re *rueidis.RedisError
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "NOGROUP")
}
