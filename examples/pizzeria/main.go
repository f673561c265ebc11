// Command pizzeria is redkit's demo service: a small pizza shop HTTP API
// that uses every redkit capability against one Redis.
//
//	make demo                        # or: go run ./examples/pizzeria
//	curl http://127.0.0.1:8080/healthz
//
// With REDIS_URL unset it starts its own redis-server on a free loopback
// port and stops it on exit; set REDIS_URL (see redkit.ConfigFromEnv) to
// use yours. The listen address is -addr, or $ADDR, default
// 127.0.0.1:8080.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/redistest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pizzeria:", err)
		os.Exit(1)
	}
}

func run() error {
	defAddr := os.Getenv("ADDR")
	if defAddr == "" {
		defAddr = "127.0.0.1:8080"
	}
	addr := flag.String("addr", defAddr, "listen address (also $ADDR)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, err := redkit.ConfigFromEnv()
	if err != nil {
		return err
	}
	if os.Getenv("REDIS_URL") == "" {
		srv, err := redistest.Launch(nil)
		if err != nil {
			return fmt.Errorf("starting an embedded redis-server (set REDIS_URL to use yours): %w", err)
		}
		defer srv.Close()
		log.Info("started embedded redis-server", "url", srv.URL())
		cfg.URL, cfg.Addrs = srv.URL(), nil
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "pizzeria:"
	}
	cfg.Logger = log
	cfg.AbortOnConnectFail = true

	kit, err := redkit.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer kit.Close()

	app, err := newApp(ctx, kit, log)
	if err != nil {
		return err
	}
	defer app.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: app.routes(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("pizzeria listening", "url", "http://"+ln.Addr().String(), "health", "http://"+ln.Addr().String()+"/healthz")

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case <-ctx.Done():
		log.Info("shutting down")
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}
