package queue_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/queue"
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

// TestWorkMetrics: Work's counters and histograms reach the Kit's
// MeterProvider, and a panic is logged with its stack.
func TestWorkMetrics(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	var logs syncBuffer
	k, err := redkit.Open(t.Context(), redkit.Config{Addrs: []string{srv.Addr()}, KeyPrefix: "qt:",
		MeterProvider: mp, MetricsPrefix: "shop", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ctx := t.Context()
	q := queue.NewPriority[string](k, "metrics", &queue.Options{MaxAttempts: 2, Backoff: fastRetry})
	stop := working(t, q, "w", func(ctx context.Context, job *queue.Job[string]) error {
		if job.Value == "panic" {
			panic("boom")
		}
		return nil
	}, nil)
	for _, v := range []string{"ok", "panic"} {
		if _, err := q.Push(ctx, v, 0); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "one processed and one dead", func() bool {
		st, err := q.Stats(ctx)
		return err == nil && st.Processed == 1 && st.Dead == 1
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	sums, counts := map[string]int64{}, map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					sums[m.Name] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					counts[m.Name] += p.Count
				}
			}
		}
	}
	want := map[string]int64{"shop.queue.processed": 1, "shop.queue.failed": 2, "shop.queue.retried": 1,
		"shop.queue.dead": 1, "shop.queue.pushed": 2, "shop.queue.delivered": 3}
	for name, n := range want {
		if sums[name] != n {
			t.Errorf("%s = %d, want %d (all: %v)", name, sums[name], n, sums)
		}
	}
	for _, name := range []string{"shop.queue.handler.duration", "shop.queue.pickup.latency"} {
		if counts[name] != 3 {
			t.Errorf("%s has %d samples, want 3 (all: %v)", name, counts[name], counts)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "handler panicked") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if l := logs.String(); !strings.Contains(l, "handler panicked") || !strings.Contains(l, "boom") || !strings.Contains(l, "goroutine") {
		t.Errorf("panic not logged with its stack:\n%s", l)
	}
	if _, err := q.Pop(ctx, "w"); !errors.Is(err, queue.ErrEmpty) {
		t.Fatalf("Pop: %v", err)
	}
}
