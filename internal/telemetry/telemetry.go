// Package telemetry holds redkit's logging, metrics and tracing wiring:
// one place that turns a Kit's Logger, MeterProvider and TracerProvider
// into what the packages use, so every package names things the same way.
package telemetry

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of redkit's meters and tracers.
const ScopeName = "github.com/redkit-go/redkit"

// Attribute keys used in logs and spans.
const (
	KeyKey     = "redis.key"
	KeyLockKey = "lock.key"
	KeyCache   = "cache.name"
	KeyError   = "error"
)

// DBSystem is the OpenTelemetry db.system attribute for every span.
var DBSystem = attribute.String("db.system", "redis")

// T bundles a Kit's logger, meter and tracer.
type T struct {
	Logger *slog.Logger
	Meter  metric.Meter
	Tracer trace.Tracer
	prefix string
}

// New returns a T; nil providers mean the global ones, a nil logger
// discards.
func New(logger *slog.Logger, mp metric.MeterProvider, tp trace.TracerProvider, prefix string) *T {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &T{
		Logger: logger,
		Meter:  mp.Meter(ScopeName),
		Tracer: tp.Tracer(ScopeName),
		prefix: prefix,
	}
}

// Name returns an instrument name: the prefix, a dot, and name.
func (t *T) Name(name string) string {
	if t.prefix == "" {
		return name
	}
	return t.prefix + "." + name
}

// Start starts a client span named name ("cache.get") when ctx carries a
// recording span, and returns a nil span otherwise: redkit adds detail
// to traces the caller records, and costs nothing when nobody traces.
func (t *T) Start(ctx context.Context, name, key string) (context.Context, trace.Span) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, nil
	}
	return t.Tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(DBSystem, attribute.String(KeyKey, key)))
}

// End ends a span from Start, recording err. A nil span is ignored.
func End(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
