package cache_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/embedded"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/cache"
	"github.com/redkit-go/redkit/redistest"
)

// recordingMeter keeps the callbacks registered on it, so the test can
// collect what the cache reports, as an OpenTelemetry SDK reader would.
type recordingMeter struct {
	noop.Meter
	mu  sync.Mutex
	cbs map[int]metric.Callback
	n   int
}

type namedCounter struct {
	noop.Int64ObservableCounter
	name string
}

func (m *recordingMeter) Int64ObservableCounter(name string, _ ...metric.Int64ObservableCounterOption) (metric.Int64ObservableCounter, error) {
	return &namedCounter{name: name}, nil
}

type registration struct {
	embedded.Registration
	m  *recordingMeter
	id int
}

func (r registration) Unregister() error {
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	delete(r.m.cbs, r.id)
	return nil
}

func (m *recordingMeter) RegisterCallback(f metric.Callback, _ ...metric.Observable) (metric.Registration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cbs == nil {
		m.cbs = map[int]metric.Callback{}
	}
	m.n++
	m.cbs[m.n] = f
	return registration{m: m, id: m.n}, nil
}

type observer struct {
	embedded.Observer
	vals map[string]int64 // "name cache.name tier"
}

func (o *observer) ObserveFloat64(metric.Float64Observable, float64, ...metric.ObserveOption) {}
func (o *observer) ObserveInt64(inst metric.Int64Observable, v int64, opts ...metric.ObserveOption) {
	c, ok := inst.(*namedCounter)
	if !ok {
		return
	}
	attrs := metric.NewObserveConfig(opts).Attributes()
	name, _ := attrs.Value("cache.name")
	tier, _ := attrs.Value("cache.tier")
	o.vals[c.name+" "+name.AsString()+" "+tier.AsString()] += v
}

func (m *recordingMeter) collect() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := &observer{vals: map[string]int64{}}
	for _, f := range m.cbs {
		f(context.Background(), o)
	}
	return o.vals
}

type meterProvider struct {
	noop.MeterProvider
	m *recordingMeter
}

func (p meterProvider) Meter(string, ...metric.MeterOption) metric.Meter { return p.m }

func TestMetrics(t *testing.T) {
	srv := redistest.Start(t, nil)
	rec := &recordingMeter{}
	k := openKit(t, prefixFor(t), []string{srv.Addr()}, func(c *redkit.Config) {
		c.MeterProvider = meterProvider{m: rec}
		c.MetricsPrefix = "app"
	})
	ctx := t.Context()
	c := cache.New[int](k, "m", &cache.Options{NearCache: &cache.NearCacheOptions{}, FailSafe: time.Hour})
	mustSet(t, c, "a", 1, time.Minute)
	c.Get(ctx, "a")                                                                         // remote hit
	c.Get(ctx, "a")                                                                         // near hit
	c.Get(ctx, "missing")                                                                   // miss
	c.GetOrSet(ctx, "b", func(context.Context) (int, error) { return 2, nil }, time.Minute) // miss + load
	srv.Do("SET", c.Key("junk"), "{")
	c.Get(ctx, "junk") // decode error

	want := cache.Stats{NearHits: 1, RemoteHits: 1, Misses: 2, Loads: 1, DecodeErrors: 1}
	if got := c.Stats(); got != want {
		t.Fatalf("Stats = %+v; want %+v", got, want)
	}
	if ks := k.Stats(); ks.Hits != 2 || ks.Misses != 2 {
		t.Fatalf("Kit Stats hits/misses = %d/%d; want 2/2", ks.Hits, ks.Misses)
	}
	got := rec.collect()
	for name, v := range map[string]int64{
		"app.cache.hits m near":      1,
		"app.cache.hits m remote":    1,
		"app.cache.misses m ":        2,
		"app.cache.loads m ":         1,
		"app.cache.load_errors m ":   0,
		"app.cache.stale_served m ":  0,
		"app.cache.decode_errors m ": 1,
	} {
		if got[name] != v {
			t.Errorf("instrument %q = %d; want %d (all: %v)", name, got[name], v, got)
		}
	}
	c.Close()
	if got := rec.collect(); got["app.cache.hits m near"] != 0 {
		t.Fatalf("the cache still reports after Close: %v", got)
	}
}

// Near hits are counted per core and passed to the Kit in batches: after
// many goroutines hit at once, and once they are done, Stats and the
// Kit's Hits add up exactly.
func TestNearHitStatsAddUp(t *testing.T) {
	_, k := single(t)
	ctx := t.Context()
	c := cache.New[int](k, "sum", nearOpts())
	defer c.Close()
	mustSet(t, c, "hot", 7, time.Hour)
	mustSet(t, c, "warm", 8, time.Hour)
	c.Get(ctx, "hot")  // remote hits: they fill the near cache
	c.Get(ctx, "warm") //
	before, kitBefore := c.Stats(), k.Stats().Hits
	const goroutines, each = 64, 1000 + 37 // not a multiple of the batch
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				key := "hot"
				if (g+i)%5 == 0 {
					key = "warm"
				}
				var v int
				var err error
				if i%2 == 0 {
					v, _, err = c.Get(ctx, key)
				} else {
					v, err = c.GetOrSet(ctx, key, func(context.Context) (int, error) { return 0, errors.New("loaded") }, time.Hour)
				}
				if err != nil || v < 7 {
					t.Errorf("hit %d: %v, %v", i, v, err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := c.Stats()
	if got, want := st.NearHits-before.NearHits, int64(goroutines*each); got != want {
		t.Fatalf("NearHits went up by %d; want %d (Stats %+v)", got, want, st)
	}
	if st.RemoteHits != before.RemoteHits || st.Misses != 0 || st.Loads != 0 {
		t.Fatalf("Stats %+v: lookups left the near cache", st)
	}
	if got, want := k.Stats().Hits-kitBefore, int64(goroutines*each); got != want {
		t.Fatalf("the Kit's Hits went up by %d; want %d", got, want)
	}
}
