package health

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/engine"
	"github.com/redkit-go/redkit/internal/optcheck"
)

// Options configures a Checker. Zero fields (or a nil *Options) take the
// Kit's Config.HealthCheck values, then the defaults below. Negative
// values are invalid: NewChecker panics with the error Validate reports
// (a programming error, caught at construction), and never adjusts a
// value silently.
type Options struct {
	// Interval between PINGs; default the Kit's HealthCheck.Interval (5s).
	Interval time.Duration
	// Timeout of each PING; default the Kit's HealthCheck.Timeout (1s).
	Timeout time.Duration
	// FailureThreshold is how many consecutive failed PINGs make the
	// status unhealthy; default 1 (the first failure).
	FailureThreshold int
}

// Validate reports every invalid field of o, each error naming the field
// and its value ("health: Options.Interval must not be negative (got
// -1s)"), joined with errors.Join; nil when o is nil or valid.
// NewChecker panics with this error.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	c := optcheck.For("health: Options")
	optcheck.NonNegative(c, "Interval", o.Interval)
	optcheck.NonNegative(c, "Timeout", o.Timeout)
	optcheck.NonNegative(c, "FailureThreshold", o.FailureThreshold)
	return c.Err()
}

// Status is a Checker's latest view of Redis.
type Status struct {
	// Healthy is false once FailureThreshold PINGs in a row failed, and
	// before the first PING answered.
	Healthy bool `json:"healthy"`
	// Latency of the last successful PING.
	Latency time.Duration `json:"-"`
	// LastError is the last failed PING's error, cleared by a success.
	LastError           string              `json:"error,omitempty"`
	ConsecutiveFailures int                 `json:"consecutive_failures"`
	Breaker             redkit.BreakerState `json:"breaker"`
	Mode                string              `json:"mode,omitempty"`
	Nodes               int                 `json:"nodes"`
	CheckedAt           time.Time           `json:"checked_at"`
	Checks              int64               `json:"checks"`
}

// Checker PINGs Redis periodically and serves the result. The PINGs are
// the Kit's health probes (the same as Kit.Health, past the circuit
// breaker), made by a goroutine the Kit owns from NewChecker until Close
// (or until the Kit closes). A Checker is safe for concurrent use.
type Checker struct {
	kit  *redkit.Kit
	opts Options

	mu     sync.RWMutex
	status Status

	stop func()
	once sync.Once
}

// NewChecker probes Redis once (bounded by Timeout), then starts PINGing
// every Interval until Close. It panics if k is nil or opts.Validate
// reports an error.
func NewChecker(k *redkit.Kit, opts *Options) *Checker {
	if k == nil {
		panic("health: NewChecker with nil Kit")
	}
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	hc := k.Config().HealthCheck
	if o.Interval == 0 {
		o.Interval = hc.Interval
	}
	if o.Timeout == 0 {
		o.Timeout = hc.Timeout
	}
	if o.FailureThreshold == 0 {
		o.FailureThreshold = 1
	}
	c := &Checker{kit: k, opts: o}
	e := engine.Of(k.Client())
	c.fold(e.Probe(context.Background(), o.Timeout))
	c.stop = e.Watch(o.Interval, o.Timeout, c.fold)
	return c
}

// fold folds one probe's report into the status.
func (c *Checker) fold(r engine.Report) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.status
	s.Checks++
	s.CheckedAt = r.CheckedAt
	s.Breaker = r.Breaker
	s.Mode = r.Mode
	s.Nodes = r.Nodes
	if r.Healthy {
		s.Latency = r.Latency
		s.LastError = ""
		s.ConsecutiveFailures = 0
		s.Healthy = true
		return
	}
	s.LastError = r.Error
	s.ConsecutiveFailures++
	if s.ConsecutiveFailures >= c.opts.FailureThreshold {
		s.Healthy = false
	}
}

// Status returns the latest status. It does no I/O.
func (c *Checker) Status() Status {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s := c.status
	s.Breaker = c.kit.Stats().Breaker
	return s
}

// Close stops the periodic PINGs and waits for the goroutine to end. It is
// idempotent and always returns nil.
func (c *Checker) Close() error {
	c.once.Do(c.stop)
	return nil
}

// report is the JSON body served by Handler.
type report struct {
	Status
	State     string  `json:"status"`
	LatencyMS float64 `json:"latency_ms"`
}

// Handler serves the latest status as JSON: 200 with "status":"ok" when
// healthy, 503 with "status":"unavailable" when not. It answers from the
// last periodic PING, so probes (Kubernetes liveness/readiness) never add
// load on Redis. HEAD gets the status code without a body.
func (c *Checker) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := c.Status()
		body := report{Status: s, State: "ok", LatencyMS: float64(s.Latency.Microseconds()) / 1000}
		code := http.StatusOK
		if !s.Healthy {
			body.State, code = "unavailable", http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		if r.Method == http.MethodHead {
			return
		}
		_ = json.NewEncoder(w).Encode(body)
	})
}
