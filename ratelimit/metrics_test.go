package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/ratelimit"
	"github.com/redkit-go/redkit/redistest"
)

// The counters are reported per limiter name (under the default
// MetricsPrefix, "redkit").
func TestMetrics(t *testing.T) {
	srv := redistest.Start(t, nil)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	k, err := redkit.Open(t.Context(), redkit.Config{Addrs: []string{srv.Addr()}, KeyPrefix: "rl:", MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	a, b := newLimiter(t, k, "a", nil), newLimiter(t, k, "b", &ratelimit.Options{Fallback: ratelimit.FallbackAllow})
	lim := ratelimit.Limit{Rate: 1, Period: time.Hour}
	for range 3 {
		allow(t, a, "k", lim)
	}
	allow(t, b, "k", lim)
	srv.Kill()
	allow(t, b, "k", lim)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if d, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, p := range d.DataPoints {
					if name, ok := p.Attributes.Value(attribute.Key("ratelimit.name")); ok {
						got[m.Name+"/"+name.AsString()] = p.Value
					}
				}
			}
		}
	}
	for key, want := range map[string]int64{
		"redkit.ratelimit.allowed/a": 1, "redkit.ratelimit.refused/a": 2, "redkit.ratelimit.fallback/a": 0,
		"redkit.ratelimit.allowed/b": 2, "redkit.ratelimit.refused/b": 0, "redkit.ratelimit.fallback/b": 1,
	} {
		if got[key] != want {
			t.Errorf("%s = %d; want %d (all: %v)", key, got[key], want, got)
		}
	}
}
