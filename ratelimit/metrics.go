package ratelimit

import (
	"context"
	"errors"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/redkit-go/redkit/internal/telemetry"
)

// Stats is a snapshot of a Limiter's counters since New. Peek is not
// counted.
type Stats struct {
	Allowed int64 // calls allowed (by Redis or the fallback)
	Refused int64 // calls refused (by Redis or the fallback)
	// Fallback counts the calls decided by Options.Fallback because Redis
	// was unavailable (they are in Allowed or Refused too).
	Fallback int64
	// Outage reports that a fallback is in force now: the last call found
	// Redis unavailable.
	Outage bool
}

// Stats returns the Limiter's counters. It does no I/O.
func (l *Limiter) Stats() Stats {
	return Stats{
		Allowed:  l.m.allowed.Load(),
		Refused:  l.m.refused.Load(),
		Fallback: l.m.fallback.Load(),
		Outage:   l.outage.Load(),
	}
}

// counters are read by OpenTelemetry at collection time (asynchronous
// instruments): the hot path pays one atomic add.
type counters struct {
	allowed, refused, fallback atomic.Int64
	reg                        metric.Registration
}

func (m *counters) count(allowed bool) {
	if allowed {
		m.allowed.Add(1)
	} else {
		m.refused.Add(1)
	}
}

// register creates the instruments ratelimit.allowed, ratelimit.refused
// and ratelimit.fallback, with the attribute ratelimit.name; failures only
// lose metrics and are logged.
func (m *counters) register(t *telemetry.T, name string) {
	mt := t.Meter
	allowed, e1 := mt.Int64ObservableCounter(t.Name("ratelimit.allowed"), metric.WithDescription("Rate-limited calls allowed"))
	refused, e2 := mt.Int64ObservableCounter(t.Name("ratelimit.refused"), metric.WithDescription("Rate-limited calls refused"))
	fallback, e3 := mt.Int64ObservableCounter(t.Name("ratelimit.fallback"), metric.WithDescription("Rate-limited calls decided by the fallback while Redis was unavailable"))
	if err := errors.Join(e1, e2, e3); err != nil {
		t.Logger.Warn("ratelimit: metrics unavailable", keyName, name, telemetry.KeyError, err)
		return
	}
	attrs := metric.WithAttributes(attribute.String(keyName, name))
	reg, err := mt.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(allowed, m.allowed.Load(), attrs)
		o.ObserveInt64(refused, m.refused.Load(), attrs)
		o.ObserveInt64(fallback, m.fallback.Load(), attrs)
		return nil
	}, allowed, refused, fallback)
	if err != nil {
		t.Logger.Warn("ratelimit: metrics unavailable", keyName, name, telemetry.KeyError, err)
		return
	}
	m.reg = reg
}

func (m *counters) unregister() {
	if m.reg != nil {
		_ = m.reg.Unregister()
	}
}
