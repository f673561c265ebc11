package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/redkit-go/redkit"
)

// Exit codes, as most command-line tools use them.
const (
	exitOK    = 0 // success; healthy; no check failed
	exitFail  = 1 // failure; unhealthy; a check failed
	exitUsage = 2 // bad command line
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands in the order the help shows them.
func commands() []command {
	return []command{
		{"health", "probe Redis and print the Kit's health report as JSON", runHealth},
		{"doctor", "check a server for what redkit needs and say what to change", runDoctor},
		{"inspect", "summarise redkit's keys under a prefix: locks, queues, streams, sessions, caches", runInspect},
		{"demo", "run the pizzeria demo (go run ./examples/pizzeria in the source tree)", runDemo},
		{"bench", "run the side-by-side benchmarks (go run . in bench/) and print the table", runBench},
		{"version", "print redkit's version and the Go version it was built with", runVersion},
	}
}

const toolUsage = `redkit is the command-line companion of the redkit Go toolkit.

Usage:

	redkit <command> [flags]

Commands:
%s
Run "redkit <command> --help" for a command's flags. The commands that
talk to Redis read REDIS_URL (and the other REDIS_* variables of
redkit.ConfigFromEnv); --url replaces REDIS_URL.

Exit status: 0 success (healthy, no check failed), 1 failure (unhealthy,
a check failed, Redis unreachable), 2 usage error.
`

func printToolUsage(w io.Writer) {
	var b strings.Builder
	for _, c := range commands() {
		fmt.Fprintf(&b, "\t%-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, toolUsage, b.String())
}

// run is the whole tool: it parses args (without the program name),
// writes to stdout and stderr, and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printToolUsage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-version", "--version":
		return runVersion(nil, stdout, stderr)
	case "-h", "-help", "--help", "help":
		if name == "help" && len(args) > 1 {
			return run([]string{args[1], "--help"}, stdout, stderr)
		}
		printToolUsage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "redkit: unknown command %q\n\n", name)
	printToolUsage(stderr)
	return exitUsage
}

// flagSet is a subcommand's flags with its usage text.
type flagSet struct {
	*flag.FlagSet
	usage string // "redkit health [flags]" and a description
}

func newFlagSet(name, usage string) *flagSet {
	fs := flag.NewFlagSet("redkit "+name, flag.ContinueOnError)
	return &flagSet{FlagSet: fs, usage: usage}
}

// printUsage writes the usage line, the description and the flags.
func (fs *flagSet) printUsage(w io.Writer) {
	fmt.Fprint(w, strings.TrimLeft(fs.usage, "\n"))
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

// parse parses args. It returns -1 to go on, else the exit code: 0 after
// --help (usage on stdout), 2 after a usage error (error and usage on
// stderr).
func (fs *flagSet) parse(args []string, stdout, stderr io.Writer) int {
	var errOut bytes.Buffer
	fs.SetOutput(&errOut)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.printUsage(stdout)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\n\n", fs.Name(), err)
		fs.printUsage(stderr)
		return exitUsage
	}
	return -1
}

// usageError reports a bad command line found after parsing.
func (fs *flagSet) usageError(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "%s: %s\n\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.printUsage(stderr)
	return exitUsage
}

// conn holds the flags every command that talks to Redis shares.
type conn struct {
	url     string
	timeout time.Duration
	json    bool
}

func (c *conn) register(fs *flagSet, timeout time.Duration, jsonHelp string) {
	fs.StringVar(&c.url, "url", "", "Redis URL (redis://, rediss://, redis+sentinel://; see redkit.ParseURL) in place of $REDIS_URL; default redis://127.0.0.1:6379")
	fs.DurationVar(&c.timeout, "timeout", timeout, "bound on the whole command")
	fs.BoolVar(&c.json, "json", false, jsonHelp)
}

// config builds the Kit's Config from the environment
// (redkit.ConfigFromEnv), with --url in place of REDIS_URL, so the other
// REDIS_* variables (credentials, TLS files, key prefix) apply to --url
// too. Errors are configuration errors (exit 2).
func (c *conn) config() (redkit.Config, error) {
	if c.url == "" {
		return redkit.ConfigFromEnv()
	}
	old, had := os.LookupEnv("REDIS_URL")
	os.Setenv("REDIS_URL", c.url)
	defer func() {
		if had {
			os.Setenv("REDIS_URL", old)
		} else {
			os.Unsetenv("REDIS_URL")
		}
	}()
	return redkit.ConfigFromEnv()
}

// open connects a Kit that fails fast: no connection retry, Open fails
// when Redis cannot be reached.
func (c *conn) open(ctx context.Context, cfg redkit.Config) (*redkit.Kit, error) {
	cfg.AbortOnConnectFail = true
	cfg.ConnectRetry = -1
	if cfg.ClientName == "" {
		cfg.ClientName = "redkit-cli"
	}
	if d, ok := ctx.Deadline(); ok && (cfg.ConnectTimeout == 0 || time.Until(d) < cfg.ConnectTimeout) {
		cfg.ConnectTimeout = max(time.Until(d), time.Millisecond)
	}
	return redkit.Open(ctx, cfg)
}

// where describes the server a Config points at, without credentials.
func where(cfg redkit.Config) string {
	switch {
	case cfg.Sentinel.MasterName != "":
		addrs := cfg.Sentinel.Addrs
		if len(addrs) == 0 {
			addrs = cfg.Addrs
		}
		return fmt.Sprintf("master %q via sentinels %s", cfg.Sentinel.MasterName, strings.Join(addrs, ","))
	case len(cfg.Addrs) > 0:
		return strings.Join(cfg.Addrs, ",")
	}
	return redkit.DefaultAddr
}

const versionUsage = `
Usage: redkit version

Prints the version of the redkit module the tool was built from ("(devel)"
for a build from a source tree) and the Go version.
`

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", versionUsage)
	if code := fs.parse(args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError(stderr, "unexpected argument %q", fs.Arg(0))
	}
	version, goVersion := "(unknown)", runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if bi.Main.Path == modulePath && bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == modulePath {
				version = d.Version
			}
		}
	}
	fmt.Fprintf(stdout, "redkit %s (%s)\n", version, goVersion)
	return exitOK
}
