package collection

import (
	"context"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
)

// List is a Redis list of T values bound to one key. Elements are encoded
// with the Kit's codec, deterministically, so Remove finds structs equal to
// the one given. A List is safe for concurrent use; build one with NewList.
type List[T any] struct{ b base }

// NewList returns the list stored at key (the Kit's prefix is added). It
// does no I/O. An empty key is reported, as redkit.ErrEmptyKey, by every
// call. It panics if k is nil.
func NewList[T any](k *redkit.Kit, key string) *List[T] {
	return &List[T]{b: newBase(k, key, "list")}
}

// Key returns the Redis key of the list, with the Kit's prefix.
func (l *List[T]) Key() string { return l.b.key }

// PushFront inserts vs at the head of the list (LPUSH), one after the
// other, so the last of vs ends up first, and returns the new length. With
// no vs it does nothing and returns 0.
func (l *List[T]) PushFront(ctx context.Context, vs ...T) (int64, error) {
	return l.push(ctx, "collection: list push front", vs, func(e []string) rueidis.Completed {
		return l.b.k.B().Lpush().Key(l.b.key).Element(e...).Build()
	})
}

// PushBack appends vs at the tail of the list (RPUSH), in order, and
// returns the new length. With no vs it does nothing and returns 0.
func (l *List[T]) PushBack(ctx context.Context, vs ...T) (int64, error) {
	return l.push(ctx, "collection: list push back", vs, func(e []string) rueidis.Completed {
		return l.b.k.B().Rpush().Key(l.b.key).Element(e...).Build()
	})
}

func (l *List[T]) push(ctx context.Context, op string, vs []T, build func([]string) rueidis.Completed) (int64, error) {
	if err := l.b.check(op); err != nil {
		return 0, err
	}
	if len(vs) == 0 {
		return 0, nil
	}
	e, err := encodeAll(&l.b, op, vs)
	if err != nil {
		return 0, err
	}
	return l.b.int(ctx, op, build(e))
}

// PopFront removes and returns the head of the list (LPOP); ok is false
// when the list is empty or missing. An element that does not decode is
// still removed, and reported with an error wrapping redkit.ErrDecode.
func (l *List[T]) PopFront(ctx context.Context) (v T, ok bool, err error) {
	return l.pop(ctx, "collection: list pop front", l.b.k.B().Lpop().Key(l.b.key).Build())
}

// PopBack removes and returns the tail of the list (RPOP); ok is false
// when the list is empty or missing. Errors are as for PopFront.
func (l *List[T]) PopBack(ctx context.Context) (v T, ok bool, err error) {
	return l.pop(ctx, "collection: list pop back", l.b.k.B().Rpop().Key(l.b.key).Build())
}

func (l *List[T]) pop(ctx context.Context, op string, cmd rueidis.Completed) (v T, ok bool, err error) {
	if err := l.b.check(op); err != nil {
		return v, false, err
	}
	msg, err := l.b.do(ctx, op, cmd)
	if rueidis.IsRedisNil(err) {
		return v, false, nil
	}
	if err != nil {
		return v, false, err
	}
	s, err := msg.ToString()
	if err != nil {
		return v, false, l.b.wrap(op, err)
	}
	v, err = decode[T](l.b.f, s)
	if err != nil {
		return v, false, l.b.wrap(op, err)
	}
	return v, true, nil
}

// Range returns the elements from index start to stop, both inclusive
// (LRANGE); negative indexes count from the tail (-1 is the last). It
// returns an empty slice when the range is empty or the list missing.
// Elements that do not decode are left out and reported by an error
// wrapping redkit.ErrDecode, returned with the elements that did decode.
func (l *List[T]) Range(ctx context.Context, start, stop int64) ([]T, error) {
	const op = "collection: list range"
	if err := l.b.check(op); err != nil {
		return nil, err
	}
	msg, err := l.b.do(ctx, op, l.b.k.B().Lrange().Key(l.b.key).Start(start).Stop(stop).Build())
	if err != nil {
		return nil, err
	}
	ss, err := msg.AsStrSlice()
	if err != nil {
		return nil, l.b.wrap(op, err)
	}
	return decodeStrings[T](&l.b, op, ss)
}

// Len returns the length of the list (LLEN); 0 when it does not exist.
func (l *List[T]) Len(ctx context.Context) (int64, error) {
	const op = "collection: list len"
	if err := l.b.check(op); err != nil {
		return 0, err
	}
	return l.b.int(ctx, op, l.b.k.B().Llen().Key(l.b.key).Build())
}

// Remove removes elements equal to v (LREM) and returns how many it
// removed: the first count from the head when count > 0, the last -count
// from the tail when count < 0, all of them when count is 0.
func (l *List[T]) Remove(ctx context.Context, v T, count int64) (int64, error) {
	const op = "collection: list remove"
	if err := l.b.check(op); err != nil {
		return 0, err
	}
	e, err := encode(&l.b, op, v)
	if err != nil {
		return 0, err
	}
	return l.b.int(ctx, op, l.b.k.B().Lrem().Key(l.b.key).Count(count).Element(e).Build())
}

// Trim keeps only the elements from index start to stop, both inclusive
// (LTRIM); negative indexes count from the tail. Trim(ctx, 0, 9) keeps the
// first ten.
func (l *List[T]) Trim(ctx context.Context, start, stop int64) error {
	const op = "collection: list trim"
	if err := l.b.check(op); err != nil {
		return err
	}
	_, err := l.b.do(ctx, op, l.b.k.B().Ltrim().Key(l.b.key).Start(start).Stop(stop).Build())
	return err
}

// Expire sets the list's time to live (PEXPIRE) and reports whether the
// key exists. A ttl of 0 means the Kit's Config.DefaultExpiry; a negative
// ttl is redkit.ErrNegativeTTL.
func (l *List[T]) Expire(ctx context.Context, ttl time.Duration) (bool, error) {
	return l.b.expire(ctx, ttl)
}

// TTL returns the list's remaining time to live (PTTL): the time left
// and true for a key with an expiry, 0 and true for a key without one,
// and 0 and false when there is no such key (as cache.Cache.TTL).
func (l *List[T]) TTL(ctx context.Context) (ttl time.Duration, ok bool, err error) {
	return l.b.ttl(ctx)
}

// Persist removes the list's expiry and reports whether it had one.
func (l *List[T]) Persist(ctx context.Context) (bool, error) { return l.b.persist(ctx) }

// Delete removes the list (UNLINK) and reports whether it existed.
func (l *List[T]) Delete(ctx context.Context) (bool, error) { return l.b.delete(ctx) }
