package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/queue"
)

func init() {
	register(Suite{Name: "jobs", Title: "Job system (queue.Work vs asynq)", Run: runJobs})
}

// jobSystem is one contender: workers with a handler, and a producer.
type jobSystem interface {
	Name() string
	// Start runs workers with concurrency handlers calling h per job.
	Start(concurrency int, h func()) (stop func(), err error)
	Push(ctx context.Context) error
}

// redkitJobs: queue.Priority[int].Work, one Kit for producers and workers.
type redkitJobs struct {
	q *queue.Priority[int]
}

func (r *redkitJobs) Name() string { return "redkit queue.Work" }

func (r *redkitJobs) Start(concurrency int, h func()) (func(), error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.q.Work(ctx, "bench", func(context.Context, *queue.Job[int]) error {
			h()
			return nil
		}, &queue.WorkOptions{Concurrency: concurrency})
	}()
	return func() { cancel(); <-done }, nil
}

func (r *redkitJobs) Push(ctx context.Context) error {
	_, err := r.q.Push(ctx, 1, 0)
	return err
}

// asynqJobs: asynq v0.26 Client and Server with their defaults (1s task
// check interval), one queue.
type asynqJobs struct {
	addr   string
	queue  string
	client *asynq.Client
	task   *asynq.Task
	opt    asynq.Option
}

func (a *asynqJobs) Name() string { return "asynq" }

type quietLogger struct{}

func (quietLogger) Debug(...any) {}
func (quietLogger) Info(...any)  {}
func (quietLogger) Warn(...any)  {}
func (quietLogger) Error(...any) {}
func (quietLogger) Fatal(...any) {}

func (a *asynqJobs) Start(concurrency int, h func()) (func(), error) {
	srv := asynq.NewServer(asynq.RedisClientOpt{Addr: a.addr}, asynq.Config{
		Concurrency:     concurrency,
		Queues:          map[string]int{a.queue: 1},
		Logger:          quietLogger{},
		LogLevel:        asynq.FatalLevel,
		ShutdownTimeout: 5 * time.Second,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc("noop", func(context.Context, *asynq.Task) error {
		h()
		return nil
	})
	if err := srv.Start(mux); err != nil {
		return nil, fmt.Errorf("asynq server: %w", err)
	}
	return srv.Shutdown, nil
}

func (a *asynqJobs) Push(ctx context.Context) error {
	_, err := a.client.EnqueueContext(ctx, a.task, a.opt)
	return err
}

// jobsBacklog caps jobs pushed and not yet handled during a throughput
// measurement, so producers faster than the workers measure the workers.
const jobsBacklog = 2000

func runJobs(env *Env) (*Section, error) {
	var cl closers
	defer cl.closeAll()
	ctx := env.Context()
	prefix := env.KeyPrefix("jobs")

	kit, err := env.OpenKit(redkit.Config{KeyPrefix: prefix + "redkit:"})
	if err != nil {
		return nil, err
	}
	cl.add(func() { kit.Close() })
	rk := &redkitJobs{q: queue.NewPriority[int](kit, "noop", nil)}
	// asynq's keys are always "asynq:{<queue>}:..."; the queue's name
	// says whose they are.
	ac := asynq.NewClient(asynq.RedisClientOpt{Addr: env.Addr})
	cl.add(func() { ac.Close() })
	aq := &asynqJobs{addr: env.Addr, queue: "bench-jobs", client: ac, task: asynq.NewTask("noop", []byte("1")),
		opt: asynq.Queue("bench-jobs")}
	systems := []jobSystem{rk, aq}
	info, err := env.OpenRueidis(rueidis.ClientOption{})
	if err != nil {
		return nil, err
	}
	cl.add(info.Close)

	// Throughput.
	tt := Table{Caption: "No-op jobs, pushed and handled (jobs/s handled; backlog capped at 2000):",
		Header: []string{"handlers", "producers", "system", "jobs/s", "vs asynq"}}
	var targets []Target
	for _, handlers := range []int{10, 50} {
		for _, producers := range []int{1, 4} {
			env.Logf("jobs: throughput, %d handlers, %d producers", handlers, producers)
			res, err := jobsThroughput(env, systems, handlers, producers)
			if err != nil {
				return nil, err
			}
			for _, r := range res {
				tt.AddRow(handlers, producers, r.Name, fmtOps(r.OpsPerSec), fmtRatio(r.Ratio(res[1])))
			}
			targets = append(targets, Target{
				What:  fmt.Sprintf("jobs throughput, %d handlers, %d producers: redkit/asynq", handlers, producers),
				Ratio: res[0].Ratio(res[1]), Min: 2.0})
		}
	}

	// Pickup latency of an idle worker.
	tl := Table{Caption: "Pickup latency of an idle worker (push → handler start), 10 handlers, one job at a time:",
		Header: []string{"system", "samples", "p50", "p99", "max"}}
	var redkitP99 time.Duration
	for i, s := range systems {
		n := 200
		if i == 1 {
			n = 20 // each sample can take asynq's 1s poll
		}
		if env.Quick {
			n = max(n/10, 2)
		}
		env.Logf("jobs: pickup latency, %s, %d samples", s.Name(), n)
		lat, err := jobsPickup(ctx, s, n)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			redkitP99 = quantile(lat, 0.99)
		}
		tl.AddRow(s.Name(), n, fmtDur(quantile(lat, 0.5)), fmtDur(quantile(lat, 0.99)), fmtDur(lat[len(lat)-1]))
	}
	targets = append(targets, Target{What: "jobs pickup: 5ms / redkit p99", Ratio: ratioOrZero(5*time.Millisecond, redkitP99), Min: 1.0})

	// Redis commands per job.
	tc := Table{Caption: "Redis commands per job (INFO commandstats delta over the jobs, everything the system sent while it ran, scripts' commands included):",
		Header: []string{"system", "jobs", "commands/job", "of which EVALSHA/EVAL"}}
	per := make([]float64, len(systems))
	for i, s := range systems {
		n := 5000
		if env.Quick {
			n = 500
		}
		env.Logf("jobs: commands per job, %s, %d jobs", s.Name(), n)
		total, scripts, err := jobsCommands(env, info, s, n)
		if err != nil {
			return nil, err
		}
		per[i] = float64(total) / float64(n)
		tc.AddRow(s.Name(), n, fmt.Sprintf("%.1f", per[i]), fmt.Sprintf("%.1f", float64(scripts)/float64(n)))
	}
	if per[0] > 0 {
		targets = append(targets, Target{What: "jobs commands per job: asynq/redkit", Ratio: per[1] / per[0], Min: 1.0})
	}

	return &Section{
		Intro: "redkit `queue.Priority[int].Work` (defaults: woken by a BLPOP on the queue's wake-up list while a " +
			"slot is idle, pops and acks of slots asking at once batched into one script call, visibility extended while a handler runs) against asynq v0.26 (`Server` with its " +
			"defaults: 1s task check interval; `Client.EnqueueContext`), same redis-server, one queue each, " +
			"no-op handlers. Both systems' workers run during a comparison; only one gets jobs at a time.",
		Tables:  []Table{tt, tl, tc},
		Targets: targets,
		Notes: []string{
			"Throughput is jobs handled per second while producers push as fast as a backlog cap of 2000 allows; the ratio is the median of per-round ratios. Each producer pushes one job per round trip (Push / EnqueueContext), so with 1 producer both systems are usually bound by that producer's round trips rather than by their workers.",
			"Pickup latency: a job is pushed to an idle worker, the next one after the handler started and a 2-5ms pause; asynq's idle worker polls every second, so its pickup is up to 1s.",
			"Commands per job count every command the server ran (scripts' inner commands included) while one system alone ran the jobs, from its workers' start to their stop, divided by the jobs: background work (heartbeats, polling, forwarding) is part of the cost.",
			"asynq writes its keys under `asynq:`, not under bench:jobs: (it has no key prefix option); its queue is `bench-jobs`.",
		},
	}, nil
}

// jobsThroughput measures every system env.Rounds times, in rotated order.
func jobsThroughput(env *Env, systems []jobSystem, handlers, producers int) ([]Result, error) {
	counters := make([]atomic.Int64, len(systems))
	var stops []func()
	defer func() {
		for _, s := range stops {
			s()
		}
	}()
	for i, s := range systems {
		stop, err := s.Start(handlers, func() { counters[i].Add(1) })
		if err != nil {
			return nil, err
		}
		stops = append(stops, stop)
	}
	res := make([]Result, len(systems))
	for i, s := range systems {
		res[i] = Result{Name: s.Name(), Goroutines: handlers}
	}
	for round := range env.Rounds {
		for j := range systems {
			i := (j + round) % len(systems)
			rate, err := jobsMeasure(env, systems[i], &counters[i], producers)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", systems[i].Name(), err)
			}
			res[i].PerRound = append(res[i].PerRound, rate)
		}
	}
	for i := range res {
		s := append([]float64(nil), res[i].PerRound...)
		res[i].OpsPerSec = median(s)
		env.Logf("  %-24s h=%-3d p=%d %8.0f jobs/s %v", res[i].Name, handlers, producers, res[i].OpsPerSec, res[i].PerRound)
	}
	return res, nil
}

func jobsMeasure(env *Env, s jobSystem, handled *atomic.Int64, producers int) (float64, error) {
	ctx := env.Context()
	var (
		pushed atomic.Int64
		stop   atomic.Bool
		wg     sync.WaitGroup
		errMu  sync.Mutex
		first  error
	)
	base := handled.Load()
	for range producers {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, time.Hour)
			defer cancel()
			for !stop.Load() {
				if pushed.Load()-(handled.Load()-base) > jobsBacklog {
					time.Sleep(50 * time.Microsecond)
					continue
				}
				if err := s.Push(pctx); err != nil {
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
					stop.Store(true)
					return
				}
				pushed.Add(1)
			}
		})
	}
	// Warm up from the first job handled: an idle asynq worker sleeps up to
	// its 1s check interval before it looks again.
	for wait := time.Now().Add(5 * time.Second); handled.Load() == base && time.Now().Before(wait); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(env.Warmup)
	h0, t0 := handled.Load(), time.Now()
	time.Sleep(env.Duration)
	h1, t1 := handled.Load(), time.Now()
	stop.Store(true)
	wg.Wait()
	// Drain, so the next measurement starts from an empty queue.
	deadline := time.Now().Add(60 * time.Second)
	for handled.Load()-base < pushed.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	if first != nil {
		return 0, first
	}
	return float64(h1-h0) / t1.Sub(t0).Seconds(), nil
}

func jobsPickup(ctx context.Context, s jobSystem, n int) ([]time.Duration, error) {
	started := make(chan time.Time, 1)
	stop, err := s.Start(10, func() {
		select {
		case started <- time.Now():
		default:
		}
	})
	if err != nil {
		return nil, err
	}
	defer stop()
	time.Sleep(50 * time.Millisecond) // let the workers go idle
	lat := make([]time.Duration, 0, n)
	for range n {
		time.Sleep(2*time.Millisecond + rand.N(3*time.Millisecond))
		t0 := time.Now()
		if err := s.Push(ctx); err != nil {
			return nil, err
		}
		select {
		case t := <-started:
			lat = append(lat, t.Sub(t0))
		case <-time.After(10 * time.Second):
			return nil, fmt.Errorf("%s: a job did not start within 10s", s.Name())
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	sortDurations(lat)
	return lat, nil
}

func sortDurations(d []time.Duration) {
	for i := 1; i < len(d); i++ {
		for j := i; j > 0 && d[j] < d[j-1]; j-- {
			d[j], d[j-1] = d[j-1], d[j]
		}
	}
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(int(q*float64(len(sorted))), len(sorted)-1)]
}

// jobsCommands runs n jobs through s alone and returns the commands the
// server ran meanwhile (INFO itself excluded), and how many were scripts.
func jobsCommands(env *Env, info rueidis.Client, s jobSystem, n int) (total, scripts int64, err error) {
	ctx := env.Context()
	before, bs, bm, err := commandCalls(ctx, info)
	if err != nil {
		return 0, 0, err
	}
	var handled atomic.Int64
	stop, err := s.Start(10, func() { handled.Add(1) })
	if err != nil {
		return 0, 0, err
	}
	for i := 0; i < n; i++ {
		for int64(i)-handled.Load() > jobsBacklog {
			time.Sleep(50 * time.Microsecond)
		}
		if err := s.Push(ctx); err != nil {
			stop()
			return 0, 0, err
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for handled.Load() < int64(n) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stop()
	after, as, am, err := commandCalls(ctx, info)
	if err != nil {
		return 0, 0, err
	}
	var per []string
	for name, v := range am {
		if d := v - bm[name]; d > 0 {
			per = append(per, fmt.Sprintf("%s %.2f", strings.TrimPrefix(name, "cmdstat_"), float64(d)/float64(n)))
		}
	}
	slices.Sort(per)
	env.Logf("  %s: commands per job: %s", s.Name(), strings.Join(per, ", "))
	return after - before, as - bs, nil
}

// commandCalls sums INFO commandstats calls (info excluded).
func commandCalls(ctx context.Context, c rueidis.Client) (total, scripts int64, per map[string]int64, err error) {
	s, err := c.Do(ctx, c.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		return 0, 0, nil, err
	}
	per = map[string]int64{}
	for line := range strings.SplitSeq(s, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") || name == "cmdstat_info" {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		v, _ := strconv.ParseInt(calls, 10, 64)
		total += v
		per[name] = v
		if name == "cmdstat_evalsha" || name == "cmdstat_eval" {
			scripts += v
		}
	}
	return total, scripts, per, nil
}
