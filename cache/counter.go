package cache

import (
	"context"
	"strconv"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
)

const (
	opIncr      = "cache: incr"
	opIncrFloat = "cache: incr float"
	opDecr      = "cache: decr"
	opCounter   = "cache: counter get"
)

// Counter is a set of named numeric counters in Redis under
// prefix + name + ":" + key (INCRBY, INCRBYFLOAT, DECRBY). Counters have no
// expiry unless set with Redis directly. A Counter does no I/O when made
// and is safe for concurrent use; it owns nothing to close.
type Counter struct {
	k      *redkit.Kit
	prefix string
}

// NewCounter returns the counters named name on k, escaped in keys as a
// Cache's name is (see New). It panics if k is nil or name is empty.
func NewCounter(k *redkit.Kit, name string) *Counter {
	if k == nil {
		panic("cache: NewCounter with nil Kit")
	}
	if name == "" {
		panic("cache: NewCounter with empty name")
	}
	return &Counter{k: k, prefix: k.Key(keyName(name)) + ":"}
}

// Key returns the Redis key of counter key.
func (c *Counter) Key(key string) string { return c.prefix + key }

// Incr adds delta to counter key (missing counts as 0) and returns the new
// value. Errors (wrapped with the key): redkit.ErrEmptyKey;
// redkit.ErrWrongType when the key holds another type; the server's error
// when it holds a non-integer or the result overflows;
// redkit.ErrUnavailable; ctx's error. Writes are not retried.
func (c *Counter) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	return c.intOp(ctx, opIncr, key, c.k.B().Incrby().Key(c.prefix+key).Increment(delta).Build())
}

// Decr subtracts delta from counter key and returns the new value.
// Errors: as Incr.
func (c *Counter) Decr(ctx context.Context, key string, delta int64) (int64, error) {
	return c.intOp(ctx, opDecr, key, c.k.B().Decrby().Key(c.prefix+key).Decrement(delta).Build())
}

func (c *Counter) intOp(ctx context.Context, op, key string, cmd rueidis.Completed) (int64, error) {
	if key == "" {
		return 0, redkit.Wrap(op, key, redkit.ErrEmptyKey)
	}
	msg, err := c.k.Do(ctx, cmd)
	if err != nil {
		return 0, redkit.Wrap(op, key, err)
	}
	n, err := msg.AsInt64()
	return n, redkit.Wrap(op, key, err)
}

// IncrFloat adds delta (which may be negative) to counter key and returns
// the new value. Errors: as Incr.
func (c *Counter) IncrFloat(ctx context.Context, key string, delta float64) (float64, error) {
	if key == "" {
		return 0, redkit.Wrap(opIncrFloat, key, redkit.ErrEmptyKey)
	}
	msg, err := c.k.Do(ctx, c.k.B().Incrbyfloat().Key(c.prefix+key).Increment(delta).Build())
	if err != nil {
		return 0, redkit.Wrap(opIncrFloat, key, err)
	}
	f, err := msg.AsFloat64()
	return f, redkit.Wrap(opIncrFloat, key, err)
}

// Get returns counter key's value, 0 when it does not exist. Errors: as
// Incr, and an error wrapping strconv.ErrSyntax when the key holds a
// non-integer (such as a value set by IncrFloat).
func (c *Counter) Get(ctx context.Context, key string) (int64, error) {
	if key == "" {
		return 0, redkit.Wrap(opCounter, key, redkit.ErrEmptyKey)
	}
	msg, err := c.k.Do(ctx, c.k.B().Get().Key(c.prefix+key).Build())
	if rueidis.IsRedisNil(err) {
		return 0, nil
	}
	if err != nil {
		return 0, redkit.Wrap(opCounter, key, err)
	}
	s, err := msg.ToString()
	if err != nil {
		return 0, redkit.Wrap(opCounter, key, err)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, redkit.Wrap(opCounter, key, err)
}
