package queue_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/queue"
)

func init() {
	suite = append(suite, []struct {
		name string
		fn   func(t *testing.T, e env, name string)
	}{
		{"SchedulerOncePerTick", testSchedulerOncePerTick},
		{"SchedulerPausedInstance", testSchedulerPausedInstance},
	}...)
}

// fires collects the ticks fired, by instance.
type fires struct {
	mu sync.Mutex
	by map[int64][]string // tick ms -> instances that fired it
}

func (f *fires) add(tick time.Time, who string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.by == nil {
		f.by = map[int64][]string{}
	}
	f.by[tick.UnixMilli()] = append(f.by[tick.UnixMilli()], who)
}

func (f *fires) check(t *testing.T) int {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for tick, who := range f.by {
		if len(who) != 1 {
			t.Errorf("tick %s fired by %v", time.UnixMilli(tick).Format("15:04:05.000"), who)
		}
	}
	return len(f.by)
}

func testSchedulerOncePerTick(t *testing.T, e env, name string) {
	const interval = 100 * time.Millisecond
	var f fires
	ctx, cancel := context.WithCancel(t.Context())
	var (
		wg       sync.WaitGroup
		minutely atomic.Int64 // fires when the run spans a minute's start
	)
	start := time.Now()
	scheds := make([]*queue.Scheduler, 3)
	for i := range scheds {
		k := e.k
		if i > 0 {
			k = open(t, e.addrs)
		}
		s := queue.NewScheduler(k, name, nil)
		who := fmt.Sprint("instance-", i)
		if err := s.Every("tick", interval, func(ctx context.Context) error {
			tick, ok := queue.Tick(ctx)
			if !ok || tick.UnixMilli()%interval.Milliseconds() != 0 {
				t.Errorf("Tick = %v, %v; want a multiple of %v", tick, ok, interval)
			}
			f.add(tick, who)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.Cron("minutely", "* * * * *", func(ctx context.Context) error { minutely.Add(1); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := s.Every("tick", time.Second, func(context.Context) error { return nil }); err == nil {
			t.Fatal("Every with a duplicate id: nil error")
		}
		scheds[i] = s
		wg.Go(func() {
			if err := s.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	cancel()
	wg.Wait()
	elapsed := time.Since(start)
	n := f.check(t)
	var st queue.SchedulerStats
	for _, s := range scheds {
		x := s.Stats()
		st.Fired += x.Fired
		st.Lost += x.Lost
		st.Skipped += x.Skipped
	}
	t.Logf("%d ticks in %v: %+v", n, elapsed, st)
	if want := int(elapsed / interval); n < want/2 || n > want+1 {
		t.Fatalf("%d ticks fired in %v, want about %d", n, elapsed, want)
	}
	if st.Fired != int64(n)+minutely.Load() {
		t.Fatalf("Stats.Fired sums to %d, %d ticks and %d minutely ticks fired", st.Fired, n, minutely.Load())
	}
	// Down for a while: the ticks missed are skipped and counted, not
	// fired late.
	time.Sleep(5 * interval)
	var late int
	s := queue.NewScheduler(e.k, name, nil)
	if err := s.Every("tick", interval, func(ctx context.Context) error {
		tick, _ := queue.Tick(ctx)
		if time.Since(tick) > 3*interval {
			late++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(t.Context(), 3*interval)
	defer rcancel()
	if err := s.Run(rctx); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Skipped < 3 || late > 0 {
		t.Fatalf("after a pause of 5 ticks: %+v, %d fired late; want >= 3 skipped, none late", st, late)
	}
	// Bad specs.
	s = queue.NewScheduler(e.k, name+"-bad", nil)
	for _, spec := range []string{"", "* * *", "61 * * * *", "@every nope", "@every 0s"} {
		if err := s.Cron("x", spec, func(context.Context) error { return nil }); err == nil {
			t.Errorf("Cron(%q): nil error", spec)
		}
	}
	if err := s.Cron("d", "@daily", func(context.Context) error { return nil }); err != nil {
		t.Errorf("Cron(@daily): %v", err)
	}
}

// testSchedulerPausedInstance: one instance is a separate process, stopped
// (SIGSTOP) past several ticks; the other fires them, and the stopped one,
// resumed, fires none twice.
func testSchedulerPausedInstance(t *testing.T, e env, name string) {
	const interval = 200 * time.Millisecond
	var f fires
	cmd, lines := startSchedulerProcess(t, e, name, interval)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := queue.NewScheduler(e.k, name, nil)
	if err := s.Every("tick", interval, func(ctx context.Context) error {
		tick, _ := queue.Tick(ctx)
		f.add(tick, "local")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var childMu sync.Mutex
	var childTicks []int64
	go func() {
		for l := range lines {
			var ms int64
			if _, err := fmt.Sscanf(l, "FIRED %d", &ms); err == nil {
				childMu.Lock()
				childTicks = append(childTicks, ms)
				childMu.Unlock()
				f.add(time.UnixMilli(ms), "child")
			}
		}
	}()
	time.Sleep(time.Second)
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	pausedAt := time.Now()
	time.Sleep(1200 * time.Millisecond)
	resumedAt := time.Now()
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Kill()
	n := f.check(t)
	// Every tick well inside the pause was fired, by the local instance.
	f.mu.Lock()
	defer f.mu.Unlock()
	var inPause int
	for tick := pausedAt.Truncate(interval).Add(2 * interval); tick.Before(resumedAt.Add(-interval)); tick = tick.Add(interval) {
		inPause++
		if who := f.by[tick.UnixMilli()]; len(who) != 1 || who[0] != "local" {
			t.Errorf("tick %s during the pause fired by %v, want the local instance", tick.Format("15:04:05.000"), who)
		}
	}
	childMu.Lock()
	t.Logf("%d ticks, %d during the pause, child fired %d; local %+v", n, inPause, len(childTicks), s.Stats())
	childMu.Unlock()
	if inPause < 2 {
		t.Fatalf("only %d ticks inside the pause: the test machine is too slow to tell", inPause)
	}
}

const envInterval = "QUEUE_TEST_INTERVAL"

// schedulerProcess is the helper process's scheduler role: it runs the
// schedule and prints every tick it fires.
func schedulerProcess() {
	interval, err := time.ParseDuration(os.Getenv(envInterval))
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k, err := redkit.Open(ctx, redkit.Config{Addrs: strings.Split(os.Getenv(envAddrs), ","), KeyPrefix: "qt:"})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	s := queue.NewScheduler(k, os.Getenv(envName), nil)
	if err := s.Every("tick", interval, func(ctx context.Context) error {
		tick, _ := queue.Tick(ctx)
		fmt.Printf("FIRED %d\n", tick.UnixMilli())
		return nil
	}); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	fmt.Println("READY")
	_ = s.Run(ctx)
	os.Exit(0)
}

func startSchedulerProcess(t *testing.T, e env, name string, interval time.Duration) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envRole+"=scheduler", envAddrs+"="+strings.Join(e.addrs, ","),
		envName+"="+name, envInterval+"="+interval.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1000)
	ready := make(chan error, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			l := sc.Text()
			switch {
			case l == "READY":
				ready <- nil
			case strings.HasPrefix(l, "ERROR"):
				ready <- errors.New(l)
			default:
				lines <- l
			}
		}
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("scheduler process did not start within 60s")
	}
	return cmd, lines
}
