package redkit_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/redistest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMetricsAndLogs(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(t.Context())
	var logs syncBuffer
	k := open(t, redkit.Config{
		URL:           srv.URL(),
		MeterProvider: mp,
		MetricsPrefix: "shop",
		Logger:        slog.New(slog.NewTextHandler(&logs, nil)),
		Retry:         redkit.RetryPolicy{Retries: -1},
		Breaker:       redkit.BreakerPolicy{FailureThreshold: 2, RecoveryTimeout: time.Hour},
	})
	for range 5 {
		if _, err := k.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				got[m.Name] = d.DataPoints[0].Value
			case metricdata.Gauge[int64]:
				got[m.Name] = d.DataPoints[0].Value
			}
		}
	}
	if got["shop.commands"] < 5 {
		t.Errorf("shop.commands = %d, want >= 5 (all: %v)", got["shop.commands"], got)
	}
	if _, ok := got["shop.breaker.open"]; !ok {
		t.Errorf("shop.breaker.open missing: %v", got)
	}

	srv.Kill()
	for range 3 {
		k.Ping(t.Context())
	}
	if s := k.Stats(); s.Breaker != redkit.BreakerOpen || s.Errors < 2 {
		t.Fatalf("Stats after failures = %+v", s)
	}
	if !strings.Contains(logs.String(), "circuit breaker state changed") || !strings.Contains(logs.String(), "to=open") {
		t.Errorf("breaker change not logged; logs:\n%s", logs.String())
	}
}
