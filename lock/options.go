package lock

import (
	"cmp"
	"github.com/redkit-go/redkit/internal/optcheck"
	"log/slog"
	"time"
)

// Defaults for Options.
const (
	// DefaultTTL is the lease used when a call passes a ttl of 0.
	DefaultTTL = 30 * time.Second

	// DefaultPollInterval bounds the wait between fallback polls of a
	// waiting acquirer. Waiters are woken by a notification on release;
	// the poll only covers what sends no notification (a holder that died
	// and let its lease expire, a dropped subscription).
	DefaultPollInterval = 200 * time.Millisecond

	// DefaultWaiterLease is how long a waiter's place in a lock's queue
	// lives without being refreshed (waiters refresh it on every poll).
	// A waiter that dies loses its place after at most this long, so a
	// lock is not handed to it.
	DefaultWaiterLease = 2 * time.Second

	// DefaultMaxLocalHandoffs bounds how many times in a row a mutex
	// changes hands within one Locker before a release goes through Redis
	// (see Options.MaxLocalHandoffs).
	DefaultMaxLocalHandoffs = 16

	// maxLocalHandoffs is the largest MaxLocalHandoffs: a grant reserves
	// MaxLocalHandoffs+1 fences, and a larger block buys nothing.
	maxLocalHandoffs = 1024
)

// Options configures a Locker. The zero value (or a nil *Options) means
// the defaults. Negative durations, and a WaiterLease set below three
// PollIntervals, are invalid: New panics with the error Validate reports
// (a programming error, caught at construction), and never adjusts a
// value silently.
type Options struct {
	// TTL is the lease used when a call passes a ttl of 0; default
	// DefaultTTL.
	TTL time.Duration

	// WaitTimeout bounds how long Acquire waits when AcquireOptions does
	// not say; 0 (the default) means until ctx is done.
	WaitTimeout time.Duration

	// PollInterval is the longest wait between fallback polls of a
	// waiting acquirer; default DefaultPollInterval. Polls are jittered
	// and come sooner when the holder's lease is about to end.
	PollInterval time.Duration

	// WaiterLease is how long a waiter's place in the queue lives without
	// a refresh; default the larger of DefaultWaiterLease and three
	// PollIntervals. A value set must be at least three PollIntervals, so
	// that a live waiter refreshes its place before it lapses.
	WaiterLease time.Duration

	// MaxLocalHandoffs bounds the local handoffs of a mutex (lock
	// cohorting): when a holder releases while another Acquire of the same
	// Locker waits for the key, the lock passes to that waiter inside the
	// process, without a round trip, while the key stays held in Redis
	// under the same lease; after MaxLocalHandoffs such handoffs in a row
	// the release goes through Redis, so the waiters of other processes
	// (queued there, first come first served) get their turn. Every local
	// holder has a token, a fence (from a block the grant reserved in
	// Redis: the next grant's fences are above it), a lease and a Lost
	// channel of its own, and Release, Extend and Do behave as for a lock
	// granted by Redis. Default DefaultMaxLocalHandoffs; at most 1024.
	MaxLocalHandoffs int

	// DisableLocalHandoff turns lock cohorting off: every release goes
	// through Redis, and waiters of all processes take turns strictly
	// first come, first served (a waiter of another process never waits
	// behind a run of up to MaxLocalHandoffs local holders). Turn it off
	// when that strict order across processes matters more than
	// throughput, or when another tool releases or inspects locks by the
	// token in Redis (a local successor's token is known only to its
	// Locker; Redis keeps the token of the run's first holder).
	DisableLocalHandoff bool

	// Logger receives what return values cannot show (a failed background
	// renewal, a dropped notification subscription); default the Kit's.
	Logger *slog.Logger
}

// Validate reports every invalid field of o, each error naming the field
// and its value ("lock: Options.TTL must not be negative (got -1s)"),
// joined with errors.Join; nil when o is nil or valid. New panics with
// this error.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	c := optcheck.For("lock: Options")
	optcheck.NonNegative(c, "TTL", o.TTL)
	optcheck.NonNegative(c, "WaitTimeout", o.WaitTimeout)
	optcheck.NonNegative(c, "PollInterval", o.PollInterval)
	optcheck.NonNegative(c, "WaiterLease", o.WaiterLease)
	optcheck.NonNegative(c, "MaxLocalHandoffs", o.MaxLocalHandoffs)
	if o.MaxLocalHandoffs > maxLocalHandoffs {
		c.Add("MaxLocalHandoffs", "must be at most %d (got %d)", maxLocalHandoffs, o.MaxLocalHandoffs)
	}
	poll := cmp.Or(max(o.PollInterval, 0), DefaultPollInterval)
	if o.WaiterLease > 0 && o.WaiterLease < 3*poll {
		c.Add("WaiterLease", "must be at least 3*PollInterval (%s) (got %s)", 3*poll, o.WaiterLease)
	}
	return c.Err()
}

// normalize returns o (valid: see Validate) with defaults applied.
func (o *Options) normalize(log *slog.Logger) Options {
	var n Options
	if o != nil {
		n = *o
	}
	n.TTL = cmp.Or(n.TTL, DefaultTTL)
	n.PollInterval = cmp.Or(n.PollInterval, DefaultPollInterval)
	if n.WaiterLease == 0 {
		n.WaiterLease = max(DefaultWaiterLease, 3*n.PollInterval)
	}
	n.MaxLocalHandoffs = cmp.Or(n.MaxLocalHandoffs, DefaultMaxLocalHandoffs)
	if n.Logger == nil {
		n.Logger = log
	}
	return n
}

// AcquireOptions tunes one Acquire call. A nil *AcquireOptions means the
// Locker's settings. Every WaitTimeout is valid: it is read per call.
type AcquireOptions struct {
	// WaitTimeout bounds the wait: positive overrides Options.WaitTimeout,
	// 0 keeps it, negative means do not wait (like TryAcquire).
	WaitTimeout time.Duration
}
