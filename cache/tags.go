package cache

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
)

const (
	opTag         = "cache: tag"
	opDeleteByTag = "cache: delete by tag"
)

// Tag adds keys to tag, so that DeleteByTag(ctx, tag) deletes them. The
// tag's set of keys lives in Redis (a SET under prefix + name + "#tag:" +
// tag) for at least ttl (0 means the cache's TTL); set ttl no shorter than
// the entries'. Entries can also be tagged when stored: SetWithTags,
// GetOrSetWithTags. Errors: redkit.ErrEmptyKey (for an empty tag or key),
// redkit.ErrNegativeTTL, redkit.ErrWrongType, redkit.ErrUnavailable,
// redkit.ErrClosed, ctx's error.
func (c *Cache[T]) Tag(ctx context.Context, tag string, ttl time.Duration, keys ...string) error {
	if err := c.check(ctx, opTag, tag); err != nil {
		return err
	}
	for _, key := range keys {
		if key == "" {
			return redkit.Wrap(opTag, tag, fmt.Errorf("%w: empty key in tag", redkit.ErrEmptyKey))
		}
	}
	ttl, err := c.ttlFor(opTag, tag, ttl)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	tk, ms := c.tagKey(tag), max(ttl.Milliseconds(), 1)
	res, err := c.k.DoMulti(ctx,
		c.k.B().Sadd().Key(tk).Member(keys...).Build(),
		c.k.B().Pexpire().Key(tk).Milliseconds(ms).Nx().Build(),
		c.k.B().Pexpire().Key(tk).Milliseconds(ms).Gt().Build())
	if err != nil {
		return redkit.Wrap(opTag, tag, err)
	}
	for _, r := range res {
		if err := r.Error(); err != nil {
			return redkit.Wrap(opTag, tag, err)
		}
	}
	return nil
}

// DeleteByTag deletes every entry tagged with tag (see SetWithTags, Tag)
// and the tag itself, and returns how many entries existed. Keys are
// taken from the tag's set in batches (SPOP), so entries tagged while it
// runs either go too or keep their tag; they are deleted with UNLINK per
// cluster slot (the tag set and its keys live in different slots).
// Errors: redkit.ErrEmptyKey, redkit.ErrWrongType, redkit.ErrUnavailable,
// redkit.ErrClosed, ctx's error; on error some entries may be deleted.
func (c *Cache[T]) DeleteByTag(ctx context.Context, tag string) (int64, error) {
	if err := c.check(ctx, opDeleteByTag, tag); err != nil {
		return 0, err
	}
	tk := c.tagKey(tag)
	var total int64
	for {
		msg, err := c.k.Do(ctx, c.k.B().Spop().Key(tk).Count(maxBatch).Build())
		if rueidis.IsRedisNil(err) {
			return total, nil
		}
		if err != nil {
			return total, redkit.Wrap(opDeleteByTag, tag, err)
		}
		keys, err := msg.AsStrSlice()
		if err != nil {
			return total, redkit.Wrap(opDeleteByTag, tag, err)
		}
		if len(keys) == 0 {
			return total, nil
		}
		full := make([]string, len(keys))
		for i, key := range keys {
			full[i] = c.prefix + key
			c.forget(key)
		}
		n, err := c.unlink(ctx, opDeleteByTag, tag, full)
		for _, key := range keys {
			c.forget(key)
		}
		total += n
		if err != nil {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, redkit.Wrap(opDeleteByTag, tag, err)
		}
	}
}
