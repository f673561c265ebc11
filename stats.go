package redkit

import (
	"context"
	"time"

	"github.com/redkit-go/redkit/internal/engine"
)

// Stats is a snapshot of a Kit's counters.
type Stats struct {
	Ops int64 // commands sent (or refused by the breaker)
	// Direct counts the calls (a command, a batch or a script) that went
	// on the direct path: made alone, on a pooled connection (see
	// EngineConfig.DisableDirect).
	Direct int64
	Errors int64 // commands that failed to get a reply
	// Hits and Misses are cache lookups summed over the Kit's caches.
	Hits, Misses int64
	HitRatio     float64 // Hits / (Hits + Misses); 0 when there were none
	Breaker      BreakerState
	BreakerOpens int64 // times the breaker opened
	Connected    bool
	Mode         string // standalone, cluster, sentinel; "" before connecting
	Nodes        int    // nodes the engine knows (masters and replicas)
	PoolSize     int    // dedicated-connection pool cap (0 = engine default)
}

// Stats returns a snapshot of the Kit's counters. It does no I/O.
func (k *Kit) Stats() Stats {
	c := k.e.Counts()
	h := k.e.Hooks()
	s := Stats{
		Ops:          c.Ops,
		Errors:       c.Errors,
		Direct:       c.Direct,
		Hits:         h.Hits.Load(),
		Misses:       h.Misses.Load(),
		Breaker:      c.Breaker,
		BreakerOpens: c.BreakerOpens,
		Connected:    k.e.Connected(),
		Mode:         k.e.Mode(),
		Nodes:        k.e.Nodes(),
		PoolSize:     k.cfg.PoolSize,
	}
	if n := s.Hits + s.Misses; n > 0 {
		s.HitRatio = float64(s.Hits) / float64(n)
	}
	return s
}

// BreakerState is the circuit breaker's state.
type BreakerState = engine.BreakerState

// Breaker states, as reported by Stats and Health.
const (
	BreakerClosed   = engine.BreakerClosed
	BreakerOpen     = engine.BreakerOpen
	BreakerHalfOpen = engine.BreakerHalfOpen
	BreakerDisabled = engine.BreakerDisabled
)

// HealthReport is the result of a health probe.
type HealthReport struct {
	Healthy   bool          `json:"healthy"`
	Latency   time.Duration `json:"latency_ns"`
	Error     string        `json:"error,omitempty"`
	Breaker   BreakerState  `json:"breaker"`
	Mode      string        `json:"mode,omitempty"`
	Nodes     int           `json:"nodes"`
	CheckedAt time.Time     `json:"checked_at"`
	// ConsecutiveFailures counts failed probes in a row (Health and the
	// periodic checks alike).
	ConsecutiveFailures int `json:"consecutive_failures"`
}

// Health probes Redis now with PING, past the circuit breaker (so it can
// tell when Redis is back). When ctx has no deadline, HealthCheck.Timeout
// bounds the probe; a ctx deadline, earlier or later, is used as it is.
func (k *Kit) Health(ctx context.Context) HealthReport {
	var timeout time.Duration
	if _, ok := ctx.Deadline(); !ok {
		timeout = k.cfg.HealthCheck.Timeout
	}
	return report(k.e.Probe(ctx, timeout))
}

// LastHealth returns the most recent probe's report (from Health, the
// periodic check or a health.Checker), and false if there was none.
func (k *Kit) LastHealth() (HealthReport, bool) {
	r, ok := k.e.LastReport()
	return report(r), ok
}

func report(r engine.Report) HealthReport {
	return HealthReport{
		Healthy:             r.Healthy,
		Latency:             r.Latency,
		Error:               r.Error,
		Breaker:             r.Breaker,
		Mode:                r.Mode,
		Nodes:               r.Nodes,
		CheckedAt:           r.CheckedAt,
		ConsecutiveFailures: r.ConsecutiveFailures,
	}
}
