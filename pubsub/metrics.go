package pubsub

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/engine"
)

// counter is a count kept both in process (for Stats) and as an
// OpenTelemetry counter of the Kit's meter.
type counter struct {
	n    atomic.Int64
	c    metric.Int64Counter
	opts []metric.AddOption // built once: a variadic call would allocate per Add
}

func (c *counter) Add(n int64) {
	c.n.Add(n)
	if c.c != nil {
		c.c.Add(context.Background(), n, c.opts...)
	}
}

func (c *counter) Load() int64 { return c.n.Load() }

// instrument sets the counters of cs, named "pubsub.<prefix><name>" with
// the attribute key=value.
func instrument(k *redkit.Kit, prefix, key, value string, cs map[string]*counter) {
	tel := engine.HooksOf(k.Client()).Tel
	opts := []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String(key, value)))}
	for name, c := range cs {
		c.c, _ = tel.Meter.Int64Counter(tel.Name("pubsub."+prefix+name), metric.WithDescription(descriptions[prefix+name]))
		c.opts = opts
	}
}

var descriptions = map[string]string{
	"delivered":            "Pub/sub messages handed to a handler",
	"dropped":              "Pub/sub messages dropped because a subscription's buffer was full",
	"decode_errors":        "Pub/sub messages whose payload did not decode",
	"handler_errors":       "Pub/sub handler calls that failed or panicked",
	"gaps":                 "Resubscriptions after which pub/sub messages may have been missed",
	"stream.published":     "Stream entries appended",
	"stream.delivered":     "Stream entries handed to a handler",
	"stream.acked":         "Stream entries acknowledged",
	"stream.failed":        "Stream handler calls that failed or panicked",
	"stream.reclaimed":     "Idle pending stream entries claimed from another consumer",
	"stream.dead_lettered": "Stream entries moved to the dead-letter stream",
	"stream.trimmed":       "Pending stream entries found trimmed and acknowledged",
	"stream.decode_errors": "Stream entries that did not decode",
}

func (s *Subscription) instrument() {
	instrument(s.k, "", "pubsub.channel", s.name, map[string]*counter{
		"delivered": &s.delivered, "dropped": &s.dropped, "decode_errors": &s.decodeErrors,
		"handler_errors": &s.handlerErrors, "gaps": &s.gaps,
	})
}

func newStreamStats(k *redkit.Kit, name string) *streamStats {
	st := &streamStats{}
	instrument(k, "stream.", "pubsub.stream", name, map[string]*counter{
		"published": &st.published, "delivered": &st.delivered, "acked": &st.acked, "failed": &st.failed,
		"reclaimed": &st.reclaimed, "dead_lettered": &st.deadLettered, "trimmed": &st.trimmed,
		"decode_errors": &st.decodeErrors,
	})
	return st
}
