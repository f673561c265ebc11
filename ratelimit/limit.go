package ratelimit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Limit is a rate: Rate events per Period, of which up to Burst may come
// at once. It is a plain value; limits are compared by what they allow, so
// PerSecond(10) and Limit{Rate: 600, Period: time.Minute, Burst: 10} share
// their state on a key.
//
// The limiter spaces events by the emission interval Period/Rate, rounded
// up to a whole microsecond (so it never allows more than Rate per
// Period): an interval below one microsecond is refused.
type Limit struct {
	Rate   int           // events per Period; must be positive
	Period time.Duration // must be positive
	Burst  int           // events allowed at once; 0 = Rate; must not be negative
}

// PerSecond returns a limit of rate events per second, with a burst of rate.
func PerSecond(rate int) Limit { return Limit{Rate: rate, Period: time.Second} }

// PerMinute returns a limit of rate events per minute, with a burst of rate.
func PerMinute(rate int) Limit { return Limit{Rate: rate, Period: time.Minute} }

// PerHour returns a limit of rate events per hour, with a burst of rate.
func PerHour(rate int) Limit { return Limit{Rate: rate, Period: time.Hour} }

// burst returns the burst with its default applied.
func (l Limit) burst() int {
	if l.Burst == 0 {
		return l.Rate
	}
	return l.Burst
}

// String reads "10/1s (burst 10)".
func (l Limit) String() string {
	return fmt.Sprintf("%d/%s (burst %d)", l.Rate, l.Period, l.burst())
}

// Validate reports what is wrong with l, naming the field
// ("ratelimit: Limit.Rate must be positive (got 0)"); nil when l is valid.
// The error wraps ErrInvalid.
func (l Limit) Validate() error {
	_, err := l.spec()
	return err
}

// ErrInvalid is wrapped by the errors for bad arguments: an invalid Limit,
// an n below 1 or above a limit's burst, an empty key, no limits. Such a
// call sends nothing to Redis and never falls back.
var ErrInvalid = errors.New("ratelimit: invalid argument")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// maxSpan keeps Burst * interval, and the TATs, far below 2^53 µs, where
// the script's numbers stop being exact (about 285 years).
const maxSpan = int64(100 * 365 * 24 * time.Hour / time.Microsecond)

// spec is a validated limit in the script's terms.
type spec struct {
	interval int64 // µs between events
	tol      int64 // Burst * interval, µs
	burst    int
	field    string // the limit's identity in a key's state: "interval:tolerance"
	arg      string // the script's argument: interval and tolerance, binary (gcra.lua)
	limit    Limit
}

func (l Limit) spec() (*spec, error) {
	switch {
	case l.Rate <= 0:
		return nil, invalid("Limit.Rate must be positive (got %d)", l.Rate)
	case l.Period <= 0:
		return nil, invalid("Limit.Period must be positive (got %s)", l.Period)
	case l.Burst < 0:
		return nil, invalid("Limit.Burst must not be negative (got %d)", l.Burst)
	}
	per := l.Period.Microseconds()
	iv := (per + int64(l.Rate) - 1) / int64(l.Rate)
	if per < int64(l.Rate) {
		return nil, invalid("Limit.Rate %d per %s is too high: events would be less than 1µs apart", l.Rate, l.Period)
	}
	b := l.burst()
	if int64(b) > maxSpan/iv {
		return nil, invalid("Limit.Burst %d is too large for %d per %s (a full burst would span over 100 years)", b, l.Rate, l.Period)
	}
	s := &spec{interval: iv, tol: int64(b) * iv, burst: b, limit: l}
	ivS, tolS := strconv.FormatInt(iv, 10), strconv.FormatInt(s.tol, 10)
	s.field = ivS + ":" + tolS
	var a [16]byte
	binary.LittleEndian.PutUint64(a[:8], math.Float64bits(float64(iv)))
	binary.LittleEndian.PutUint64(a[8:], math.Float64bits(float64(s.tol)))
	s.arg = string(a[:])
	return s, nil
}

// specs caches the specs of the limits in use, so that the hot path does
// not validate and format a limit on every call. Programs use few distinct
// limits; past maxSpecs (limits made up per call) specs are computed anew.
var specs struct {
	m sync.Map // Limit -> *spec
	n atomic.Int64
}

const maxSpecs = 4096

func specOf(l Limit) (*spec, error) {
	if s, ok := specs.m.Load(l); ok {
		return s.(*spec), nil
	}
	s, err := l.spec()
	if err != nil {
		return nil, err
	}
	if specs.n.Load() < maxSpecs {
		if _, loaded := specs.m.LoadOrStore(l, s); !loaded {
			specs.n.Add(1)
		}
	}
	return s, nil
}
