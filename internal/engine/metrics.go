package engine

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/metric"
)

// registerMetrics exposes the engine's counters as asynchronous
// OpenTelemetry instruments, read at collection time: no cost on the
// command path.
func (e *Engine) registerMetrics() error {
	t := e.hooks.Tel
	m := t.Meter
	ops, err1 := m.Int64ObservableCounter(t.Name("commands"), metric.WithDescription("Commands sent to Redis"))
	errs, err2 := m.Int64ObservableCounter(t.Name("command.errors"), metric.WithDescription("Commands that got no reply"))
	state, err3 := m.Int64ObservableGauge(t.Name("breaker.open"), metric.WithDescription("1 while the circuit breaker is not closed"))
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("redkit: metrics: %w", err)
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(ops, e.ops())
		o.ObserveInt64(errs, e.errs.Load())
		open := int64(0)
		if s := e.brk.state(); s == BreakerOpen || s == BreakerHalfOpen {
			open = 1
		}
		o.ObserveInt64(state, open)
		return nil
	}, ops, errs, state)
	if err != nil {
		return fmt.Errorf("redkit: metrics: %w", err)
	}
	e.metrics = func() { _ = reg.Unregister() }
	return nil
}
