package cache

import (
	"context"
	"errors"
	"time"

	"github.com/redkit-go/redkit"
)

// A request-scoped caller (a ctx with a deadline) is who needs FailSafe
// most: with Redis silent, the remote read would run into the caller's
// deadline and return context.DeadlineExceeded with no value. So when
// FailSafe holds a last good value for the key, the remote read gets a
// deadline a little before the caller's (a soft timeout, as FusionCache
// calls it); if Redis has not answered by then, the caller gets the last
// good value in time, counted in Stats().StaleServed and SoftTimeouts.

// softMargin is how much of the caller's remaining time the soft timeout
// leaves for serving the stale value: a fifth, at least 1ms, at most 50ms.
func softMargin(remaining time.Duration) time.Duration {
	return min(max(remaining/5, time.Millisecond), 50*time.Millisecond)
}

// softCtx returns the ctx for a remote read of key and whether it is a
// soft-timeout ctx (then cancel must be called).
func (c *Cache[T]) softCtx(ctx context.Context, key string) (context.Context, context.CancelFunc, bool) {
	if c.stale == nil {
		return ctx, nil, false
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return ctx, nil, false
	}
	if e, ok := c.stale.GetIfPresent(key); !ok || !c.live(e) {
		return ctx, nil, false
	}
	remaining := time.Until(dl)
	if remaining <= 2*time.Millisecond {
		return ctx, nil, false
	}
	sctx, cancel := context.WithDeadline(ctx, dl.Add(-softMargin(remaining)))
	return sctx, cancel, true
}

// softTimedOut reports whether err is the soft timeout of sctx firing
// while the caller's ctx still runs: the read is then treated as
// unavailable, and FailSafe serves the last good value.
func softTimedOut(ctx, sctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil && sctx.Err() != nil &&
		(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redkit.ErrUnavailable))
}

// fetchSoft is fetch with the soft timeout: a read the soft timeout cut
// short comes back as ErrUnavailable, for FailSafe to answer.
func (c *Cache[T]) fetchSoft(ctx context.Context, op, key string) (entry[T], bool, error) {
	rctx, cancel, soft := c.softCtx(ctx, key)
	if !soft {
		return c.fetch(ctx, op, key)
	}
	defer cancel()
	e, found, err := c.fetch(rctx, op, key)
	if softTimedOut(ctx, rctx, err) {
		c.m.softTimeouts.Add(1)
		err = redkit.Wrap(op, key, errors.Join(redkit.ErrUnavailable, err))
	}
	return e, found, err
}
