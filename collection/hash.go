package collection

import (
	"context"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
)

// Hash is a Redis hash of string fields to T values, bound to one key. A
// Hash is safe for concurrent use; build one with NewHash.
type Hash[T any] struct{ b base }

// NewHash returns the hash stored at key (the Kit's prefix is added). It
// does no I/O. An empty key is reported, as redkit.ErrEmptyKey, by every
// call. It panics if k is nil.
func NewHash[T any](k *redkit.Kit, key string) *Hash[T] {
	return &Hash[T]{b: newBase(k, key, "hash")}
}

// Key returns the Redis key of the hash, with the Kit's prefix.
func (h *Hash[T]) Key() string { return h.b.key }

// Set sets field to v (HSET).
func (h *Hash[T]) Set(ctx context.Context, field string, v T) error {
	return h.SetMany(ctx, map[string]T{field: v})
}

// SetMany sets every field of fields in one command (HSET). With no fields
// it does nothing.
func (h *Hash[T]) SetMany(ctx context.Context, fields map[string]T) error {
	const op = "collection: hash set"
	if err := h.b.check(op); err != nil {
		return err
	}
	if len(fields) == 0 {
		return nil
	}
	cmd := h.b.k.B().Hset().Key(h.b.key).FieldValue()
	for f, v := range fields {
		e, err := encode(&h.b, op, v)
		if err != nil {
			return err
		}
		cmd = cmd.FieldValue(f, e)
	}
	_, err := h.b.do(ctx, op, cmd.Build())
	return err
}

// Get returns the value of field (HGET); ok is false when the field or the
// hash is missing. A value that does not decode gives an error wrapping
// redkit.ErrDecode.
func (h *Hash[T]) Get(ctx context.Context, field string) (v T, ok bool, err error) {
	const op = "collection: hash get"
	if err := h.b.check(op); err != nil {
		return v, false, err
	}
	msg, err := h.b.do(ctx, op, h.b.k.B().Hget().Key(h.b.key).Field(field).Build())
	if rueidis.IsRedisNil(err) {
		return v, false, nil
	}
	if err != nil {
		return v, false, err
	}
	s, err := msg.ToString()
	if err != nil {
		return v, false, h.b.wrap(op, err)
	}
	if v, err = decode[T](h.b.f, s); err != nil {
		return v, false, h.b.wrap(op, err)
	}
	return v, true, nil
}

// GetMany returns the values of the fields that exist among fields (HMGET),
// in one round trip. Values that do not decode are left out and reported by
// an error wrapping redkit.ErrDecode, returned with the values that did.
func (h *Hash[T]) GetMany(ctx context.Context, fields ...string) (map[string]T, error) {
	const op = "collection: hash get many"
	if err := h.b.check(op); err != nil {
		return nil, err
	}
	out := make(map[string]T, len(fields))
	if len(fields) == 0 {
		return out, nil
	}
	msg, err := h.b.do(ctx, op, h.b.k.B().Hmget().Key(h.b.key).Field(fields...).Build())
	if err != nil {
		return nil, err
	}
	arr, err := msg.ToArray()
	if err != nil {
		return nil, h.b.wrap(op, err)
	}
	var bad decodeErrs
	n := 0
	for i, m := range arr {
		if i >= len(fields) || m.IsNil() {
			continue
		}
		n++
		s, err := m.ToString()
		if err == nil {
			var v T
			if v, err = decode[T](h.b.f, s); err == nil {
				out[fields[i]] = v
				continue
			}
		}
		bad.add(err)
	}
	return out, bad.err(&h.b, op, n)
}

// GetAll returns every field and value (HGETALL); an empty map when the
// hash does not exist. Values that do not decode are left out and reported
// by an error wrapping redkit.ErrDecode, returned with the values that did.
func (h *Hash[T]) GetAll(ctx context.Context) (map[string]T, error) {
	const op = "collection: hash get all"
	if err := h.b.check(op); err != nil {
		return nil, err
	}
	msg, err := h.b.do(ctx, op, h.b.k.B().Hgetall().Key(h.b.key).Build())
	if err != nil {
		return nil, err
	}
	raw, err := msg.AsStrMap()
	if err != nil {
		return nil, h.b.wrap(op, err)
	}
	out := make(map[string]T, len(raw))
	var bad decodeErrs
	for f, s := range raw {
		v, err := decode[T](h.b.f, s)
		if err != nil {
			bad.add(err)
			continue
		}
		out[f] = v
	}
	return out, bad.err(&h.b, op, len(raw))
}

// Delete removes fields (HDEL) and returns how many existed. With no
// fields it does nothing and returns 0. (To remove the whole hash use
// DeleteKey.)
func (h *Hash[T]) Delete(ctx context.Context, fields ...string) (int64, error) {
	const op = "collection: hash delete fields"
	if err := h.b.check(op); err != nil {
		return 0, err
	}
	if len(fields) == 0 {
		return 0, nil
	}
	return h.b.int(ctx, op, h.b.k.B().Hdel().Key(h.b.key).Field(fields...).Build())
}

// Exists reports whether field exists (HEXISTS).
func (h *Hash[T]) Exists(ctx context.Context, field string) (bool, error) {
	const op = "collection: hash exists"
	if err := h.b.check(op); err != nil {
		return false, err
	}
	n, err := h.b.int(ctx, op, h.b.k.B().Hexists().Key(h.b.key).Field(field).Build())
	return n == 1, err
}

// Len returns the number of fields (HLEN); 0 when the hash does not exist.
func (h *Hash[T]) Len(ctx context.Context) (int64, error) {
	const op = "collection: hash len"
	if err := h.b.check(op); err != nil {
		return 0, err
	}
	return h.b.int(ctx, op, h.b.k.B().Hlen().Key(h.b.key).Build())
}

// Incr adds delta to the integer stored in field (HINCRBY; a missing field
// counts as 0) and returns the new value. It needs the field's stored form
// to be decimal text, which it is for integer types under the JSON codec
// (the default) and for string types; Redis refuses anything else ("hash
// value is not an integer"), and that reply is returned as the error.
func (h *Hash[T]) Incr(ctx context.Context, field string, delta int64) (int64, error) {
	const op = "collection: hash incr"
	if err := h.b.check(op); err != nil {
		return 0, err
	}
	return h.b.int(ctx, op, h.b.k.B().Hincrby().Key(h.b.key).Field(field).Increment(delta).Build())
}

// Expire sets the hash's time to live (PEXPIRE) and reports whether the
// key exists. A ttl of 0 means the Kit's Config.DefaultExpiry; a negative
// ttl is redkit.ErrNegativeTTL.
func (h *Hash[T]) Expire(ctx context.Context, ttl time.Duration) (bool, error) {
	return h.b.expire(ctx, ttl)
}

// TTL returns the hash's remaining time to live (PTTL): the time left
// and true for a key with an expiry, 0 and true for a key without one,
// and 0 and false when there is no such key (as cache.Cache.TTL).
func (h *Hash[T]) TTL(ctx context.Context) (ttl time.Duration, ok bool, err error) {
	return h.b.ttl(ctx)
}

// Persist removes the hash's expiry and reports whether it had one.
func (h *Hash[T]) Persist(ctx context.Context) (bool, error) { return h.b.persist(ctx) }

// DeleteKey removes the whole hash (UNLINK) and reports whether it
// existed. (Delete removes fields: its signature is the contract's.)
func (h *Hash[T]) DeleteKey(ctx context.Context) (bool, error) { return h.b.delete(ctx) }
