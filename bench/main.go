// Command bench runs redkit's side-by-side benchmarks against its peers
// (rueidis, go-redis and the libraries built on them) and writes
// RESULTS.md. See README.md for the flags and how to add a suite.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/rueidis"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// checkLeftovers reports goroutines a suite left running (clients it did
// not close): they keep working during the next suites and skew them.
// Clients stop their goroutines asynchronously, so it waits a little.
func checkLeftovers(env *Env, suite string, before int) {
	for range 20 {
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	env.Logf("suite %s left %d goroutines running (close every client it opens):", suite, runtime.NumGoroutine()-before)
	_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
}

func run() error {
	var (
		out       = flag.String("out", "", "write the Markdown report to this file (default: standard output)")
		suiteList = flag.String("suite", "", "comma-separated suites to run (default: all but the manual ones)")
		quick     = flag.Bool("quick", false, "smoke run: short measurements, one round; the numbers mean nothing")
		duration  = flag.Duration("duration", 500*time.Millisecond, "length of one measurement (one variant, one round)")
		rounds    = flag.Int("rounds", 5, "measurements per variant; the median is reported")
		addr      = flag.String("redis-addr", "", "use this redis-server (host:port) instead of starting one; keys are written under bench:")
		list      = flag.Bool("list", false, "list the suites and exit")
		gList     = flag.String("goroutines", "1,16,128,512", "comma-separated concurrencies for the suites that sweep them (kv, tune)")
		progress  = flag.Bool("progress", false, "also print machine-readable progress lines on stderr: \"progress <i> <n> <suite> start|done|failed\" (for redkit bench)")
	)
	flag.Parse()
	if *list {
		fmt.Println(strings.Join(suiteNames(), "\n"))
		return nil
	}
	selected, err := selectSuites(*suiteList)
	if err != nil {
		return err
	}
	goroutines, err := parseGoroutines(*gList)
	if err != nil {
		return err
	}

	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	env := &Env{
		ctx:        ctx,
		Quick:      *quick,
		Duration:   *duration,
		Rounds:     max(*rounds, 1),
		Goroutines: goroutines,
	}
	if *quick {
		env.Duration, env.Rounds = 100*time.Millisecond, 1
	}
	env.Warmup = min(max(env.Duration/5, 20*time.Millisecond), 300*time.Millisecond)

	if !env.Quick {
		unlock, err := lockMachine(ctx, env.Logf)
		if err != nil {
			return err
		}
		defer unlock()
	}

	where := "started by the run (loopback, no persistence)"
	if *addr != "" {
		env.Addr, where = *addr, "at "+*addr
	} else {
		a, stop, err := startRedis()
		if err != nil {
			return err
		}
		defer stop()
		env.Addr = a
	}
	// A client of the runner's own, for INFO (version, CPU use).
	info, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{env.Addr}, DisableCache: true})
	if err != nil {
		return fmt.Errorf("redis at %s: %w", env.Addr, err)
	}
	defer info.Close()
	env.info = info
	version, err := redisVersion(ctx, info)
	if err != nil {
		return fmt.Errorf("redis at %s: %w", env.Addr, err)
	}

	began := time.Now()
	runStart := env.sampleCPU()
	// The report shows the flags that shape the numbers (not -progress).
	shown := slices.DeleteFunc(slices.Clone(os.Args[1:]), func(a string) bool { return a == "-progress" || a == "--progress" })
	rep := Run{Machine: machine(version, where), Flags: "go run . " + strings.Join(shown, " ")}
	// progressf prints one progress line; suites are numbered from 1.
	progressf := func(i int, suite, state string) {
		if *progress {
			env.logMu.Lock()
			fmt.Fprintf(os.Stderr, "progress %d %d %s %s\n", i+1, len(selected), suite, state)
			env.logMu.Unlock()
		}
	}
	for i, s := range selected {
		if ctx.Err() != nil {
			break
		}
		progressf(i, s.Name, "start")
		env.Logf("suite %s: %s", s.Name, s.Title)
		t0 := time.Now()
		cpu0 := env.sampleCPU()
		goroutines := runtime.NumGoroutine()
		sec, err := s.Run(env)
		checkLeftovers(env, s.Name, goroutines)
		if err != nil {
			env.Logf("suite %s failed: %v", s.Name, err)
			rep.Failed = append(rep.Failed, s.Name+": "+err.Error())
			progressf(i, s.Name, "failed")
			continue
		}
		if sec.Title == "" {
			sec.Title = s.Title
		}
		if u, ok := cpu0.to(env.sampleCPU()); ok {
			sec.cpu = &u
		}
		rep.Sections = append(rep.Sections, sec)
		env.Logf("suite %s done in %s; CPU: %v", s.Name, time.Since(t0).Round(time.Second), sec.cpu)
		progressf(i, s.Name, "done")
	}
	rep.Took = time.Since(began)
	if u, ok := runStart.to(env.sampleCPU()); ok {
		rep.CPU = &u
	}
	rep.Retried, rep.Disturbed = env.retried.Load(), env.disturbed.Load()
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}

	w := os.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if err := writeMarkdown(w, rep); err != nil {
		return err
	}
	if w != os.Stdout {
		if err := w.Close(); err != nil {
			return err
		}
	}
	if len(rep.Failed) > 0 {
		return fmt.Errorf("%d suite(s) failed: %s", len(rep.Failed), strings.Join(rep.Failed, "; "))
	}
	return nil
}

// parseGoroutines reads the -goroutines flag: positive integers, comma-separated.
func parseGoroutines(list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-goroutines: %q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}
