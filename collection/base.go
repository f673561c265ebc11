package collection

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/codec"
)

// base is what every structure shares: the Kit, the caller's key and the
// full key, and the format elements are encoded with.
type base struct {
	k    *redkit.Kit
	name string // the caller's key, as given: errors report it (Error.Key)
	key  string // with the Kit's prefix; "" when the given key was empty
	kind string // "set", "list", "hash", "zset": names operations in errors
	f    codec.Format
}

func newBase(k *redkit.Kit, key, kind string) base {
	if k == nil {
		panic("collection: New" + kind + " with a nil *redkit.Kit")
	}
	b := base{k: k, name: key, kind: kind, f: k.Format()}
	if key != "" {
		b.key = k.Key(key)
	}
	return b
}

// op names an operation that every structure shares in errors:
// "collection: set delete". A structure's own operations name theirs with
// constants ("collection: zset incr by"): building the name per call was
// an allocation on every call, success or not.
func (b *base) op(name string) string { return "collection: " + b.kind + " " + name }

// wrap returns err as a *redkit.Error for op on the caller's key (never
// the prefixed Redis key). Errors that are not Redis replies or transport
// failures get no Kind but still match what they wrap (redkit.ErrDecode).
func (b *base) wrap(op string, err error) error { return redkit.Wrap(op, b.name, err) }

// check returns the error for a structure built with an empty key.
func (b *base) check(op string) error {
	if b.key == "" {
		return b.wrap(op, redkit.ErrEmptyKey)
	}
	return nil
}

// do runs cmd through the Kit and wraps a failure with op and the key.
// A nil reply is returned as it is (rueidis.IsRedisNil) for the caller.
func (b *base) do(ctx context.Context, op string, cmd rueidis.Completed) (rueidis.RedisMessage, error) {
	msg, err := b.k.Do(ctx, cmd)
	if err != nil && !rueidis.IsRedisNil(err) {
		return msg, b.wrap(op, err)
	}
	return msg, err
}

func (b *base) int(ctx context.Context, op string, cmd rueidis.Completed) (int64, error) {
	msg, err := b.do(ctx, op, cmd)
	if err != nil {
		return 0, err
	}
	n, err := msg.AsInt64()
	if err != nil {
		return 0, b.wrap(op, err)
	}
	return n, nil
}

func (b *base) expire(ctx context.Context, ttl time.Duration) (bool, error) {
	op := b.op("expire")
	if err := b.check(op); err != nil {
		return false, err
	}
	if ttl < 0 {
		return false, b.wrap(op, fmt.Errorf("%w: %s", redkit.ErrNegativeTTL, ttl))
	}
	if ttl == 0 {
		ttl = b.k.Config().DefaultExpiry
	}
	ms := max(ttl.Milliseconds(), 1)
	n, err := b.int(ctx, op, b.k.B().Pexpire().Key(b.key).Milliseconds(ms).Build())
	return n == 1, err
}

func (b *base) ttl(ctx context.Context) (time.Duration, bool, error) {
	op := b.op("ttl")
	if err := b.check(op); err != nil {
		return 0, false, err
	}
	n, err := b.int(ctx, op, b.k.B().Pttl().Key(b.key).Build())
	switch {
	case err != nil, n == -2: // -2: no such key
		return 0, false, err
	case n < 0: // -1: no expiry
		return 0, true, nil
	}
	return time.Duration(n) * time.Millisecond, true, nil
}

func (b *base) persist(ctx context.Context) (bool, error) {
	op := b.op("persist")
	if err := b.check(op); err != nil {
		return false, err
	}
	n, err := b.int(ctx, op, b.k.B().Persist().Key(b.key).Build())
	return n == 1, err
}

func (b *base) delete(ctx context.Context) (bool, error) {
	op := b.op("delete")
	if err := b.check(op); err != nil {
		return false, err
	}
	n, err := b.int(ctx, op, b.k.B().Unlink().Key(b.key).Build())
	return n == 1, err
}

// encode returns v's stored form as a string for the command builder.
// codec.Encode returns a new slice nobody else holds, so viewing it as a
// string without a copy is safe: it is never written again.
func encode[T any](b *base, op string, v T) (string, error) {
	if _, ok := any((*T)(nil)).(*string); ok && b.f.Compression == codec.None {
		// Fast path: a plain string is stored as it is (codec.Encode
		// would copy it) unless it looks like a frame.
		if s := *(*string)(unsafe.Pointer(&v)); !strings.HasPrefix(s, codec.Marker) {
			return s, nil
		}
	}
	data, err := codec.Encode(b.f, v)
	if err != nil {
		return "", b.wrap(op, err)
	}
	if len(data) == 0 {
		return "", nil
	}
	return unsafe.String(&data[0], len(data)), nil
}

func encodeAll[T any](b *base, op string, vs []T) ([]string, error) {
	out := make([]string, len(vs))
	for i, v := range vs {
		s, err := encode(b, op, v)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// decode returns the value stored as s. codec.Decode only reads its input
// and never keeps it, so s is viewed as bytes without a copy.
func decode[T any](f codec.Format, s string) (T, error) {
	if _, ok := any((*T)(nil)).(*string); ok && !strings.HasPrefix(s, codec.Marker) {
		// Fast path: an unframed string is the value itself, and the
		// engine's strings are never modified, so no copy is needed.
		var v T
		*(*string)(unsafe.Pointer(&v)) = s
		return v, nil
	}
	return codec.Decode[T](f, unsafe.Slice(unsafe.StringData(s), len(s)))
}

// decodeErrs collects the elements of one reply that do not decode.
type decodeErrs struct {
	n     int
	first error
}

func (d *decodeErrs) add(err error) {
	if d.n == 0 {
		d.first = err
	}
	d.n++
}

// err returns nil, or an error wrapping redkit.ErrDecode that names the
// key and counts the bad elements out of total.
func (d *decodeErrs) err(b *base, op string, total int) error {
	if d.n == 0 {
		return nil
	}
	return b.wrap(op, fmt.Errorf("%d of %d elements do not decode (returned the %d that do): %w",
		d.n, total, total-d.n, d.first))
}

// decodeStrings decodes a reply of many elements: every element that
// decodes, in order, and an ErrDecode error for the rest.
func decodeStrings[T any](b *base, op string, ss []string) ([]T, error) {
	out := make([]T, 0, len(ss))
	var bad decodeErrs
	for _, s := range ss {
		v, err := decode[T](b.f, s)
		if err != nil {
			bad.add(err)
			continue
		}
		out = append(out, v)
	}
	return out, bad.err(b, op, len(ss))
}

// formatScore writes a score as Redis parses it (including ±inf).
func formatScore(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// checkScore rejects NaN, which Redis refuses with a less clear message.
func checkScore(b *base, op string, f float64) error {
	if math.IsNaN(f) {
		return b.wrap(op, fmt.Errorf("collection: score is NaN"))
	}
	return nil
}
