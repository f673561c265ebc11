package collection

import (
	"context"
	"errors"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
)

// Set is a Redis set of T values bound to one key. Elements are encoded
// with the Kit's codec, deterministically, so Contains and Remove work for
// any T the codec encodes (structs included). A Set is safe for concurrent
// use; the zero value is not usable — build one with NewSet.
type Set[T comparable] struct{ b base }

// NewSet returns the set stored at key (the Kit's prefix is added). It does
// no I/O. An empty key is reported, as redkit.ErrEmptyKey, by every call.
// It panics if k is nil.
func NewSet[T comparable](k *redkit.Kit, key string) *Set[T] {
	return &Set[T]{b: newBase(k, key, "set")}
}

// Key returns the Redis key of the set, with the Kit's prefix.
func (s *Set[T]) Key() string { return s.b.key }

// Add adds vs (SADD) and returns how many were not members before. With no
// vs it does nothing and returns 0.
func (s *Set[T]) Add(ctx context.Context, vs ...T) (int64, error) {
	return s.members(ctx, "collection: set add", vs, func(m []string) rueidis.Completed {
		return s.b.k.B().Sadd().Key(s.b.key).Member(m...).Build()
	})
}

// Remove removes vs (SREM) and returns how many were members. With no vs
// it does nothing and returns 0.
func (s *Set[T]) Remove(ctx context.Context, vs ...T) (int64, error) {
	return s.members(ctx, "collection: set remove", vs, func(m []string) rueidis.Completed {
		return s.b.k.B().Srem().Key(s.b.key).Member(m...).Build()
	})
}

func (s *Set[T]) members(ctx context.Context, op string, vs []T, build func([]string) rueidis.Completed) (int64, error) {
	if err := s.b.check(op); err != nil {
		return 0, err
	}
	if len(vs) == 0 {
		return 0, nil
	}
	m, err := encodeAll(&s.b, op, vs)
	if err != nil {
		return 0, err
	}
	return s.b.int(ctx, op, build(m))
}

// Members returns every member (SMEMBERS), in no particular order; an
// empty slice when the set does not exist. Members that do not decode as T
// are left out and reported by an error wrapping redkit.ErrDecode, returned
// with the members that did decode.
func (s *Set[T]) Members(ctx context.Context) ([]T, error) {
	const op = "collection: set members"
	if err := s.b.check(op); err != nil {
		return nil, err
	}
	return s.strings(ctx, op, s.b.k.B().Smembers().Key(s.b.key).Build())
}

func (s *Set[T]) strings(ctx context.Context, op string, cmd rueidis.Completed) ([]T, error) {
	msg, err := s.b.do(ctx, op, cmd)
	if err != nil {
		return nil, err
	}
	ss, err := msg.AsStrSlice()
	if err != nil {
		return nil, s.b.wrap(op, err)
	}
	return decodeStrings[T](&s.b, op, ss)
}

// Contains reports whether v is a member (SISMEMBER).
func (s *Set[T]) Contains(ctx context.Context, v T) (bool, error) {
	const op = "collection: set contains"
	if err := s.b.check(op); err != nil {
		return false, err
	}
	m, err := encode(&s.b, op, v)
	if err != nil {
		return false, err
	}
	n, err := s.b.int(ctx, op, s.b.k.B().Sismember().Key(s.b.key).Member(m).Build())
	return n == 1, err
}

// Len returns the number of members (SCARD); 0 when the set does not exist.
func (s *Set[T]) Len(ctx context.Context) (int64, error) {
	const op = "collection: set len"
	if err := s.b.check(op); err != nil {
		return 0, err
	}
	return s.b.int(ctx, op, s.b.k.B().Scard().Key(s.b.key).Build())
}

// Expire sets the set's time to live (PEXPIRE) and reports whether the key
// exists. A ttl of 0 means the Kit's Config.DefaultExpiry; a negative ttl
// is redkit.ErrNegativeTTL.
func (s *Set[T]) Expire(ctx context.Context, ttl time.Duration) (bool, error) {
	return s.b.expire(ctx, ttl)
}

// TTL returns the set's remaining time to live (PTTL): the time left
// and true for a key with an expiry, 0 and true for a key without one,
// and 0 and false when there is no such key (as cache.Cache.TTL).
func (s *Set[T]) TTL(ctx context.Context) (ttl time.Duration, ok bool, err error) {
	return s.b.ttl(ctx)
}

// Persist removes the set's expiry and reports whether it had one.
func (s *Set[T]) Persist(ctx context.Context) (bool, error) { return s.b.persist(ctx) }

// Delete removes the set (UNLINK) and reports whether it existed.
func (s *Set[T]) Delete(ctx context.Context) (bool, error) { return s.b.delete(ctx) }

// Inter returns the members of s that are in every one of others (SINTER).
// Errors are as for Members, plus, on a cluster, one of Kind
// redkit.ErrCrossSlot when the keys are in different slots (build them
// with a common redkit.HashTag); nothing is sent then. All sets are read
// through s's Kit.
func (s *Set[T]) Inter(ctx context.Context, others ...*Set[T]) ([]T, error) {
	return s.algebra(ctx, "collection: set inter", others, func(keys []string) rueidis.Completed {
		return s.b.k.B().Sinter().Key(keys...).Build()
	})
}

// Union returns the members of s and of every one of others (SUNION).
// Errors are as for Inter.
func (s *Set[T]) Union(ctx context.Context, others ...*Set[T]) ([]T, error) {
	return s.algebra(ctx, "collection: set union", others, func(keys []string) rueidis.Completed {
		return s.b.k.B().Sunion().Key(keys...).Build()
	})
}

// Diff returns the members of s that are in none of others (SDIFF).
// Errors are as for Inter.
func (s *Set[T]) Diff(ctx context.Context, others ...*Set[T]) ([]T, error) {
	return s.algebra(ctx, "collection: set diff", others, func(keys []string) rueidis.Completed {
		return s.b.k.B().Sdiff().Key(keys...).Build()
	})
}

// InterStore stores the intersection of s and others in dst, replacing
// dst, and returns its size (SINTERSTORE). An empty result deletes dst.
// Errors are as for Inter (dst's key must share the slot too).
func (s *Set[T]) InterStore(ctx context.Context, dst *Set[T], others ...*Set[T]) (int64, error) {
	return s.store(ctx, "collection: set inter store", dst, others, func(d string, keys []string) rueidis.Completed {
		return s.b.k.B().Sinterstore().Destination(d).Key(keys...).Build()
	})
}

// UnionStore stores the union of s and others in dst, replacing dst, and
// returns its size (SUNIONSTORE). Errors are as for InterStore.
func (s *Set[T]) UnionStore(ctx context.Context, dst *Set[T], others ...*Set[T]) (int64, error) {
	return s.store(ctx, "collection: set union store", dst, others, func(d string, keys []string) rueidis.Completed {
		return s.b.k.B().Sunionstore().Destination(d).Key(keys...).Build()
	})
}

// DiffStore stores the members of s that are in none of others in dst,
// replacing dst, and returns its size (SDIFFSTORE). Errors are as for
// InterStore.
func (s *Set[T]) DiffStore(ctx context.Context, dst *Set[T], others ...*Set[T]) (int64, error) {
	return s.store(ctx, "collection: set diff store", dst, others, func(d string, keys []string) rueidis.Completed {
		return s.b.k.B().Sdiffstore().Destination(d).Key(keys...).Build()
	})
}

// keys returns the keys of s and others, checked for emptiness and slots.
func (s *Set[T]) keys(op string, dst *Set[T], others []*Set[T]) ([]string, error) {
	keys := make([]string, 0, 2+len(others))
	if dst != nil {
		keys = append(keys, dst.b.key)
	}
	keys = append(keys, s.b.key)
	for _, o := range others {
		if o == nil {
			return nil, s.b.wrap(op, redkit.ErrEmptyKey)
		}
		keys = append(keys, o.b.key)
	}
	for _, k := range keys {
		if k == "" {
			return nil, s.b.wrap(op, redkit.ErrEmptyKey)
		}
	}
	if err := s.b.k.CheckSameSlot(op, keys...); err != nil {
		return nil, s.rekey(err, dst, others)
	}
	return keys, nil
}

// rekey makes a CROSSSLOT error from Kit.CheckSameSlot, which names the
// full Redis key, report the caller's key of that set instead (its text
// still names both full keys and their slots).
func (s *Set[T]) rekey(err error, dst *Set[T], others []*Set[T]) error {
	var re *redkit.Error
	if !errors.As(err, &re) {
		return err
	}
	name := s.b.name
	for _, o := range append([]*Set[T]{dst}, others...) {
		if o != nil && o.b.key == re.Key {
			name = o.b.name
		}
	}
	return &redkit.Error{Op: re.Op, Key: name, Kind: re.Kind, Err: re.Err}
}

func (s *Set[T]) algebra(ctx context.Context, op string, others []*Set[T], build func([]string) rueidis.Completed) ([]T, error) {
	keys, err := s.keys(op, nil, others)
	if err != nil {
		return nil, err
	}
	return s.strings(ctx, op, build(keys))
}

func (s *Set[T]) store(ctx context.Context, op string, dst *Set[T], others []*Set[T], build func(string, []string) rueidis.Completed) (int64, error) {
	if dst == nil {
		return 0, s.b.wrap(op, redkit.ErrEmptyKey)
	}
	keys, err := s.keys(op, dst, others)
	if err != nil {
		return 0, err
	}
	return s.b.int(ctx, op, build(keys[0], keys[1:]))
}
