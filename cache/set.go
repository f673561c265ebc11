package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/codec"
	"github.com/redkit-go/redkit/internal/telemetry"
)

const (
	opSet         = "cache: set"
	opSetMany     = "cache: set many"
	opSetIfAbsent = "cache: set if not exists"
	opExpire      = "cache: expire"
	opDelete      = "cache: delete"
)

// Set stores v under key for ttl (0 means the cache's TTL).
//
// Errors (wrapped with the key): redkit.ErrEmptyKey; redkit.ErrNegativeTTL;
// ErrValueTooLarge when the encoded value exceeds the server's
// proto-max-bulk-len (nothing is sent); the codec's error when v cannot be
// encoded; redkit.ErrWrongType, redkit.ErrOOM, redkit.ErrUnavailable from
// Redis; redkit.ErrClosed after Close; ctx's error.
func (c *Cache[T]) Set(ctx context.Context, key string, v T, ttl time.Duration) error {
	return c.set(ctx, opSet, key, v, ttl, nil)
}

// SetWithTags is Set that also tags the entry: DeleteByTag(ctx, tag)
// later deletes it with every other entry carrying tag. Errors: as Set,
// and redkit.ErrEmptyKey for an empty tag.
func (c *Cache[T]) SetWithTags(ctx context.Context, key string, v T, ttl time.Duration, tags ...string) error {
	if err := checkTags(opSet, key, tags); err != nil {
		return err
	}
	return c.set(ctx, opSet, key, v, ttl, tags)
}

func (c *Cache[T]) set(ctx context.Context, op, key string, v T, ttl time.Duration, tags []string) error {
	if err := c.check(ctx, op, key); err != nil {
		return err
	}
	ttl, err := c.ttlFor(op, key, ttl)
	if err != nil {
		return err
	}
	b, err := c.encode(op, key, v)
	if err != nil {
		return err
	}
	ctx, sp := c.st.Tel.Start(ctx, "cache.set", key)
	err = c.write(ctx, op, key, b, ttl, -1, tags)
	telemetry.End(sp, err)
	if err == nil {
		c.stalePut(key, entry[T]{v: v, exp: time.Now().Add(ttl).UnixMilli()})
	}
	return err
}

// encode encodes v. A value above the server's proto-max-bulk-len is
// refused by the Kit when it is written (ErrValueTooLarge).
func (c *Cache[T]) encode(op, key string, v T) ([]byte, error) {
	b, err := codec.Encode(c.format, v)
	if err != nil {
		return nil, redkit.Wrap(op, key, err)
	}
	return b, nil
}

// setCmds returns the commands that store b under key: SET PX, the load
// duration for EarlyRefresh when delta >= 0, and the tag memberships.
func (c *Cache[T]) setCmds(key string, b []byte, ttl time.Duration, delta time.Duration, tags []string) []rueidis.Completed {
	ms := max(ttl.Milliseconds(), 1)
	cmds := make([]rueidis.Completed, 0, 2+3*len(tags))
	cmds = append(cmds, c.k.B().Set().Key(c.prefix+key).Value(rueidis.BinaryString(b)).PxMilliseconds(ms).Build())
	if delta >= 0 && c.o.beta > 0 {
		cmds = append(cmds, c.k.B().Set().Key(c.metaKey(key)).Value(strconv.FormatInt(int64(delta), 10)).PxMilliseconds(ms).Build())
	}
	for _, tag := range tags {
		tk := c.tagKey(tag)
		// The tag set lives as long as its longest-lived entry: NX sets a
		// TTL on a new set, GT only ever extends it.
		cmds = append(cmds,
			c.k.B().Sadd().Key(tk).Member(key).Build(),
			c.k.B().Pexpire().Key(tk).Milliseconds(ms).Nx().Build(),
			c.k.B().Pexpire().Key(tk).Milliseconds(ms).Gt().Build())
	}
	return cmds
}

// write runs setCmds, dropping key from the near cache around the write.
func (c *Cache[T]) write(ctx context.Context, op, key string, b []byte, ttl, delta time.Duration, tags []string) error {
	cmds := c.setCmds(key, b, ttl, delta, tags)
	c.invalidateLocal(key)
	defer c.invalidateLocal(key)
	if len(cmds) == 1 {
		_, err := c.k.Do(ctx, cmds[0])
		return redkit.Wrap(op, key, err)
	}
	res, err := c.k.DoMulti(ctx, cmds...)
	if err != nil {
		return redkit.Wrap(op, key, err)
	}
	for _, r := range res {
		if err := r.Error(); err != nil {
			return redkit.Wrap(op, key, err)
		}
	}
	return nil
}

func checkTags(op, key string, tags []string) error {
	for _, t := range tags {
		if t == "" {
			return redkit.Wrap(op, key, fmt.Errorf("%w: empty tag", redkit.ErrEmptyKey))
		}
	}
	return nil
}

// SetMany stores every item for ttl (0 means the cache's TTL), pipelined
// in one round trip (split per node on a cluster). It is not atomic: on
// error some items may be stored. Errors: as Set, for the first item that
// failed.
func (c *Cache[T]) SetMany(ctx context.Context, items map[string]T, ttl time.Duration) error {
	if len(items) == 0 {
		return nil
	}
	keys := make([]string, 0, len(items))
	cmds := make([]rueidis.Completed, 0, len(items))
	ms := int64(0)
	for key, v := range items {
		if err := c.check(ctx, opSetMany, key); err != nil {
			return err
		}
		d, err := c.ttlFor(opSetMany, key, ttl)
		if err != nil {
			return err
		}
		ms = max(d.Milliseconds(), 1)
		b, err := c.encode(opSetMany, key, v)
		if err != nil {
			return err
		}
		keys = append(keys, key)
		cmds = append(cmds, c.k.B().Set().Key(c.prefix+key).Value(rueidis.BinaryString(b)).PxMilliseconds(ms).Build())
	}
	for _, key := range keys {
		c.invalidateLocal(key)
	}
	res, err := c.k.DoMulti(ctx, cmds...)
	for _, key := range keys {
		c.invalidateLocal(key)
	}
	if err != nil {
		return redkit.Wrap(opSetMany, keys[0], err)
	}
	var first error
	for i, r := range res {
		if err := r.Error(); err != nil {
			if first == nil {
				first = redkit.Wrap(opSetMany, keys[i], err)
			}
			continue
		}
		c.stalePut(keys[i], entry[T]{v: items[keys[i]], exp: time.Now().UnixMilli() + ms})
	}
	return first
}

// SetIfNotExists stores v under key for ttl (0 means the cache's TTL) only
// if the key holds nothing, and reports whether it did (SET NX). Errors:
// as Set.
func (c *Cache[T]) SetIfNotExists(ctx context.Context, key string, v T, ttl time.Duration) (bool, error) {
	if err := c.check(ctx, opSetIfAbsent, key); err != nil {
		return false, err
	}
	ttl, err := c.ttlFor(opSetIfAbsent, key, ttl)
	if err != nil {
		return false, err
	}
	b, err := c.encode(opSetIfAbsent, key, v)
	if err != nil {
		return false, err
	}
	c.invalidateLocal(key)
	defer c.invalidateLocal(key)
	_, err = c.k.Do(ctx, c.k.B().Set().Key(c.prefix+key).Value(rueidis.BinaryString(b)).Nx().
		PxMilliseconds(max(ttl.Milliseconds(), 1)).Build())
	if rueidis.IsRedisNil(err) {
		return false, nil
	}
	if err != nil {
		return false, redkit.Wrap(opSetIfAbsent, key, err)
	}
	c.stalePut(key, entry[T]{v: v, exp: time.Now().Add(ttl).UnixMilli()})
	return true, nil
}

// Expire sets key's time to live to ttl (0 means the cache's TTL) and
// reports whether the key exists. Errors: redkit.ErrEmptyKey,
// redkit.ErrNegativeTTL, redkit.ErrUnavailable, redkit.ErrClosed, ctx's
// error.
func (c *Cache[T]) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := c.check(ctx, opExpire, key); err != nil {
		return false, err
	}
	ttl, err := c.ttlFor(opExpire, key, ttl)
	if err != nil {
		return false, err
	}
	ms := max(ttl.Milliseconds(), 1)
	cmds := []rueidis.Completed{c.k.B().Pexpire().Key(c.prefix + key).Milliseconds(ms).Build()}
	if c.o.beta > 0 {
		cmds = append(cmds, c.k.B().Pexpire().Key(c.metaKey(key)).Milliseconds(ms).Build())
	}
	c.invalidateLocal(key)
	defer c.invalidateLocal(key)
	res, err := c.k.DoMulti(ctx, cmds...)
	if err != nil {
		return false, redkit.Wrap(opExpire, key, err)
	}
	n, err := res[0].AsInt64()
	if err != nil {
		return false, redkit.Wrap(opExpire, key, err)
	}
	return n == 1, nil
}

// Delete removes keys (UNLINK, batched per cluster slot) and returns how
// many existed. Their last good values are forgotten too. Errors:
// redkit.ErrEmptyKey, redkit.ErrUnavailable, redkit.ErrClosed, ctx's
// error.
func (c *Cache[T]) Delete(ctx context.Context, keys ...string) (int64, error) {
	for _, key := range keys {
		if err := c.check(ctx, opDelete, key); err != nil {
			return 0, err
		}
	}
	if len(keys) == 0 {
		return 0, nil
	}
	full := make([]string, len(keys))
	for i, key := range keys {
		full[i] = c.prefix + key
		c.forget(key)
	}
	n, err := c.unlink(ctx, opDelete, "", full)
	for _, key := range keys {
		c.forget(key)
	}
	return n, err
}

// forget drops key from both in-process tiers.
func (c *Cache[T]) forget(key string) {
	c.invalidateLocal(key)
	if c.stale != nil {
		c.stale.Invalidate(key)
	}
}

// unlink UNLINKs full keys in batches per cluster slot, pipelined, and
// returns how many existed. Errors name key (the caller's pattern or tag)
// or, when key is "", the caller's key of the batch's first entry.
func (c *Cache[T]) unlink(ctx context.Context, op, key string, full []string) (int64, error) {
	groups := batches(c.k.Mode() == "cluster", full, func(k string) string { return k })
	cmds := make([]rueidis.Completed, len(groups))
	for i, g := range groups {
		cmds[i] = c.k.B().Unlink().Key(g...).Build()
	}
	name := func(g []string) string {
		if key != "" {
			return key
		}
		return strings.TrimPrefix(g[0], c.prefix)
	}
	res, err := c.k.DoMulti(ctx, cmds...)
	if err != nil {
		return 0, redkit.Wrap(op, name(full), err)
	}
	var n int64
	var errs []error
	for i, r := range res {
		d, err := r.AsInt64()
		if err != nil {
			errs = append(errs, redkit.Wrap(op, name(groups[i]), err))
			continue
		}
		n += d
	}
	return n, errors.Join(errs...)
}
