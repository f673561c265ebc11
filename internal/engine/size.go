package engine

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/rueidis"
)

// Redis does not answer an oversized bulk string (above its
// proto-max-bulk-len) with an error: it drops the connection, failing
// every command pipelined on it, and enough of those open the breaker. So
// the engine refuses such a command before sending it, for every package
// and every raw call alike. An argument up to minBulkLimit always fits and
// costs a length comparison; the first larger one reads the server's limit
// (CONFIG GET, once; Redis's default when that is not allowed).

// minBulkLimit is the smallest proto-max-bulk-len Redis accepts (1 MiB).
const minBulkLimit = 1 << 20

// defaultBulkLimit is Redis's default proto-max-bulk-len (512 MiB).
const defaultBulkLimit = 512 << 20

// checkSize returns an *Error with Kind ErrValueTooLarge when an argument
// of args exceeds the server's limit.
func (e *Engine) checkSize(ctx context.Context, b *clients, args []string) error {
	for _, a := range args {
		if len(a) > minBulkLimit {
			return e.checkSizeSlow(ctx, b, args)
		}
	}
	return nil
}

func (e *Engine) checkSizeSlow(ctx context.Context, b *clients, args []string) error {
	limit := e.maxBulk.Load()
	if limit == 0 {
		limit = defaultBulkLimit
		msg, err := b.c.Do(ctx, b.c.B().ConfigGet().Parameter("proto-max-bulk-len").Build()).ToMessage()
		if err == nil {
			if m, err := msg.AsStrMap(); err == nil {
				if l, err := strconv.ParseInt(m["proto-max-bulk-len"], 10, 64); err == nil && l > 0 {
					limit = l
				}
			}
			e.maxBulk.Store(limit)
		}
	}
	for _, a := range args {
		if int64(len(a)) > limit {
			return &Error{Op: "redkit: do", Kind: ErrValueTooLarge,
				Err: fmt.Errorf("%s: an argument of %d bytes, limit %d; nothing sent", args[0], len(a), limit)}
		}
	}
	return nil
}

// checkCmds is checkSlot and checkSize for each of cmds.
func (e *Engine) checkCmds(ctx context.Context, b *clients, cmds []rueidis.Completed) error {
	for i := range cmds {
		if err := checkSlot(b, &cmds[i]); err != nil {
			return err
		}
		if err := e.checkSize(ctx, b, cmds[i].Commands()); err != nil {
			return err
		}
	}
	return nil
}
