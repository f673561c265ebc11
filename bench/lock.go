package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/bsm/redislock"
	"github.com/go-redsync/redsync/v4"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/rueidis"
	"github.com/redis/rueidis/rueidislock"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/lock"
)

func init() {
	register(Suite{Name: "lock", Title: "Distributed lock (lock)", Run: runLock})
}

const (
	lockTTL        = 10 * time.Second
	lockKeys       = 1000
	lockContenders = 8
	lockProcs      = 4 // "processes" (separate clients and Lockers) of the 4 x 2 row
)

// lockCycle is one acquire + release of key with one library instance.
type lockCycle func(ctx context.Context, key string) error

// lockVariant is one lock library in one comparison: its instances (one
// per simulated process: own connections, own Locker), which instance
// goroutine g uses, and per-goroutine cycle counts for the fairness
// column (and, when timed, latencies).
type lockVariant struct {
	name   string
	cycles []lockCycle
	procOf func(g int) int
	keyOf  func(g, i int) string
	timed  bool
	counts [lockContenders]atomic.Int64
	hists  [lockContenders]hist
}

func (v *lockVariant) op() Op {
	return func(ctx context.Context, g, i int) error {
		c := v.cycles[v.procOf(g)]
		if !v.timed || g >= lockContenders {
			err := c(ctx, v.keyOf(g, i))
			if err == nil && g < lockContenders {
				v.counts[g].Add(1)
			}
			return err
		}
		t0 := time.Now()
		err := c(ctx, v.keyOf(g, i))
		v.hists[g].record(time.Since(t0))
		if err == nil {
			v.counts[g].Add(1)
		}
		return err
	}
}

// fairness is the fewest cycles of a goroutine (per false) or of a
// process (per true) over the most.
func (v *lockVariant) fairness(goroutines int, perProc bool) float64 {
	var per []int64
	if perProc {
		per = make([]int64, len(v.cycles))
		for g := range min(goroutines, lockContenders) {
			per[v.procOf(g)] += v.counts[g].Load()
		}
	} else {
		for g := range min(goroutines, lockContenders) {
			per = append(per, v.counts[g].Load())
		}
	}
	lo, hi := int64(-1), int64(0)
	for _, n := range per {
		if lo < 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
	}
	if hi == 0 {
		return 0
	}
	return float64(lo) / float64(hi)
}

func (v *lockVariant) perGoroutine(goroutines int) []int64 {
	var per []int64
	for g := range min(goroutines, lockContenders) {
		per = append(per, v.counts[g].Load())
	}
	return per
}

// p99 of the goroutines from..to-1 (timed variants).
func (v *lockVariant) p99(from, to int) time.Duration {
	var h hist
	for g := from; g < to; g++ {
		h.merge(&v.hists[g])
	}
	return h.quantile(0.99)
}

func (v *lockVariant) reset() {
	for i := range v.counts {
		v.counts[i].Store(0)
		v.hists[i] = hist{}
	}
}

// lockLib opens independent instances of one lock library.
type lockLib struct {
	name string
	open func() (lockCycle, error)
}

func runLock(env *Env) (*Section, error) {
	var cl closers
	defer cl.closeAll()
	ctx := env.Context()
	prefix := env.KeyPrefix("lock")

	redkitLib := func(name string, cfg redkit.Config, opts *lock.Options) lockLib {
		return lockLib{name: name, open: func() (lockCycle, error) {
			kit, err := env.OpenKit(cfg)
			if err != nil {
				return nil, err
			}
			cl.add(func() { kit.Close() })
			locker := lock.New(kit, opts)
			cl.add(func() { locker.Close() })
			return func(ctx context.Context, key string) error {
				m, err := locker.Acquire(ctx, key, lockTTL, nil)
				if err != nil {
					return err
				}
				return m.Release(ctx)
			}, nil
		}}
	}
	libRedkit := redkitLib("redkit lock", redkit.Config{KeyPrefix: prefix + "redkit:"}, nil)
	// The same with the engine's auto-pipelining off (each call on a pooled
	// connection, as go-redis does): shown for the 1-goroutine case, where
	// the pipeline's goroutine hand-offs are most of a call's latency.
	libRedkitSync := redkitLib("redkit lock, Engine.DisableAutoPipelining",
		redkit.Config{KeyPrefix: prefix + "redkit-sync:", Engine: redkit.EngineConfig{DisableAutoPipelining: true}}, nil)
	// Lock cohorting off: every handoff goes through Redis.
	libRedkitFIFO := redkitLib("redkit lock, DisableLocalHandoff",
		redkit.Config{KeyPrefix: prefix + "redkit-fifo:"}, &lock.Options{DisableLocalHandoff: true})
	// redsync: its defaults (retry delay 50-250ms) with enough tries never
	// to give up under this load.
	libRedsync := lockLib{name: "redsync", open: func() (lockCycle, error) {
		gr, err := env.OpenGoRedis(nil)
		if err != nil {
			return nil, err
		}
		cl.add(func() { gr.Close() })
		rs := redsync.New(goredis.NewPool(gr))
		return func(ctx context.Context, key string) error {
			m := rs.NewMutex(prefix+"redsync:"+key, redsync.WithExpiry(lockTTL), redsync.WithTries(1<<20))
			if err := m.LockContext(ctx); err != nil {
				return err
			}
			_, err := m.UnlockContext(ctx)
			return err
		}, nil
	}}
	// bsm/redislock does not retry by default; 1ms linear backoff is the
	// fastest of the strategies we tried for it (1ms, 5ms, exponential
	// 1-16ms).
	libRedislock := lockLib{name: "bsm/redislock", open: func() (lockCycle, error) {
		gr, err := env.OpenGoRedis(nil)
		if err != nil {
			return nil, err
		}
		cl.add(func() { gr.Close() })
		rl := redislock.New(gr)
		opts := &redislock.Options{RetryStrategy: redislock.LinearBackoff(time.Millisecond)}
		return func(ctx context.Context, key string) error {
			m, err := rl.Obtain(ctx, prefix+"redislock:"+key, lockTTL, opts)
			if err != nil {
				return err
			}
			return m.Release(ctx)
		}, nil
	}}
	// rueidislock: its defaults (KeyMajority 2 of 3 keys), woken by client
	// side caching invalidations.
	libRueidislock := lockLib{name: "rueidislock", open: func() (lockCycle, error) {
		rlk, err := rueidislock.NewLocker(rueidislock.LockerOption{
			ClientOption: rueidis.ClientOption{InitAddress: []string{env.Addr}},
			KeyPrefix:    prefix + "rueidislock",
			KeyValidity:  lockTTL,
		})
		if err != nil {
			return nil, fmt.Errorf("rueidislock: %w", err)
		}
		cl.add(rlk.Close)
		if err := warm(ctx, rlk.Client()); err != nil {
			return nil, err
		}
		return func(ctx context.Context, key string) error {
			_, cancel, err := rlk.WithContext(ctx, key)
			if err != nil {
				return err
			}
			cancel()
			return nil
		}, nil
	}}
	// Variant order: redkit first, then the three peers, then redkit's
	// other configurations (not counted as peers).
	peers := []lockLib{libRedsync, libRedislock, libRueidislock}

	keys := make([]string, lockKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%04d", i)
	}
	// variants opens procs instances of each library.
	variants := func(libs []lockLib, procs int, procOf func(int) int, keyOf func(g, i int) string, timed bool) ([]*lockVariant, error) {
		var out []*lockVariant
		for _, lib := range libs {
			v := &lockVariant{name: lib.name, procOf: procOf, keyOf: keyOf, timed: timed}
			for range procs {
				c, err := lib.open()
				if err != nil {
					return nil, fmt.Errorf("%s: %w", lib.name, err)
				}
				v.cycles = append(v.cycles, c)
			}
			out = append(out, v)
		}
		return out, nil
	}
	run := func(g int, vs []*lockVariant) []Result {
		hv := make([]Variant, len(vs))
		for i, v := range vs {
			v.reset()
			hv[i] = Variant{Name: v.name, Op: v.op()}
		}
		return env.Compare(g, hv...)
	}
	// best is the fastest peer (variants 1-3) and redkit's ratio to it.
	best := func(res []Result) (Result, float64) {
		var b Result
		for _, r := range res[1:4] {
			if r.OpsPerSec > b.OpsPerSec {
				b = r
			}
		}
		return b, res[0].Ratio(b)
	}
	one := func(int) int { return 0 }
	spread := func(g, i int) string { return keys[i%lockKeys] }
	hot := func(int, int) string { return "hot" }
	all := append(append([]lockLib{libRedkit}, peers...), libRedkitSync, libRedkitFIFO)

	env.Logf("lock: uncontended, 1 goroutine, distinct keys")
	vs, err := variants(all[:5], 1, one, spread, false)
	if err != nil {
		return nil, err
	}
	unc := run(1, vs)
	tu := lockTable("Uncontended: acquire + release of distinct keys, 1 goroutine (ops/s = cycles/s):")
	tu.add(unc, 0)
	ubest, uratio := best(unc)

	env.Logf("lock: distinct keys, %d goroutines", lockContenders)
	own := func(g, i int) string { return keys[(g*(lockKeys/lockContenders)+i%(lockKeys/lockContenders))%lockKeys] }
	vs, err = variants(all[:5], 1, one, own, false)
	if err != nil {
		return nil, err
	}
	dist := run(lockContenders, vs)
	td := lockTable(fmt.Sprintf("Distinct keys, %d goroutines (each its own keys), one client each (ops/s = cycles/s):", lockContenders))
	td.add(dist, 0)
	dbest, dratio := best(dist)

	env.Logf("lock: one contended key, %d goroutines", lockContenders)
	conV, err := variants(all, 1, one, hot, false)
	if err != nil {
		return nil, err
	}
	con := run(lockContenders, conV)
	tc := lockTable(fmt.Sprintf("Contended: one key, %d goroutines of one process, acquire + release (ops/s = cycles/s; p50/p99 include the wait):", lockContenders))
	tc.add(con, 0)
	cbest, cratio := best(con)

	env.Logf("lock: one contended key, %d processes x 2 goroutines", lockProcs)
	mpV, err := variants(append(append([]lockLib{libRedkit}, peers...), libRedkitFIFO), lockProcs,
		func(g int) int { return g % lockProcs }, hot, false)
	if err != nil {
		return nil, err
	}
	mp := run(2*lockProcs, mpV)
	tm := lockTable(fmt.Sprintf("Contended: one key, %d processes x 2 goroutines (separate clients and Lockers), acquire + release:", lockProcs))
	tm.add(mp, 0)
	mbest, mratio := best(mp)

	env.Logf("lock: one contended key, 7 goroutines of one process and 1 of another")
	rwV, err := variants([]lockLib{libRedkit, libRedislock, libRedkitFIFO}, 2,
		func(g int) int { return min(g, 1) }, hot, true)
	if err != nil {
		return nil, err
	}
	run(lockContenders, rwV)
	tr := Table{Caption: "What the cohort bound costs a remote waiter: one key, 7 goroutines on one client (Locker) and 1 on another; " +
		"p99 of an acquire + release of each side, and the lone goroutine's share of the cycles (1/8 = fair):",
		Header: []string{"client", "p99, 7 local goroutines", "p99, the remote goroutine", "remote share"}}
	for _, v := range rwV {
		per := v.perGoroutine(lockContenders)
		var total int64
		for _, n := range per {
			total += n
		}
		share := 0.0
		if total > 0 {
			share = float64(per[0]) / float64(total)
		}
		tr.AddRow(v.name, fmtDur(v.p99(1, lockContenders)), fmtDur(v.p99(0, 1)), fmt.Sprintf("%.3f", share))
	}

	tf := Table{Caption: "Fairness: fewest / most cycles of one goroutine (one process) or of one process (4 x 2) (1 = equal shares):",
		Header: []string{"row", "client", "fairness", "cycles per goroutine"}}
	for _, v := range conV {
		tf.AddRow("1 x 8", v.name, fmt.Sprintf("%.2f", v.fairness(lockContenders, false)), fmt.Sprint(v.perGoroutine(lockContenders)))
	}
	for _, v := range mpV {
		tf.AddRow("4 x 2, per process", v.name, fmt.Sprintf("%.2f", v.fairness(2*lockProcs, true)), fmt.Sprint(v.perGoroutine(2*lockProcs)))
	}

	return &Section{
		Intro: "Acquire + release cycles. redkit: `lock.Locker.Acquire` then `Lock.Release` " +
			"(lock cohorting: a release hands the lock to a waiter of the same Locker inside the process, " +
			"with no round trip, while the key stays held in Redis, at most 16 times in a row " +
			"(Options.MaxLocalHandoffs); then, and between processes, a FIFO queue beside the lock: " +
			"a release hands the lock to the first waiter and wakes it, by pub/sub for another process's; " +
			"fallback poll 200ms). redsync v4 over go-redis v9 (its defaults, " +
			"tries unbounded), bsm/redislock over go-redis v9 (1ms linear retry), rueidislock " +
			"(its defaults: 2 of 3 keys, woken by client-side-caching invalidations). " +
			"TTL 10s everywhere; every client has its own connection(s); a \"process\" is a client " +
			"(and Locker) of its own in the bench process. server CPU/op is redis-server's CPU time per cycle (INFO cpu).",
		Tables: []Table{tu.Table, td.Table, tc.Table, tm.Table, tr, tf},
		Targets: []Target{
			{What: "lock uncontended: redkit/best peer (" + ubest.Name + ")", Ratio: uratio, Min: 1.0},
			{What: "lock distinct keys, 8 goroutines: redkit/best peer (" + dbest.Name + ")", Ratio: dratio, Min: 1.0},
			{What: "lock contended, 8 goroutines: redkit/best peer (" + cbest.Name + ")", Ratio: cratio, Min: 2.0},
			{What: "lock contended: 5ms / redkit p99", Ratio: ratioOrZero(5*time.Millisecond, con[0].P99), Min: 1.0},
			{What: "lock contended: redkit fairness (fewest/most cycles)", Ratio: conV[0].fairness(lockContenders, false), Min: 0.5},
			{What: "lock 4 processes x 2: redkit/best peer (" + mbest.Name + ")", Ratio: mratio, Min: 1.2},
			{What: "lock 4 processes x 2: 5ms / redkit p99", Ratio: ratioOrZero(5*time.Millisecond, mp[0].P99), Min: 1.0},
			{What: "lock 4 processes x 2: redkit fairness across processes", Ratio: mpV[0].fairness(2*lockProcs, true), Min: 0.5},
		},
		Notes: []string{
			"Targets use redkit with its defaults (first row); the rows after the peers are redkit on a Kit with `Engine.DisableAutoPipelining`, and with `lock.Options.DisableLocalHandoff` (every handoff through Redis), not counted as peers.",
			"redsync's contended throughput comes from starvation: the goroutine that releases re-acquires at once while the others sleep 50-250ms (see its fairness), so its cycles/s is close to one goroutine's uncontended rate.",
			"bsm/redislock's 1ms retry is the fastest setting we tried for it (its README uses 100ms): it makes a waiter ready about once per cycle, at the cost of Redis load from the polling.",
			"Uncontended, every contender but rueidislock makes two round trips per cycle (redkit: one script to acquire, one to release, both on the Kit's direct path at one goroutine), so the cycle rate is the machine's round-trip time: on the 2-core VM a round's rate moves by up to 3x with how client and server share the cores (see the per-round spread in the log), more than the clients differ; compare CPU/op and server CPU/op.",
			"Fairness and the remote-waiter p99s count every cycle of their comparison (warm-up and all rounds).",
			"The p99 target is expressed as 5ms over the measured p99, so ≥ 1.00x means p99 ≤ 5ms; the fairness target is the ratio itself.",
		},
	}, nil
}

// lockResults is a results table with redis-server's CPU per cycle.
type lockResults struct{ Table }

func lockTable(caption string) lockResults {
	return lockResults{Table{Caption: caption,
		Header: []string{"goroutines", "client", "ops/s", "p50", "p99", "allocs/op", "CPU/op", "server CPU/op", "vs redkit"}}}
}

func (t *lockResults) add(res []Result, base int) {
	for _, r := range res {
		name := r.Name
		if r.Errors > 0 {
			name += fmt.Sprintf(" (%d errors: %v)", r.Errors, r.FirstErr)
		}
		t.AddRow(r.Goroutines, name, fmtOps(r.OpsPerSec), fmtDur(r.P50), fmtDur(r.P99),
			fmt.Sprintf("%.1f", r.AllocsPerOp), fmtDur(r.CPUPerOp), fmtDur(r.ServerCPUPerOp), fmtRatio(r.Ratio(res[base])))
	}
}

func ratioOrZero(num, den time.Duration) float64 {
	if den <= 0 {
		return 0
	}
	return float64(num) / float64(den)
}
