package ratelimit

import (
	"cmp"
	"log/slog"
	"time"

	"github.com/redkit-go/redkit/internal/optcheck"
)

// Fallback says what a Limiter decides while Redis is unavailable.
type Fallback int

// Fallbacks. With any of them in force a call returns the fallback's
// decision and a nil error; Stats counts it in Fallback, and the Limiter
// logs once when an outage begins and once when it ends.
const (
	// FallbackLocal (the default) limits in process: each Limiter keeps
	// its own GCRA state per key (at most Options.LocalKeys keys), on the
	// local clock. It knows nothing of what Redis had spent, and each
	// process of a fleet limits on its own, so a fleet of N processes
	// allows up to N times the limit during an outage.
	FallbackLocal Fallback = iota
	// FallbackAllow allows every call (fail open).
	FallbackAllow
	// FallbackDeny refuses every call (fail closed), with a RetryAfter of
	// one emission interval of the limit.
	FallbackDeny
)

// String returns "local", "allow" or "deny".
func (f Fallback) String() string {
	switch f {
	case FallbackLocal:
		return "local"
	case FallbackAllow:
		return "allow"
	case FallbackDeny:
		return "deny"
	}
	return "Fallback(" + itoa(int64(f)) + ")"
}

// DefaultLocalKeys bounds the keys FallbackLocal keeps state for.
const DefaultLocalKeys = 100_000

// Options configures a Limiter. The zero value (or a nil *Options) means
// the defaults. New panics with the error Validate reports.
type Options struct {
	// Fallback is what calls decide while Redis is unavailable (an error
	// of kind redkit.ErrUnavailable: not connected, breaker open,
	// connection lost, no reply within the Kit's CommandTimeout); default
	// FallbackLocal. Bad arguments and Redis's error replies (such as
	// OOM) are returned as errors, never decided by the fallback; a call
	// whose ctx ended returns ctx's error.
	Fallback Fallback

	// Timeout bounds each call's wait for Redis; when it passes (and the
	// caller's ctx has not ended) the Fallback decides. 0 (the default)
	// leaves the bound to the Kit's CommandTimeout (5s by default), after
	// which the call is an ErrUnavailable failure as well. Set it (say
	// 50ms) where a slow limit is worse than a local one, such as HTTP
	// middleware: a Redis that stops answering otherwise holds each call
	// for CommandTimeout until the Kit's breaker opens. It costs a timer
	// per call.
	Timeout time.Duration

	// LocalKeys bounds the keys FallbackLocal keeps state for (the least
	// used are dropped first, which forgets what they spent); default
	// DefaultLocalKeys. The state is allocated at the first fallback.
	LocalKeys int

	// Logger receives the start and the end of each outage; default the
	// Kit's.
	Logger *slog.Logger
}

// Validate reports every invalid field of o, each error naming the field
// and its value ("ratelimit: Options.LocalKeys must not be negative (got
// -1)"), joined; nil when o is nil or valid. New panics with this error.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	c := optcheck.For("ratelimit: Options")
	if o.Fallback < FallbackLocal || o.Fallback > FallbackDeny {
		c.Add("Fallback", "must be FallbackLocal, FallbackAllow or FallbackDeny (got %d)", int(o.Fallback))
	}
	optcheck.NonNegative(c, "Timeout", o.Timeout)
	optcheck.NonNegative(c, "LocalKeys", o.LocalKeys)
	return c.Err()
}

func (o *Options) normalize(log *slog.Logger) Options {
	var n Options
	if o != nil {
		n = *o
	}
	n.LocalKeys = cmp.Or(n.LocalKeys, DefaultLocalKeys)
	if n.Logger == nil {
		n.Logger = log
	}
	return n
}
