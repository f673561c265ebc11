package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redkit-go/redkit/internal/leaktest"
	"github.com/redkit-go/redkit/redistest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func testOptions(addr string) Options {
	return Options{
		Addrs:          []string{addr},
		ConnectTimeout: time.Second,
		CommandTimeout: 5 * time.Second,
		KeepAlive:      time.Minute,
		Retry:          RetryPolicy{Retries: 0, Delay: time.Millisecond, BackoffFactor: 2, MaxDelay: time.Millisecond},
		Breaker:        BreakerPolicy{FailureThreshold: 2, RecoveryTimeout: 100 * time.Millisecond, SuccessThreshold: 2},
		MaxFlushDelay:  20 * time.Microsecond,
	}
}

func newEngine(t *testing.T, opt Options) *Engine {
	t.Helper()
	e, err := New(t.Context(), opt)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(e.Close)
	return e
}

// A call the breaker refuses while others are in flight counts as one
// command, and the engine still sees a later lone call as alone (the
// direct path). It used to leave as many commands as were in flight.
func TestRefusedCallCountsOne(t *testing.T) {
	srv := redistest.Start(t, nil)
	e := newEngine(t, testOptions(srv.Addr()))
	ctx := context.Background()

	e.enter(1)    // another call in flight
	for range 2 { // FailureThreshold: open the breaker
		e.brk.report(nil, errors.New("injected transport failure"))
	}
	before := e.ops()
	if _, err := e.Do(ctx, e.B().Get().Key("k").Build()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Do with the breaker open = %v, want ErrUnavailable", err)
	}
	if got := e.ops() - before; got != 1 {
		t.Errorf("a refused call added %d to Ops, want 1", got)
	}
	e.leave(1)
	if got := e.calls.Load() & inflightMask; got != 0 {
		t.Fatalf("%d commands in flight with none running", got)
	}
	time.Sleep(150 * time.Millisecond) // RecoveryTimeout: half-open
	direct := e.direct.Load()
	for range 3 {
		if _, err := e.Do(ctx, e.B().Set().Key("k").Value("v").Build()); err != nil {
			t.Fatalf("SET after recovery: %v", err)
		}
	}
	if e.direct.Load() == direct {
		t.Errorf("lone calls after a refusal did not take the direct path: the engine no longer sees a call as alone")
	}
}

// In half-open, calls whose ctx ended tell the breaker nothing: they must
// not close it while Redis is still down.
func TestCancelledProbesKeepBreakerOpen(t *testing.T) {
	srv := redistest.Start(t, nil)
	opt := testOptions(srv.Addr())
	opt.Breaker = BreakerPolicy{FailureThreshold: 1, RecoveryTimeout: 100 * time.Millisecond, SuccessThreshold: 2}
	opt.CommandTimeout = 2 * time.Second
	e := newEngine(t, opt)
	srv.Pause(0)
	defer srv.Resume()
	// A failure opens the breaker: the watchdog closes the silent
	// connection after CommandTimeout.
	if _, err := e.Do(context.Background(), e.B().Get().Key("k").Build()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("GET on a paused server = %v, want ErrUnavailable", err)
	}
	if s := e.brk.state(); s != BreakerOpen {
		t.Fatalf("breaker %s after a failure with threshold 1, want open", s)
	}
	time.Sleep(150 * time.Millisecond)
	for i := range 2 { // SuccessThreshold probes, each given up by its caller
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := e.Do(ctx, e.B().Get().Key("k").Build())
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("probe %d = %v, want context.DeadlineExceeded", i, err)
		}
	}
	if s := e.brk.state(); s == BreakerClosed {
		t.Fatalf("breaker closed by two cancelled probes while Redis is paused")
	}
}
