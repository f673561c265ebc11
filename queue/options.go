package queue

import (
	mrand "math/rand/v2"
	"time"

	"github.com/redkit-go/redkit/codec"
	"github.com/redkit-go/redkit/internal/optcheck"
)

// Defaults for Options.
const (
	// DefaultVisibility is how long a popped job stays invisible to other
	// workers before it returns to the queue.
	DefaultVisibility = 30 * time.Second
	// DefaultPollInterval bounds how long PopWait waits between checks
	// when no wake-up arrives (delayed jobs falling due, jobs whose
	// deadline passed, or a lost wake-up).
	DefaultPollInterval = time.Second
	// DefaultReclaimBatch is how many due delayed jobs, and how many
	// expired in-flight jobs, one Pop returns to the ready set at most.
	DefaultReclaimBatch = 100
	// DefaultMaxAttempts is how many deliveries a job failing under Work
	// gets before it is dead.
	DefaultMaxAttempts = 10
	// DefaultDeadRetention is how long dead jobs are kept.
	DefaultDeadRetention = 7 * 24 * time.Hour
)

// DefaultBackoff is the delay before a failed job's next attempt when
// Options.Backoff is nil: 1s after the first attempt, doubling with each
// attempt, capped at one hour, each delay jittered to between half and
// all of it (so that jobs failing together do not retry together).
func DefaultBackoff(attempt int) time.Duration {
	d := time.Hour
	if attempt < 13 {
		d = min(time.Second<<max(attempt-1, 0), time.Hour)
	}
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

// signalCap bounds the wake-up list: a burst of pushes with no one waiting
// leaves at most this many tokens (each costs a waiter one empty Pop).
const signalCap = 256

// signalTTL lets an unused wake-up list disappear.
const signalTTL = time.Minute

// Options configure a Priority queue. The zero value (or nil) means the
// defaults. Negative values are invalid: NewPriority panics with the error
// Validate reports (a programming error, caught at construction), and
// never adjusts a value silently.
type Options struct {
	// Visibility is how long a popped job stays invisible to other workers
	// before it returns to the queue; default DefaultVisibility. Jobs
	// taking longer must call Job.Extend.
	Visibility time.Duration
	// PollInterval bounds PopWait's wait between checks when nothing wakes
	// it; default DefaultPollInterval.
	PollInterval time.Duration
	// ReclaimBatch caps how many due or expired jobs one Pop moves back to
	// the ready set; default DefaultReclaimBatch.
	ReclaimBatch int
	// Codec encodes job values; nil means the Kit's codec. The Kit's
	// compression settings apply.
	Codec codec.Codec
	// MaxAttempts is how many deliveries a job failing under Work gets
	// before it is dead-lettered (see Dead); default DefaultMaxAttempts;
	// negative: never. Jobs that come back after a visibility timeout
	// count the lost delivery too.
	MaxAttempts int
	// Backoff returns the delay before the next attempt after a failed
	// attempt (1 for the first delivery); nil means DefaultBackoff.
	// Negative results count as 0.
	Backoff func(attempt int) time.Duration
	// DeadRetention is how long dead jobs are kept before they are
	// removed, keys included; default DefaultDeadRetention. It also
	// bounds how long the Processed and Failed counters of an idle,
	// unattended queue are kept.
	DeadRetention time.Duration
}

// Validate reports every invalid field of o, each error naming the field
// and its value ("queue: Options.Visibility must not be negative (got
// -1s)"), joined with errors.Join; nil when o is nil or valid.
// NewPriority panics with this error.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	c := optcheck.For("queue: Options")
	optcheck.NonNegative(c, "Visibility", o.Visibility)
	optcheck.NonNegative(c, "PollInterval", o.PollInterval)
	optcheck.NonNegative(c, "ReclaimBatch", o.ReclaimBatch)
	optcheck.NonNegative(c, "DeadRetention", o.DeadRetention)
	return c.Err()
}
