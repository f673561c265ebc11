package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// Suite is one capability's side-by-side benchmark. Each suite lives in its
// own file (kv.go, cache.go, lock.go...) and registers itself in init:
//
//	func init() {
//		register(Suite{Name: "kv", Title: "Raw GET/SET", Run: runKV})
//	}
//
// Run measures with env (env.Compare does the work) and returns a Section
// for RESULTS.md; an error aborts only that suite.
type Suite struct {
	Name  string // short, used with -suite
	Title string // the section heading in RESULTS.md
	// Manual suites (exploratory ones such as tune) run only when named
	// with -suite.
	Manual bool
	Run    func(env *Env) (*Section, error)
}

var suites = map[string]Suite{}

// register adds s to the registry; call it from init. Names must be unique.
func register(s Suite) {
	if _, dup := suites[s.Name]; dup {
		panic("bench: suite " + s.Name + " registered twice")
	}
	suites[s.Name] = s
}

// selectSuites returns the suites named in list (comma-separated, in that
// order), or every non-manual suite in name order when list is empty.
func selectSuites(list string) ([]Suite, error) {
	if list == "" {
		var out []Suite
		for _, s := range suites {
			if !s.Manual {
				out = append(out, s)
			}
		}
		slices.SortFunc(out, func(a, b Suite) int { return strings.Compare(a.Name, b.Name) })
		return out, nil
	}
	var out []Suite
	for name := range strings.SplitSeq(list, ",") {
		s, ok := suites[strings.TrimSpace(name)]
		if !ok {
			return nil, fmt.Errorf("unknown suite %q (have %s)", name, strings.Join(suiteNames(), ", "))
		}
		out = append(out, s)
	}
	return out, nil
}

func suiteNames() []string {
	var names []string
	for n, s := range suites {
		if s.Manual {
			n += " (manual)"
		}
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Env is what a suite gets: where Redis is and how long to measure.
type Env struct {
	// Addr is the redis-server's host:port. Suites write only keys under
	// KeyPrefix(suite name) and never flush.
	Addr string
	// Quick is set by -quick: a smoke run where numbers mean nothing.
	Quick bool
	// Duration is one measurement (one variant, one round); Warmup runs
	// before it, unrecorded.
	Duration, Warmup time.Duration
	// Rounds is how many times Compare measures each variant, rotating
	// their order; it reports the median throughput.
	Rounds int
	// Goroutines are the concurrency levels to sweep: 1, 16, 128, 512 unless
	// -goroutines says otherwise.
	Goroutines []int

	ctx   context.Context
	logMu sync.Mutex
	// info is the runner's own client, for INFO cpu (nil: no sampling).
	info rueidis.Client
	// retried counts measurements repeated because other processes were
	// busy; disturbed those kept anyway after the last try.
	retried, disturbed atomic.Int64
}

func (env *Env) sampleCPU() cpuSample {
	if env.info == nil {
		return cpuSample{}
	}
	return sampleCPU(env.ctx, env.info)
}

// Context is the run's context (no deadline; cancelled on interrupt).
func (env *Env) Context() context.Context { return env.ctx }

// Logf prints progress to standard error.
func (env *Env) Logf(format string, args ...any) {
	env.logMu.Lock()
	defer env.logMu.Unlock()
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// KeyPrefix is the prefix a suite's keys live under: "bench:<suite>:".
func (env *Env) KeyPrefix(suite string) string { return "bench:" + suite + ":" }

// Section is a suite's part of RESULTS.md: an introduction, tables and
// notes (ratios against targets go in Targets, which are also listed in
// the summary at the top of the file).
type Section struct {
	Title   string
	Intro   string // Markdown paragraph(s) under the heading
	Tables  []Table
	Targets []Target
	Notes   []string // bullet points after the tables

	cpu *cpuUse // set by the runner
}

// Table is a Markdown table with an optional caption above it.
type Table struct {
	Caption string
	Header  []string
	Rows    [][]string
}

// AddRow appends one row; cells are formatted with fmt.Sprint.
func (t *Table) AddRow(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
	}
	t.Rows = append(t.Rows, row)
}

// Target is a ratio checked against a goal, such as
// "redkit/rueidis, GET, 128 goroutines" = 0.98 with Min 0.95.
type Target struct {
	What  string
	Ratio float64
	Min   float64
}

// Met reports whether the ratio reaches the target.
func (t Target) Met() bool { return t.Ratio >= t.Min }

// String reads "<what> = 0.98x (target ≥ 0.95x): met".
func (t Target) String() string {
	verdict := "met"
	if !t.Met() {
		verdict = "**missed**"
	}
	return fmt.Sprintf("%s = %.2fx (target ≥ %.2fx): %s", t.What, t.Ratio, t.Min, verdict)
}
