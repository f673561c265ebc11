package ratelimit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/leaktest"
	"github.com/redkit-go/redkit/ratelimit"
	"github.com/redkit-go/redkit/redistest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// newLimiter returns a Limiter (closed when t ends) on k.
func newLimiter(t testing.TB, k *redkit.Kit, name string, opts *ratelimit.Options) *ratelimit.Limiter {
	t.Helper()
	l := ratelimit.New(k, name, opts)
	t.Cleanup(func() { l.Close() })
	return l
}

// prefixFor gives each test its own key prefix.
func prefixFor(t testing.TB) string {
	return "rl-" + strings.NewReplacer("/", "-", " ", "_").Replace(t.Name()) + ":"
}

// waitUntil polls cond every 10ms until it holds, failing t after 30s.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// do runs a command on srv and fails t on error.
func do(t testing.TB, srv *redistest.Server, args ...string) string {
	t.Helper()
	v, err := srv.Do(args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}

// allow calls l.Allow and fails t on error.
func allow(t testing.TB, l *ratelimit.Limiter, key string, lim ratelimit.Limit) ratelimit.Result {
	t.Helper()
	r, err := l.Allow(t.Context(), key, lim)
	if err != nil {
		t.Fatalf("Allow(%q, %v): %v", key, lim, err)
	}
	return r
}
