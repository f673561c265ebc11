package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/health"
)

// feature is one part of the demo (menu, orders, cart, kitchen...). Each
// lives in its own file and registers itself in init, so the parts stay
// independent: setup mounts its routes and returns what to close.
type feature struct {
	name  string
	setup func(ctx context.Context, a *app, mux *http.ServeMux) (closer func() error, err error)
}

var features []feature

func register(name string, setup func(ctx context.Context, a *app, mux *http.ServeMux) (func() error, error)) {
	features = append(features, feature{name, setup})
}

// app holds the service's redkit building blocks.
type app struct {
	kit     *redkit.Kit
	log     *slog.Logger
	health  *health.Checker
	mux     *http.ServeMux
	closers []func() error
	stop    context.CancelFunc
	done    chan struct{}
}

func newApp(ctx context.Context, kit *redkit.Kit, log *slog.Logger) (*app, error) {
	a := &app{kit: kit, log: log, mux: http.NewServeMux(), done: make(chan struct{})}
	a.health = health.NewChecker(kit, &health.Options{Interval: 2 * time.Second})
	a.mux.Handle("GET /healthz", a.health.Handler())
	a.mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.kit.Stats())
	})
	for _, f := range features {
		closer, err := f.setup(ctx, a, a.mux)
		if err != nil {
			a.Close()
			return nil, errors.Join(errors.New(f.name+": setup failed"), err)
		}
		if closer != nil {
			a.closers = append(a.closers, closer)
		}
	}
	lctx, stop := context.WithCancel(context.Background())
	a.stop = stop
	go a.logHealth(lctx)
	return a, nil
}

// logHealth logs the Redis health every 10 seconds.
func (a *app) logHealth(ctx context.Context) {
	defer close(a.done)
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		s := a.health.Status()
		a.log.Info("redis health", "healthy", s.Healthy, "latency", s.Latency, "breaker", string(s.Breaker), "mode", s.Mode)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *app) routes() http.Handler { return a.mux }

// Close stops the app's background work, features first (in reverse).
func (a *app) Close() error {
	var errs []error
	for _, c := range slices.Backward(a.closers) {
		errs = append(errs, c())
	}
	if a.stop != nil {
		a.stop()
		<-a.done
	}
	errs = append(errs, a.health.Close())
	return errors.Join(errs...)
}
