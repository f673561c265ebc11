package health_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redkit-go/redkit/internal/leaktest"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/health"
	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/redistest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func get(t *testing.T, h http.Handler) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body.String(), err)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	return rec.Code, body
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHandlerFollowsRedis(t *testing.T) {
	srv := redistest.Start(t, nil)
	k, err := redkit.Open(t.Context(), redkit.Config{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	c := health.NewChecker(k, &health.Options{Interval: 20 * time.Millisecond, Timeout: 200 * time.Millisecond})
	defer c.Close()
	h := c.Handler()

	code, body := get(t, h)
	if code != http.StatusOK || body["status"] != "ok" || body["healthy"] != true {
		t.Fatalf("healthy server: %d %v", code, body)
	}
	if s := c.Status(); s.Latency <= 0 || s.Checks < 1 || s.Mode != "standalone" {
		t.Errorf("Status = %+v", s)
	}

	srv.Kill()
	waitFor(t, "503 after kill", func() bool { code, _ := get(t, h); return code == http.StatusServiceUnavailable })
	_, body = get(t, h)
	if body["status"] != "unavailable" || body["error"] == "" || body["consecutive_failures"].(float64) < 1 {
		t.Errorf("unhealthy body = %v", body)
	}

	srv.Restart()
	waitFor(t, "200 after restart", func() bool { code, _ := get(t, h); return code == http.StatusOK })

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD = %d with %d body bytes", rec.Code, rec.Body.Len())
	}
}

func TestFailureThreshold(t *testing.T) {
	srv := redistest.Start(t, nil)
	k, err := redkit.Open(t.Context(), redkit.Config{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	c := health.NewChecker(k, &health.Options{Interval: 20 * time.Millisecond, Timeout: 100 * time.Millisecond, FailureThreshold: 3})
	defer c.Close()
	srv.Kill()
	waitFor(t, "first failure", func() bool { return c.Status().ConsecutiveFailures >= 1 })
	if s := c.Status(); s.ConsecutiveFailures < 3 && !s.Healthy {
		t.Errorf("unhealthy after %d failures, threshold is 3", s.ConsecutiveFailures)
	}
	waitFor(t, "unhealthy after 3 failures", func() bool { return !c.Status().Healthy })
	if n := c.Status().ConsecutiveFailures; n < 3 {
		t.Errorf("unhealthy after %d failures, want >= 3", n)
	}
	c.Close()
	c.Close() // idempotent
}

// Options.Timeout is the probe's bound, also above the Kit's
// HealthCheck.Timeout (it used to be capped by it a second time).
func TestTimeoutAboveKitDefault(t *testing.T) {
	srv := redistest.Start(t, nil)
	k, err := redkit.Open(t.Context(), redkit.Config{URL: srv.URL(), CommandTimeout: 10 * time.Second,
		HealthCheck: redkit.HealthCheckConfig{Timeout: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	srv.Pause(300 * time.Millisecond)
	c := health.NewChecker(k, &health.Options{Interval: time.Hour, Timeout: 5 * time.Second})
	defer c.Close()
	if s := c.Status(); !s.Healthy {
		t.Fatalf("a 5s probe across a 300ms pause: %+v, want healthy", s)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *health.Options
		want []string // substrings of the error; nil: valid
	}{
		{"nil", nil, nil},
		{"zero", &health.Options{}, nil},
		{"set", &health.Options{Interval: time.Second, Timeout: time.Second, FailureThreshold: 3}, nil},
		{"Interval", &health.Options{Interval: -time.Second}, []string{"health: Options.Interval must not be negative (got -1s)"}},
		{"several", &health.Options{Timeout: -time.Millisecond, FailureThreshold: -2}, []string{
			"health: Options.Timeout must not be negative (got -1ms)",
			"health: Options.FailureThreshold must not be negative (got -2)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.WantValid(t, tc.opts.Validate(), tc.want)
		})
	}
}

// TestNewCheckerPanicsOnInvalidOptions: a negative Interval used to be
// replaced by the Kit's silently; it is a programming error now, and no
// probe goroutine starts.
func TestNewCheckerPanicsOnInvalidOptions(t *testing.T) {
	srv := redistest.Start(t, nil)
	k, err := redkit.Open(t.Context(), redkit.Config{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	opts := &health.Options{Interval: -time.Second}
	defer func() {
		r := recover()
		err, ok := r.(error)
		if !ok || err.Error() != opts.Validate().Error() {
			t.Fatalf("NewChecker with a negative Interval: recover() = %v; want Validate's error", r)
		}
	}()
	c := health.NewChecker(k, opts)
	c.Close()
}
