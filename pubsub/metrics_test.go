package pubsub_test

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/pubsub"
	"github.com/redkit-go/redkit/redistest"
)

func TestMetrics(t *testing.T) {
	srv := redistest.Start(t, nil)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	k, err := redkit.Open(t.Context(), redkit.Config{URL: srv.URL(), MeterProvider: mp, MetricsPrefix: "app"})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()

	var c collector[int]
	topic := pubsub.NewTopic[int](k, "m")
	sub, err := topic.Subscribe(t.Context(), c.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := topic.PublishMany(t.Context(), 1, 2, 3); err != nil {
		t.Fatal(err)
	}
	eventually(t, "3 messages", func() bool { return c.len() == 3 })

	s := pubsub.NewStream[int](k, "ms", nil)
	publishN(t, s, 0, 2)
	var sc collector[int]
	stop := consume(t, s, "g", "c", sc.handle)
	eventually(t, "2 entries", func() bool { return sc.len() == 2 })
	stop()

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if d, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, p := range d.DataPoints {
					got[m.Name] += p.Value
				}
			}
		}
	}
	for name, want := range map[string]int64{
		"app.pubsub.delivered": 3, "app.pubsub.stream.published": 2,
		"app.pubsub.stream.delivered": 2, "app.pubsub.stream.acked": 2,
	} {
		if got[name] != want {
			t.Errorf("%s = %d, want %d (all: %v)", name, got[name], want, got)
		}
	}
}
