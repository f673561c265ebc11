package cache

import (
	"context"
	"strings"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
)

const opDeleteByPattern = "cache: delete by pattern"

// scanCount is the COUNT hint of each SCAN step.
const scanCount = 500

// DeleteByPattern deletes this cache's entries whose keys match pattern
// (a Redis glob: * ? [..] and \ escapes; the Kit's prefix and the cache's
// name are added, and escaped, so only this cache's entries can match)
// and returns how many it deleted. Build patterns from user input with
// redkit.EscapePattern so that their * and ? match literally.
//
// It SCANs every master (never KEYS, so Redis is not blocked) and deletes
// what it finds with UNLINK in batches, per cluster slot. Keys written
// while it runs may or may not be deleted. Errors: redkit.ErrEmptyKey for
// an empty pattern, redkit.ErrUnavailable, redkit.ErrClosed, ctx's error;
// on error some entries may be deleted.
func (c *Cache[T]) DeleteByPattern(ctx context.Context, pattern string) (int64, error) {
	if err := c.check(ctx, opDeleteByPattern, pattern); err != nil {
		return 0, err
	}
	match := redkit.EscapePattern(c.prefix) + pattern
	nodes, err := c.masters(ctx)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, node := range nodes {
		n, err := c.deleteOnNode(ctx, node, pattern, match)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// masters returns a client per master to SCAN: the Kit's client on one
// node or Sentinel, each master's on a cluster (replicas hold copies).
func (c *Cache[T]) masters(ctx context.Context) ([]rueidis.Client, error) {
	cl := c.k.Client()
	if c.k.Mode() != "cluster" {
		return []rueidis.Client{cl}, nil
	}
	var out []rueidis.Client
	for addr, node := range cl.Nodes() {
		msg, err := node.Do(ctx, node.B().Role().Build()).ToArray()
		if err != nil {
			return nil, redkit.Wrap(opDeleteByPattern, "", redkit.Wrap("cache: role of "+addr, "", err))
		}
		if len(msg) > 0 {
			if role, _ := msg[0].ToString(); strings.EqualFold(role, "master") {
				out = append(out, node)
			}
		}
	}
	return out, nil
}

// deleteOnNode SCANs one node and UNLINKs what matches, a page at a time.
func (c *Cache[T]) deleteOnNode(ctx context.Context, node rueidis.Client, pattern, match string) (int64, error) {
	var total int64
	cursor := uint64(0)
	for {
		if err := ctx.Err(); err != nil {
			return total, redkit.Wrap(opDeleteByPattern, pattern, err)
		}
		page, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(match).Count(scanCount).Build()).AsScanEntry()
		if err != nil {
			return total, redkit.Wrap(opDeleteByPattern, pattern, err)
		}
		if len(page.Elements) > 0 {
			for _, full := range page.Elements {
				c.forget(full[len(c.prefix):])
			}
			n, err := c.unlink(ctx, opDeleteByPattern, pattern, page.Elements)
			total += n
			if err != nil {
				return total, err
			}
		}
		if page.Cursor == 0 {
			return total, nil
		}
		cursor = page.Cursor
	}
}
