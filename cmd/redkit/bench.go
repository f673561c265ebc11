package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redkit-go/redkit"
)

const benchUsage = `
Usage: redkit bench [flags]

Runs the side-by-side benchmarks (redkit against rueidis, go-redis and
the libraries built on them): the bench module of redkit's source tree,
with go run, found as for demo. It runs against $REDIS_URL (or --url) when
set, a disposable server: keys are written under bench:, else against a
redis-server it starts on a free port. A progress bar goes to stderr and
the Markdown report to stdout (or --out).

A measuring run (without --quick) waits for any other benchmark run on
the machine to finish; a full run takes several minutes per suite.

Exit status: 0 ok, 1 a suite failed or the run could not start, 2 usage
error.
`

// benchFlags are the flags redkit bench passes on to the bench program.
type benchFlags struct {
	suite, out, goroutines string
	quick, list, embedded  bool
	verbose                bool
	duration               time.Duration
	rounds                 int
	addr                   string // -redis-addr, "" = the bench program starts one
	set                    map[string]bool
}

// args returns the go command line.
func (b benchFlags) args() []string {
	out := []string{"run", ".", "-progress"}
	if b.list {
		return []string{"run", ".", "-list"}
	}
	if b.suite != "" {
		out = append(out, "-suite", b.suite)
	}
	if b.quick {
		out = append(out, "-quick")
	}
	if b.set["duration"] {
		out = append(out, "-duration", b.duration.String())
	}
	if b.set["rounds"] {
		out = append(out, "-rounds", strconv.Itoa(b.rounds))
	}
	if b.goroutines != "" {
		out = append(out, "-goroutines", b.goroutines)
	}
	if b.addr != "" {
		out = append(out, "-redis-addr", b.addr)
	}
	if b.out != "" {
		out = append(out, "-out", b.out)
	}
	return out
}

// benchAddr returns the host:port bench should use: from --url, else
// from $REDIS_URL, else "" (an embedded server). The bench program speaks
// plain RESP to one node, with no password or TLS.
func benchAddr(url string) (string, error) {
	if url == "" {
		url = os.Getenv("REDIS_URL")
	}
	if url == "" {
		return "", nil
	}
	cfg, err := redkit.ParseURL(url)
	if err != nil {
		return "", err
	}
	switch {
	case cfg.Sentinel.MasterName != "", len(cfg.Addrs) != 1, cfg.TLS != nil,
		cfg.Username != "", cfg.Password != "", cfg.Database != 0:
		return "", fmt.Errorf("bench needs one node at a plain redis://host:port (no sentinel, cluster seeds, TLS, password or database); use --embedded for a server of its own")
	}
	return cfg.Addrs[0], nil
}

func runBench(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench", benchUsage)
	var b benchFlags
	var url string
	fs.StringVar(&b.suite, "suite", "", "comma-separated suites to run (default: all but the manual ones; --list shows them)")
	fs.BoolVar(&b.quick, "quick", false, "smoke run: short measurements, one round; the numbers mean nothing")
	fs.DurationVar(&b.duration, "duration", 500*time.Millisecond, "length of one measurement")
	fs.IntVar(&b.rounds, "rounds", 5, "measurements per variant; the median is reported")
	fs.StringVar(&b.goroutines, "goroutines", "", "comma-separated concurrencies for the suites that sweep them (default the bench program's, 1,16,128,512)")
	fs.StringVar(&b.out, "out", "", "write the Markdown report to this file instead of stdout")
	fs.BoolVar(&b.list, "list", false, "list the suites and exit")
	fs.StringVar(&url, "url", "", "a disposable Redis to run against (redis://host:port); default $REDIS_URL, else an embedded server")
	fs.BoolVar(&b.embedded, "embedded", false, "start a redis-server of its own even when REDIS_URL is set")
	fs.BoolVar(&b.verbose, "v", false, "show the bench program's log lines, not only the progress bar")
	if code := fs.parse(args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError(stderr, "unexpected argument %q", fs.Arg(0))
	}
	b.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { b.set[f.Name] = true })
	switch {
	case b.rounds < 1:
		return fs.usageError(stderr, "--rounds must be at least 1 (got %d)", b.rounds)
	case b.duration <= 0:
		return fs.usageError(stderr, "--duration must be positive (got %s)", b.duration)
	case b.embedded && url != "":
		return fs.usageError(stderr, "--embedded and --url exclude each other")
	}
	if !b.embedded {
		addr, err := benchAddr(url)
		if err != nil {
			return fs.usageError(stderr, "%v", err)
		}
		b.addr = addr
	}
	if b.out != "" {
		if abs := mustAbs(b.out); abs != "" {
			b.out = abs // the bench program runs in bench/
		}
	}

	root, err := findSource()
	if err != nil {
		fmt.Fprintln(stderr, "redkit bench:", err)
		return exitFail
	}
	cmd, err := goCommand(root+"/bench", b.args()...)
	if err != nil {
		fmt.Fprintln(stderr, "redkit bench:", err)
		return exitFail
	}
	cmd.Stdout = stdout
	if b.list {
		cmd.Stderr = stderr
		return runChild(cmd, stderr)
	}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		fmt.Fprintln(stderr, "redkit bench:", err)
		return exitFail
	}
	bar := newProgress(stderr, isTerminal(stderr), b.verbose)
	sig := make(chan os.Signal, 1) // as in runChild: wait for the child on Ctrl-C
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "redkit bench:", err)
		return exitFail
	}
	bar.consume(pipe) // until the child closes its stderr
	code := exitCode(cmd.Wait(), stderr)
	bar.finish(code)
	return code
}

// isTerminal reports whether w is a character device (a terminal), where
// the bar redraws itself in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress renders the bench program's progress lines as a bar.
type progress struct {
	w       io.Writer
	tty     bool
	verbose bool

	mu      sync.Mutex
	i, n    int
	suite   string
	started time.Time // of the current suite
	begun   time.Time // of the run
	failed  []string
	tail    []string // the last log lines, shown when the run fails
}

const tailLines = 40

func newProgress(w io.Writer, tty, verbose bool) *progress {
	return &progress{w: w, tty: tty, verbose: verbose, begun: time.Now()}
}

// consume reads the bench program's stderr to its end. On a terminal a
// ticker redraws the bar every second; it stops before consume returns.
func (p *progress) consume(r io.Reader) {
	if p.tty {
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					p.mu.Lock()
					p.draw()
					p.mu.Unlock()
				}
			}
		}()
		defer wg.Wait()
		defer close(done)
		p.mu.Lock()
		p.draw()
		p.mu.Unlock()
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		p.line(sc.Text())
	}
}

// line handles one line of the bench program's stderr.
func (p *progress) line(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f := strings.Fields(s); len(f) == 5 && f[0] == "progress" {
		i, err1 := strconv.Atoi(f[1])
		n, err2 := strconv.Atoi(f[2])
		if err1 == nil && err2 == nil {
			p.step(i, n, f[3], f[4])
			return
		}
	}
	p.tail = append(p.tail, s)
	if len(p.tail) > tailLines {
		p.tail = p.tail[len(p.tail)-tailLines:]
	}
	// Waiting for another run is worth saying even without -v.
	if p.verbose || strings.Contains(s, "waiting") {
		p.clear()
		fmt.Fprintln(p.w, s)
		p.draw()
	}
}

func (p *progress) step(i, n int, suite, state string) {
	p.n, p.suite = n, suite
	switch state {
	case "start":
		p.i, p.started = i-1, time.Now()
	case "done", "failed":
		p.i = i
		took := time.Since(p.started).Round(time.Second)
		if state == "failed" {
			p.failed = append(p.failed, suite)
		}
		if !p.tty {
			fmt.Fprintf(p.w, "bench: [%d/%d] %s %s in %s\n", i, n, suite, state, took)
		}
	}
	if !p.tty && state == "start" {
		fmt.Fprintf(p.w, "bench: [%d/%d] %s ...\n", i, n, suite)
	}
	p.draw()
}

// bar returns the bar's text.
func (p *progress) bar() string {
	const width = 30
	if p.n == 0 {
		return fmt.Sprintf("bench: building and starting ... %s", time.Since(p.begun).Round(time.Second))
	}
	filled := width * p.i / p.n
	s := fmt.Sprintf("bench: [%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat("-", width-filled), p.i, p.n)
	if p.i < p.n {
		s += fmt.Sprintf(" %s %s", p.suite, time.Since(p.started).Round(time.Second))
	}
	return s + fmt.Sprintf(" (total %s)", time.Since(p.begun).Round(time.Second))
}

func (p *progress) draw() {
	if p.tty {
		fmt.Fprint(p.w, "\r\x1b[K"+p.bar())
	}
}

func (p *progress) clear() {
	if p.tty {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// finish ends the bar and, when the run failed, shows the last log lines.
func (p *progress) finish(code int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		p.draw()
		fmt.Fprintln(p.w)
	}
	if code != exitOK && !p.verbose && len(p.tail) > 0 {
		fmt.Fprintln(p.w, "bench: the run failed; its last log lines:")
		for _, s := range p.tail {
			fmt.Fprintln(p.w, "  "+s)
		}
	}
}
