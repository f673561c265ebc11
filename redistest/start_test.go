package redistest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that records what Start and the servers' methods
// report. Its Fatal ends the goroutine, like testing.T's, so calls that may
// fail run through recorder.run.
type recorder struct {
	testing.TB // nil: supplies the unexported method only

	mu       sync.Mutex
	failed   bool
	logs     []string
	cleanups []func()
}

func (r *recorder) Helper() {}

func (r *recorder) Log(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprint(args...))
}

func (r *recorder) Logf(format string, args ...any) { r.Log(fmt.Sprintf(format, args...)) }

func (r *recorder) Error(args ...any) {
	r.Log(args...)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
}

func (r *recorder) Fatal(args ...any) {
	r.Error(args...)
	runtime.Goexit()
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// run calls f on a goroutine of its own and reports whether it returned
// (false: it called Fatal).
func (r *recorder) run(f func()) (returned bool) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
		returned = true
	}()
	<-done
	return returned
}

// end runs the cleanups, last first, like the end of a test.
func (r *recorder) end() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
}

func (r *recorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.logs, "\n")
}

// Start reports a failure with t.Fatal and registers nothing to clean up.
func TestStartFatal(t *testing.T) {
	t.Parallel()
	r := &recorder{}
	if r.run(func() { Start(r, &Options{Args: []string{"no-such-directive yes"}}) }) {
		t.Fatal("Start with a bad directive returned")
	}
	if !r.Failed() || !strings.Contains(r.text(), "Bad directive") {
		t.Errorf("failed %v, logged:\n%s", r.Failed(), r.text())
	}
	if len(r.cleanups) != 0 {
		t.Errorf("%d cleanups registered by a Start that failed", len(r.cleanups))
	}
}

// A failed test gets the server's log tail at cleanup, and a server from
// Start fails its test when Restart cannot work.
func TestStartFailedTestLogsTail(t *testing.T) {
	t.Parallel()
	r := &recorder{}
	var s *Server
	if !r.run(func() { s = Start(r, nil) }) {
		t.Fatalf("Start failed:\n%s", r.text())
	}
	s.Close()
	if r.run(func() { s.Restart() }) {
		t.Error("Restart after Close returned instead of failing the test")
	}
	if !r.Failed() || !strings.Contains(r.text(), "Restart of redis-server") {
		t.Errorf("failed %v, logged:\n%s", r.Failed(), r.text())
	}
	r.end()

	r = &recorder{}
	if !r.run(func() { s = Start(r, nil) }) {
		t.Fatalf("Start failed:\n%s", r.text())
	}
	dir := s.Dir()
	r.Error("the test failed")
	r.end()
	if got := r.text(); !strings.Contains(got, "end of its logs") || !strings.Contains(got, "Ready to accept connections") {
		t.Errorf("cleanup of a failed test logged:\n%s", got)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("dir %s not removed at cleanup: %v", dir, err)
	}
}
