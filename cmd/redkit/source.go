package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
)

// modulePath is the module whose source tree demo and bench need.
const modulePath = "github.com/redkit-go/redkit"

// sourceEnv names the source tree explicitly.
const sourceEnv = "REDKIT_SOURCE"

// errNoSource is returned when no redkit source tree is found.
var errNoSource = errors.New("not inside redkit's source tree")

// sourceTree walks up from dir to the directory whose go.mod declares
// module github.com/redkit-go/redkit (so bench/, a module of its own, is
// passed by), as go env GOMOD would, minus the other modules on the way.
func sourceTree(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if modName(filepath.Join(dir, "go.mod")) == modulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errNoSource
		}
		dir = parent
	}
}

// modName returns the module path a go.mod declares, "" if none.
func modName(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// findSource finds the source tree: $REDKIT_SOURCE, else up from the
// working directory, else up from the executable (a binary built in the
// tree).
func findSource() (string, error) {
	if dir := os.Getenv(sourceEnv); dir != "" {
		root, err := sourceTree(dir)
		if err != nil || root != mustAbs(dir) {
			return "", fmt.Errorf("%s=%s is not the root of redkit's source tree (no go.mod of %s there)", sourceEnv, dir, modulePath)
		}
		return root, nil
	}
	if wd, err := os.Getwd(); err == nil {
		if root, err := sourceTree(wd); err == nil {
			return root, nil
		}
	}
	if exe, err := os.Executable(); err == nil {
		if root, err := sourceTree(filepath.Dir(exe)); err == nil {
			return root, nil
		}
	}
	return "", fmt.Errorf("%w: this command runs redkit's sources with go run; "+
		"run it inside a clone (git clone https://%s), or set %s to one", errNoSource, modulePath, sourceEnv)
}

func mustAbs(dir string) string {
	if a, err := filepath.Abs(dir); err == nil {
		return filepath.Clean(a)
	}
	return dir
}

// goCommand returns `go args...` run in dir.
func goCommand(dir string, args ...string) (*exec.Cmd, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("this command needs the Go toolchain in PATH (https://go.dev/dl/): %w", err)
	}
	cmd := exec.Command(gobin, args...)
	cmd.Dir = dir
	cmd.Stdin = os.Stdin
	return cmd, nil
}

// runChild runs cmd to its end and returns the exit code it should give
// redkit. An interrupt (Ctrl-C) reaches the child through the terminal's
// process group; redkit waits for the child instead of dying first.
func runChild(cmd *exec.Cmd, stderr io.Writer) int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	return exitCode(cmd.Run(), stderr)
}

// exitCode maps the error of a child's Run or Wait to redkit's exit code.
func exitCode(err error, stderr io.Writer) int {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &exit):
		if c := exit.ExitCode(); c > 0 {
			return c
		}
		return exitFail
	}
	fmt.Fprintln(stderr, "redkit:", err)
	return exitFail
}

const demoUsage = `
Usage: redkit demo [-- pizzeria flags]

Runs the pizzeria demo, examples/pizzeria, with go run from redkit's
source tree (found above the working directory, or at $REDKIT_SOURCE).
It serves the demo's web page and talks to $REDIS_URL, or to an embedded
redis-server when REDIS_URL is unset. Arguments are passed to the demo;
"redkit demo -- -help" lists its flags.

Exit status: the demo's; 1 when it cannot be started, 2 usage error.
`

// demoArgs returns the go command line for the demo.
func demoArgs(args []string) []string {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	return append([]string{"run", "./examples/pizzeria"}, args...)
}

func runDemo(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			fs := newFlagSet("demo", demoUsage)
			fs.printUsage(stdout)
			return exitOK
		}
	}
	root, err := findSource()
	if err != nil {
		fmt.Fprintln(stderr, "redkit demo:", err)
		return exitFail
	}
	cmd, err := goCommand(root, demoArgs(args)...)
	if err != nil {
		fmt.Fprintln(stderr, "redkit demo:", err)
		return exitFail
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return runChild(cmd, stderr)
}
