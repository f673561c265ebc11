package cache

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/redkit-go/redkit/codec"
	"github.com/redkit-go/redkit/internal/optcheck"
)

// Defaults applied to zero Options fields.
const (
	// DefaultNearEntries is NearCacheOptions.MaxEntries when it is 0.
	DefaultNearEntries = 10_000
	// DefaultNearTTL is NearCacheOptions.TTL when it is 0.
	DefaultNearTTL = time.Minute
	// DefaultLockTTL is Options.LockTTL when it is 0: how long the
	// distributed stampede lock of one key lives if its holder dies.
	DefaultLockTTL = 5 * time.Second
	// DefaultFailSafeEntries is how many last-good values a cache with
	// FailSafe keeps in process when it has no near cache.
	DefaultFailSafeEntries = 10_000
)

// Stampede selects how GetOrSet avoids loading one key many times at once.
type Stampede uint8

const (
	// StampedeLocal (the default) lets one caller per process load a
	// missing key; the other callers in the process wait for its result.
	StampedeLocal Stampede = iota
	// StampedeDistributed adds a short lock in Redis, so that one caller
	// across every process sharing the Redis loads a missing key; the
	// others poll for the value, up to Options.LockWait, then load it
	// themselves rather than wait forever.
	StampedeDistributed
)

// String returns "local" or "distributed".
func (s Stampede) String() string {
	switch s {
	case StampedeLocal:
		return "local"
	case StampedeDistributed:
		return "distributed"
	}
	return fmt.Sprintf("Stampede(%d)", uint8(s))
}

// Options configures a Cache. A nil *Options, or zero fields, mean the
// defaults documented on each field. Negative durations, a negative or
// NaN EarlyRefresh and an unknown Stampede are invalid: New panics with
// the error Validate reports (a programming error, caught at
// construction), and never adjusts a value silently.
type Options struct {
	// TTL is the default time to live of this cache's entries, used when a
	// call passes 0; 0 means the Kit's Config.DefaultExpiry (30m).
	TTL time.Duration

	// NearCache keeps decoded values in process, invalidated by Redis
	// client tracking; nil means off. It needs the Kit's client-side
	// cache (Config.ClientCache.Disable false).
	NearCache *NearCacheOptions

	// NegativeTTL > 0 makes GetOrSet remember, this long, that its loader
	// returned redkit.ErrNotFound, so the loader is not called again for
	// the key until then. 0 means off.
	NegativeTTL time.Duration

	// Stampede is StampedeLocal (default) or StampedeDistributed.
	Stampede Stampede

	// LockTTL is the lifetime of the distributed stampede lock, and so the
	// longest a load may hold other processes off; default
	// DefaultLockTTL (5s). Only used with StampedeDistributed.
	LockTTL time.Duration

	// LockWait bounds how long, with StampedeDistributed, a caller waits
	// for another process's load before loading itself; default LockTTL.
	LockWait time.Duration

	// EarlyRefresh is the XFetch beta: GetOrSet refreshes an entry in the
	// background, before it expires, with a probability that grows as
	// expiry nears and with how long the last load took. 0 means off; 1 is
	// the paper's default; larger refreshes earlier.
	EarlyRefresh float64

	// FailSafe > 0 keeps the last good value of each key in process and
	// serves it, up to FailSafe after the entry expired, when the loader
	// fails or Redis is unavailable; Stats().StaleServed counts those.
	// A key seen deleted (Delete here, or, before its expiry, a miss from
	// Redis or a near-cache invalidation) loses its last good value, so
	// an outage never brings a deleted value back. A caller whose ctx has
	// a deadline gets the last good value before that deadline when Redis
	// does not answer in time (a soft timeout: the remote read is cut a
	// fifth of the remaining time, 1-50ms, early; Stats().SoftTimeouts).
	// 0 means off.
	FailSafe time.Duration

	// Codec encodes values; nil means the Kit's (Config.Codec, default
	// JSON). Strings and byte slices are always stored raw.
	Codec codec.Codec

	// Compression overrides the Kit's Config.Compression when non-nil.
	Compression *codec.Compression
}

// NearCacheOptions configures the in-process tier of a Cache.
type NearCacheOptions struct {
	// MaxEntries caps the number of decoded values kept; default
	// DefaultNearEntries (10,000).
	MaxEntries int
	// TTL caps how long a value is kept in process; it is never kept
	// beyond its expiry in Redis either. Default DefaultNearTTL (1m).
	TTL time.Duration
}

// options is Options with defaults applied.
type options struct {
	ttl, negTTL, lockTTL, lockWait, failSafe time.Duration
	stampede                                 Stampede
	beta                                     float64
	near                                     bool
	nearMax                                  int
	nearTTL                                  time.Duration
}

// Validate reports every invalid field of o, each error naming the field
// and its value ("cache: Options.FailSafe must not be negative (got
// -1s)"), joined with errors.Join; nil when o is nil or valid. New panics
// with this error.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	c := optcheck.For("cache: Options")
	optcheck.NonNegative(c, "TTL", o.TTL)
	optcheck.NonNegative(c, "NegativeTTL", o.NegativeTTL)
	optcheck.NonNegative(c, "LockTTL", o.LockTTL)
	optcheck.NonNegative(c, "LockWait", o.LockWait)
	optcheck.NonNegative(c, "FailSafe", o.FailSafe)
	if o.EarlyRefresh < 0 || math.IsNaN(o.EarlyRefresh) || math.IsInf(o.EarlyRefresh, 0) {
		c.Add("EarlyRefresh", "must be a finite number, not negative (got %g)", o.EarlyRefresh)
	}
	if o.Stampede > StampedeDistributed {
		c.Add("Stampede", "must be StampedeLocal or StampedeDistributed (got %d)", uint8(o.Stampede))
	}
	near := optcheck.For("cache: NearCacheOptions")
	if nc := o.NearCache; nc != nil {
		optcheck.NonNegative(near, "MaxEntries", nc.MaxEntries)
		optcheck.NonNegative(near, "TTL", nc.TTL)
	}
	return errors.Join(c.Err(), near.Err())
}

// normalize returns o (valid: see Validate) with defaults applied.
func (o *Options) normalize(defaultTTL time.Duration) options {
	var z Options
	if o == nil {
		o = &z
	}
	n := options{
		ttl: o.TTL, negTTL: o.NegativeTTL, lockTTL: o.LockTTL, lockWait: o.LockWait,
		failSafe: o.FailSafe, stampede: o.Stampede, beta: o.EarlyRefresh,
	}
	if n.ttl == 0 {
		n.ttl = defaultTTL
	}
	if n.lockTTL == 0 {
		n.lockTTL = DefaultLockTTL
	}
	if n.lockWait == 0 {
		n.lockWait = n.lockTTL
	}
	if nc := o.NearCache; nc != nil {
		n.near = true
		n.nearMax = nc.MaxEntries
		if n.nearMax == 0 {
			n.nearMax = DefaultNearEntries
		}
		n.nearTTL = nc.TTL
		if n.nearTTL == 0 {
			n.nearTTL = DefaultNearTTL
		}
	}
	return n
}
