package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// Blocking commands run on dedicated connections that the engine's
// watchdog does not watch: a BLPOP may rightly stay silent for its whole
// wait. But a reply lost to a network partition would leave it waiting
// forever when its ctx has no deadline (a worker loop's), even after the
// network heals. So the engine bounds every blocking command with a finite
// wait on the client side by its wait plus CommandTimeout: past that the
// call fails with ErrUnavailable and its connection is discarded (rueidis
// closes a dedicated connection whose command failed), and the next call
// dials again.

// errNoBlockingReply is the cause when a blocking command outlived its
// bound.
var errNoBlockingReply = errors.New("no reply within the command's wait plus CommandTimeout")

func (e *Engine) doBlocking(ctx context.Context, b *clients, cmd rueidis.Completed) rueidis.RedisResult {
	wait, ok := blockingWait(cmd.Commands())
	if !ok {
		return b.c.Do(ctx, cmd)
	}
	bound := wait + e.opt.CommandTimeout
	if dl, has := ctx.Deadline(); has && time.Until(dl) <= bound {
		return b.c.Do(ctx, cmd) // the caller's deadline comes first
	}
	bctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	r := b.c.Do(bctx, cmd)
	if err := r.NonRedisError(); err != nil && ctx.Err() == nil && bctx.Err() != nil {
		return rueidis.NewErrorResult(&Error{Op: "redkit: do", Kind: ErrUnavailable,
			Err: fmt.Errorf("%s: %w (%s): %w", cmd.Commands()[0], errNoBlockingReply, bound, context.DeadlineExceeded)})
	}
	return r
}

// blockingWait returns how long a blocking command may wait on the
// server, from its arguments, and false when it waits forever (a timeout
// of 0) or the command is not one it knows.
func blockingWait(args []string) (time.Duration, bool) {
	if len(args) < 2 {
		return 0, false
	}
	seconds := func(s string) (time.Duration, bool) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f <= 0 {
			return 0, false
		}
		return time.Duration(f * float64(time.Second)), true
	}
	millis := func(s string) (time.Duration, bool) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return 0, false
		}
		return time.Duration(n) * time.Millisecond, true
	}
	switch strings.ToUpper(args[0]) {
	case "BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX", "BRPOPLPUSH", "BLMOVE":
		return seconds(args[len(args)-1])
	case "BLMPOP", "BZMPOP":
		return seconds(args[1])
	case "WAIT":
		if len(args) >= 3 {
			return millis(args[2])
		}
	case "WAITAOF":
		if len(args) >= 4 {
			return millis(args[3])
		}
	case "XREAD", "XREADGROUP":
		for i := 1; i+1 < len(args); i++ {
			if strings.EqualFold(args[i], "BLOCK") {
				return millis(args[i+1])
			}
			if strings.EqualFold(args[i], "STREAMS") {
				break
			}
		}
	}
	return 0, false
}
