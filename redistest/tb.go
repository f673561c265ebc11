package redistest

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
)

// TB is a testing.TB for code that has no *testing.T: Example functions,
// TestMain (one server shared by a package's tests), or a small program.
// Close runs its cleanups, last registered first, so
//
//	t := redistest.NewTB("Example")
//	defer t.Close()
//	s := redistest.Start(t, nil)
//
// kills the server when the example returns.
//
// Like go test, TB keeps what is logged and shows it only on failure:
// Fatal, FailNow and Skip panic with everything logged so far (the deferred
// Close still runs while the panic unwinds), and Close writes the log to
// standard error when Error or Fail marked TB as failed. Nothing is ever
// written to standard output, so an example's output check is not
// disturbed. TB is safe for concurrent use.
type TB struct {
	// The embedded interface is nil: it only supplies testing.TB's
	// unexported method. TB overrides every exported one.
	embeddedTB

	name   string
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	cleanups []func()
	failed   bool
	skipped  bool
	messages []string
	reported bool // the messages went out with a panic
	closed   bool
}

// embeddedTB keeps the embedded testing.TB out of TB's documentation.
type embeddedTB interface{ testing.TB }

var _ testing.TB = (*TB)(nil)

// NewTB returns a TB named name. Call Close when done with it.
func NewTB(name string) *TB {
	ctx, cancel := context.WithCancel(context.Background())
	return &TB{name: name, ctx: ctx, cancel: cancel}
}

// Close cancels Context and runs the cleanups registered with Cleanup, last
// first. Calling Close again does nothing.
func (t *TB) Close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	if t.failed && !t.reported {
		fmt.Fprintf(os.Stderr, "--- FAIL: %s\n", t.name)
		for _, m := range t.messages {
			fmt.Fprintf(os.Stderr, "    %s\n", m)
		}
	}
	t.mu.Unlock()
	t.cancel()
	for {
		t.mu.Lock()
		n := len(t.cleanups)
		if n == 0 {
			t.mu.Unlock()
			return
		}
		f := t.cleanups[n-1]
		t.cleanups = t.cleanups[:n-1]
		t.mu.Unlock()
		f()
	}
}

// Name returns the name given to NewTB.
func (t *TB) Name() string { return t.name }

// Helper does nothing.
func (t *TB) Helper() {}

// Cleanup registers f to run at Close, last registered first.
func (t *TB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

// Context returns a context cancelled by Close.
func (t *TB) Context() context.Context { return t.ctx }

// Output returns a writer whose writes are logged like Log.
func (t *TB) Output() io.Writer { return tbWriter{t} }

type tbWriter struct{ t *TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.t.log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// Log records its arguments, formatted like fmt.Sprintln.
func (t *TB) Log(args ...any) { t.log(strings.TrimSuffix(fmt.Sprintln(args...), "\n")) }

// Logf records its arguments, formatted like fmt.Sprintf.
func (t *TB) Logf(format string, args ...any) { t.log(fmt.Sprintf(format, args...)) }

// Attr records key and value.
func (t *TB) Attr(key, value string) { t.log(fmt.Sprintf("=== ATTR %s %s", key, value)) }

func (t *TB) log(msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.messages = append(t.messages, msg)
}

// Fail marks t as failed.
func (t *TB) Fail() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed = true
}

// Failed reports whether t has failed.
func (t *TB) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

// FailNow marks t as failed and panics with the messages logged so far.
func (t *TB) FailNow() {
	t.mu.Lock()
	t.failed, t.reported = true, true
	msg := strings.Join(t.messages, "\n")
	t.mu.Unlock()
	panic(fmt.Sprintf("%s failed:\n%s", t.name, msg))
}

// Error is Log followed by Fail.
func (t *TB) Error(args ...any) { t.Log(args...); t.Fail() }

// Errorf is Logf followed by Fail.
func (t *TB) Errorf(format string, args ...any) { t.Logf(format, args...); t.Fail() }

// Fatal is Log followed by FailNow.
func (t *TB) Fatal(args ...any) { t.Log(args...); t.FailNow() }

// Fatalf is Logf followed by FailNow.
func (t *TB) Fatalf(format string, args ...any) { t.Logf(format, args...); t.FailNow() }

// SkipNow marks t as skipped and panics: code without a test cannot be
// skipped.
func (t *TB) SkipNow() {
	t.mu.Lock()
	t.skipped, t.reported = true, true
	msg := strings.Join(t.messages, "\n")
	t.mu.Unlock()
	panic(fmt.Sprintf("%s skipped:\n%s", t.name, msg))
}

// Skip is Log followed by SkipNow.
func (t *TB) Skip(args ...any) { t.Log(args...); t.SkipNow() }

// Skipf is Logf followed by SkipNow.
func (t *TB) Skipf(format string, args ...any) { t.Logf(format, args...); t.SkipNow() }

// Skipped reports whether SkipNow was called.
func (t *TB) Skipped() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.skipped
}

// TempDir returns a new temporary directory, removed at Close.
func (t *TB) TempDir() string {
	dir, err := os.MkdirTemp("", "redistest-tb-")
	if err != nil {
		t.Fatalf("TempDir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// ArtifactDir returns a new temporary directory, removed at Close.
func (t *TB) ArtifactDir() string { return t.TempDir() }

// Setenv sets an environment variable and restores it at Close.
func (t *TB) Setenv(key, value string) {
	old, had := os.LookupEnv(key)
	if err := os.Setenv(key, value); err != nil {
		t.Fatalf("Setenv: %v", err)
	}
	t.Cleanup(func() {
		if had {
			os.Setenv(key, old)
		} else {
			os.Unsetenv(key)
		}
	})
}

// Chdir changes the working directory and restores it at Close.
func (t *TB) Chdir(dir string) {
	old, err := os.Getwd()
	if err != nil {
		t.Fatalf("Chdir: %v", err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatalf("Chdir: %v", err)
	}
	t.Cleanup(func() { os.Chdir(old) })
}
