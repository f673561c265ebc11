// Command pizzeria is redkit's demo: Mario's Pizzeria as a small web app
// in which every redkit building block does a real job.
//
//	make demo                  # or: go run ./examples/pizzeria
//	open http://127.0.0.1:8080 # the shop; :8081 is the second instance
//
// A customer logs in (session, rate-limited), browses the menu (cache with
// a near cache and tags), fills a cart (session), and places an order:
// stock is reserved under a fenced lock, the order event is appended to a
// durable stream, the kitchen consumes the stream into a job queue, cooks
// work the queue (retries, dead letters), and every status change reaches
// the browser live over server-sent events from pub/sub. A schedule closes
// the day's stats once per tick across instances, and the Redis panel
// shows what each building block is doing.
//
// With REDIS_URL unset it starts its own redis-server on a free loopback
// port and stops it on exit; set REDIS_URL (see redkit.ConfigFromEnv) to
// use yours. -instances runs that many shop instances in this process, on
// consecutive ports from -addr, each with its own Kit, as separate
// processes would: the page then shows cross-instance near-cache
// invalidation and pub/sub. /metrics serves the instance's OpenTelemetry
// instruments in the Prometheus format.
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
	"strconv"
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
	addr := flag.String("addr", defAddr, "listen address of the first instance (also $ADDR); the others take the next ports")
	instances := flag.Int("instances", 2, "shop instances to run on one Redis, each with its own Kit")
	flag.Parse()
	if *instances < 1 {
		return errors.New("-instances must be at least 1")
	}

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
	cfg.AbortOnConnectFail = true

	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", *addr, err)
	}
	first, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("-addr %q: port: %w", *addr, err)
	}

	errc := make(chan error, *instances)
	var (
		servers []*http.Server
		shops   []*shop
	)
	for i := range *instances {
		name := fmt.Sprintf("pizzeria-%d", i+1)
		ilog := log.With("instance", name)
		inst, err := startInstance(ctx, cfg, name, ilog)
		if err != nil {
			return err
		}
		defer inst.Close()

		iaddr := *addr
		if first != 0 {
			iaddr = net.JoinHostPort(host, strconv.Itoa(first+i))
		}
		ln, err := net.Listen("tcp", iaddr)
		if err != nil {
			return err
		}
		hs := &http.Server{Handler: inst.Handler(), ReadHeaderTimeout: 5 * time.Second}
		servers, shops = append(servers, hs), append(shops, inst)
		go func() { errc <- hs.Serve(ln) }()
		url := "http://" + ln.Addr().String()
		ilog.Info("pizzeria listening", "url", url, "metrics", url+"/metrics")
		fmt.Printf("%s: open %s\n", name, url)
	}

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
	var errs []error
	for i, hs := range servers {
		// Server-sent event streams never end by themselves and Shutdown
		// waits for them: end them first.
		shops[i].EndStreams()
		errs = append(errs, hs.Shutdown(sctx))
	}
	return errors.Join(errs...)
}
