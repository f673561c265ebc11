package main

import (
	"context"
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Op is one operation of a benchmark: g is the goroutine (0..n-1), i counts
// that goroutine's calls. ctx has a deadline (an hour away) and can be
// cancelled, as an HTTP handler's request context: every contender gets
// the same kind, one per goroutine. An Op that measures another kind of ctx (Background) makes
// its own, once, outside the Op. Op must not allocate for
// bookkeeping of its own (precompute keys and values) so that allocs/op
// shows the client's cost.
type Op func(ctx context.Context, g, i int) error

// Variant is one contender in a comparison: a client or a configuration.
type Variant struct {
	Name string
	Op   Op
}

// Result is the outcome of measuring one variant at one concurrency.
type Result struct {
	Name       string
	Goroutines int
	// OpsPerSec is the median over the rounds; PerRound has each round's.
	OpsPerSec float64
	PerRound  []float64
	// P50 and P99 are per-call latencies over all rounds (±3%).
	P50, P99 time.Duration
	// AllocsPerOp is heap allocations in the whole process per completed
	// call (the client's background goroutines included).
	AllocsPerOp float64
	Ops, Errors int64
	FirstErr    error
	// GCs is the number of garbage collections during the rounds.
	GCs uint32
	// CPUPerOp is this process's CPU time (user + system, every thread)
	// per call: the client's cost, steadier than throughput when other
	// processes compete for the cores.
	CPUPerOp time.Duration
	// ServerCPUPerOp is redis-server's CPU time per call (INFO cpu;
	// 0 when not sampled): the server's cost of the same call.
	ServerCPUPerOp time.Duration
}

// Ratio returns r's throughput over base's (0 when base has none). When
// both come from one Compare it is the median of the per-round ratios:
// every round measures all variants back to back, so a round that the
// machine made slow (a neighbour, the scheduler pairing client and server
// on one core) is slow for both and cancels out, where the ratio of two
// medians would set one variant's good round against the other's bad one.
func (r Result) Ratio(base Result) float64 {
	if base.OpsPerSec == 0 {
		return 0
	}
	if n := len(r.PerRound); n == 0 || n != len(base.PerRound) {
		return r.OpsPerSec / base.OpsPerSec
	}
	ratios := make([]float64, 0, len(r.PerRound))
	for k, b := range base.PerRound {
		if b == 0 {
			return r.OpsPerSec / base.OpsPerSec
		}
		ratios = append(ratios, r.PerRound[k]/b)
	}
	return median(ratios)
}

// median returns the middle of s (the mean of the two middle values when
// len(s) is even), sorting s in place; 0 for an empty s.
func median(s []float64) float64 {
	if len(s) == 0 {
		return 0
	}
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// Compare measures every variant at the given concurrency, env.Rounds
// times each, in an order rotated every round so that drift (thermal,
// a noisy neighbour, Redis's memory growing) does not favour one variant.
// Results come in the order of variants.
func (env *Env) Compare(goroutines int, variants ...Variant) []Result {
	res := make([]Result, len(variants))
	hists := make([]hist, len(variants))
	mallocs := make([]uint64, len(variants))
	cpu := make([]time.Duration, len(variants))
	server := make([]time.Duration, len(variants))
	for i, v := range variants {
		res[i] = Result{Name: v.Name, Goroutines: goroutines}
	}
	for round := range env.Rounds {
		for j := range variants {
			i := (j + round) % len(variants)
			if env.ctx.Err() != nil {
				break
			}
			m := env.measureQuiet(goroutines, variants[i].Op)
			r := &res[i]
			r.PerRound = append(r.PerRound, m.opsPerSec)
			r.Ops += m.ops
			r.Errors += m.errs
			if r.FirstErr == nil {
				r.FirstErr = m.firstErr
			}
			hists[i].merge(&m.hist)
			mallocs[i] += m.mallocs
			r.GCs += m.gcs
			cpu[i] += m.cpu
			server[i] += m.server
		}
	}
	for i := range res {
		r := &res[i]
		if len(r.PerRound) == 0 {
			continue
		}
		s := slices.Clone(r.PerRound)
		r.OpsPerSec = median(s) // sorts s
		r.P50 = hists[i].quantile(0.50)
		r.P99 = hists[i].quantile(0.99)
		if r.Ops > 0 {
			r.AllocsPerOp = float64(mallocs[i]) / float64(r.Ops)
			r.CPUPerOp = cpu[i] / time.Duration(r.Ops)
			r.ServerCPUPerOp = server[i] / time.Duration(r.Ops)
		}
		env.Logf("  %-38s g=%-4d %7.0f ops/s (%.0f-%.0f) p50 %-7s p99 %-7s %4.1f allocs/op %5s CPU/op %5s server CPU/op %3d GCs%s",
			r.Name, goroutines, r.OpsPerSec, s[0], s[len(s)-1], fmtDur(r.P50), fmtDur(r.P99), r.AllocsPerOp, fmtDur(r.CPUPerOp), fmtDur(r.ServerCPUPerOp), r.GCs, errNote(*r))
	}
	return res
}

func errNote(r Result) string {
	if r.Errors == 0 {
		return ""
	}
	return fmt.Sprintf("  %d errors, first: %v", r.Errors, r.FirstErr)
}

// measureQuiet is measure, repeated (up to twice more) when other
// processes took more than a fifth of a core meanwhile: a concurrent build
// or test run on a 2-core machine can halve one variant's number, and a
// median of five cannot always hide that.
func (env *Env) measureQuiet(n int, op Op) measurement {
	for try := 0; ; try++ {
		before := env.sampleCPU()
		m := env.measure(n, op)
		after := env.sampleCPU()
		u, ok := before.to(after)
		if ok {
			m.server = after.server - before.server
		}
		if !ok || u.Others+u.Steal < 0.2 || try == 2 || env.Quick || env.ctx.Err() != nil {
			if ok && u.Others+u.Steal >= 0.2 {
				env.disturbed.Add(1)
			}
			return m
		}
		env.retried.Add(1)
	}
}

type measurement struct {
	ops, errs int64
	firstErr  error
	opsPerSec float64
	mallocs   uint64
	gcs       uint32
	cpu       time.Duration
	server    time.Duration // redis-server's CPU (0: not sampled)
	hist      hist
}

const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// measure runs op on n goroutines: Warmup unrecorded, then Duration
// recorded. Calls started while recording count; the rate divides them by
// the time from the start of recording until the last call returned, so a
// slow tail cannot inflate it.
func (env *Env) measure(n int, op Op) measurement {
	var (
		phase atomic.Int32
		wg    sync.WaitGroup
		mu    sync.Mutex
		out   measurement
	)
	// Start each measurement from the same heap state. Not later: a forced
	// GC while hundreds of goroutines spin took a minute.
	runtime.GC()
	hists := make([]hist, n) // one per goroutine: no sharing on the hot path
	// See Op; measurement stops by phase, not ctx. One ctx per goroutine,
	// as each request has its own: a ctx shared by hundreds of goroutines
	// would measure the contention on its Done channel, which no server
	// has.
	wg.Add(n)
	for g := range n {
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			h := &hists[g]
			var ops, errs int64
			var first error
			for i := 0; ; i++ {
				p := phase.Load()
				if p == phaseStop {
					break
				}
				t0 := time.Now()
				err := op(ctx, g, i)
				d := time.Since(t0)
				if p != phaseMeasure {
					continue
				}
				h.record(d)
				ops++
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
				}
			}
			mu.Lock()
			out.ops += ops
			out.errs += errs
			if out.firstErr == nil {
				out.firstErr = first
			}
			mu.Unlock()
		}()
	}
	sleep(context.Background(), env.Warmup)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := processCPU()
	start := time.Now()
	phase.Store(phaseMeasure)
	sleep(context.Background(), env.Duration)
	phase.Store(phaseStop)
	wg.Wait()
	elapsed := time.Since(start)
	out.cpu = processCPU() - cpu0
	runtime.ReadMemStats(&after)
	out.mallocs = after.Mallocs - before.Mallocs
	out.gcs = after.NumGC - before.NumGC
	out.opsPerSec = float64(out.ops-out.errs) / elapsed.Seconds()
	for i := range hists {
		out.hist.merge(&hists[i])
	}
	return out
}

// processCPU is the CPU time this process has used (0 if unknown).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// hist is a log-linear latency histogram in nanoseconds: exact below 32ns,
// then 32 buckets per power of two (≤ 3% error), up to 2^41 ns (36 min).
// It is HdrHistogram's layout at 1.5 significant digits, written out here
// because the harness needs one fixed-size array per goroutine, recorded
// without locks or allocation and merged at the end; at ~9 KiB it costs
// 4.6 MiB for 512 goroutines.
type hist struct {
	counts [histBuckets]uint32
	total  uint64
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	histMaxBits = 41
	histBuckets = (histMaxBits - histSubBits + 1) * histSub
)

func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	if v >= 1<<histMaxBits {
		v = 1<<histMaxBits - 1
	}
	n := bits.Len64(v) // v in [2^(n-1), 2^n), n > histSubBits
	shift := n - 1 - histSubBits
	return (shift+1)*histSub + int(v>>shift) - histSub
}

// histValue is the middle of bucket i.
func histValue(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := i/histSub - 1
	lo := uint64(i%histSub+histSub) << shift
	return lo + (uint64(1)<<shift)/2
}

func (h *hist) record(d time.Duration) {
	h.counts[histIndex(uint64(max(d, 0)))]++
	h.total++
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
}

func (h *hist) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total-1)) + 1
	var seen uint64
	for i, c := range h.counts {
		seen += uint64(c)
		if seen >= rank {
			return time.Duration(histValue(i))
		}
	}
	return time.Duration(histValue(histBuckets - 1))
}
