package main

// The shop: one instance of the pizzeria, its Kit and the building blocks
// each part of the demo uses. Each part lives in its own file (menu.go,
// customer.go, orders.go, kitchen.go, live.go, panel.go, daily.go) and
// adds its routes and background work here.

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/health"
	"github.com/redkit-go/redkit/ratelimit"
	"github.com/redkit-go/redkit/session"
)

//go:embed web
var webFiles embed.FS

// shop is one pizzeria instance.
type shop struct {
	name     string // instance name, shown on the page and in events
	kit      *redkit.Kit
	log      *slog.Logger
	health   *health.Checker
	sessions *session.Manager
	limiter  *ratelimit.Limiter
	panel    panel
	meter    *sdkmetric.MeterProvider
	metrics  http.Handler
	mux      *http.ServeMux

	menu    *menu
	orders  *orders
	kitchen *kitchen
	live    *live
	daily   *daily

	bg      sync.WaitGroup // background work, stopped by Close
	stop    context.CancelFunc
	closers []func() error
	ownKit  bool // Close closes the Kit too
}

// startInstance opens a Kit for one shop instance and starts its parts.
func startInstance(ctx context.Context, cfg redkit.Config, name string, log *slog.Logger) (*shop, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	cfg.MeterProvider = mp
	cfg.Logger = log
	kit, err := redkit.Open(ctx, cfg)
	if err != nil {
		mp.Shutdown(context.Background())
		return nil, err
	}
	s, err := newShop(ctx, kit, name, log)
	if err != nil {
		kit.Close()
		mp.Shutdown(context.Background())
		return nil, err
	}
	s.meter = mp
	s.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	s.ownKit = true
	return s, nil
}

// newShop builds a shop on kit. Close stops what it started, not the Kit.
func newShop(ctx context.Context, kit *redkit.Kit, name string, log *slog.Logger) (*shop, error) {
	s := &shop{
		name:   name,
		kit:    kit,
		log:    log,
		mux:    http.NewServeMux(),
		health: health.NewChecker(kit, &health.Options{Interval: 2 * time.Second}),
		sessions: session.NewManager(kit, &session.Options{
			IdleTimeout: 30 * time.Minute,
			Lifetime:    12 * time.Hour,
			// The demo serves plain HTTP on loopback; a real shop keeps
			// the default Secure cookie.
			Cookie: session.CookieOptions{Name: "pizzeria", Insecure: true},
		}),
		// With Redis silent, the local fallback decides after 250ms.
		limiter: ratelimit.New(kit, "pizzeria", &ratelimit.Options{Timeout: 250 * time.Millisecond}),
	}
	s.onClose(s.limiter.Close) // its local fallback's state, if an outage made one
	bctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	steps := []func(ctx, bctx context.Context) error{
		s.setupLive, // first: the others publish through it
		s.setupMenu,
		s.setupCustomers,
		s.setupOrders,
		s.setupKitchen,
		s.setupDaily,
		s.setupPanel,
	}
	for _, step := range steps {
		if err := step(ctx, bctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	web, _ := fs.Sub(webFiles, "web")
	s.mux.Handle("GET /", http.FileServerFS(web))
	s.mux.Handle("GET /healthz", s.health.Handler())
	s.mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if s.metrics == nil {
			http.Error(w, "no metrics in this instance", http.StatusNotFound)
			return
		}
		s.metrics.ServeHTTP(w, r)
	})
	return s, nil
}

// Handler is the instance's HTTP handler: every route runs inside the
// session middleware, which loads a session only when a handler uses it.
func (s *shop) Handler() http.Handler { return s.sessions.Middleware(s.mux) }

// background runs fn until Close, logging its error.
func (s *shop) background(ctx context.Context, what string, fn func(ctx context.Context) error) {
	s.bg.Go(func() {
		if err := fn(ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error(what+" stopped", "err", err)
		}
	})
}

// onClose adds a closer, run in reverse order by Close.
func (s *shop) onClose(fn func() error) { s.closers = append(s.closers, fn) }

// EndStreams ends the server-sent event streams, so that an HTTP server's
// Shutdown need not wait for them.
func (s *shop) EndStreams() {
	if s.live != nil {
		s.live.hub.close()
	}
}

// Close stops the instance's background work and closes its parts (and
// the Kit, for an instance from startInstance).
func (s *shop) Close() error {
	s.EndStreams()
	if s.stop != nil {
		s.stop()
	}
	s.bg.Wait()
	var errs []error
	for _, c := range slices.Backward(s.closers) {
		errs = append(errs, c())
	}
	errs = append(errs, s.health.Close())
	if s.ownKit {
		errs = append(errs, s.kit.Close())
	}
	if s.meter != nil {
		errs = append(errs, s.meter.Shutdown(context.Background()))
	}
	return errors.Join(errs...)
}
