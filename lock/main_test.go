package lock_test

import (
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/leaktest"
	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/lock"
	"github.com/redkit-go/redkit/redistest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// newLocker starts a redis-server and returns a Locker on it (closed when
// t ends), its Kit and the server.
func newLocker(t testing.TB, opts *lock.Options) (*lock.Locker, *redkit.Kit, *redistest.Server) {
	t.Helper()
	srv := redistest.Start(t, nil)
	k := testutil.OpenKit(t, "lt:", srv.Addr())
	l := lock.New(k, opts)
	t.Cleanup(func() { l.Close() })
	return l, k, srv
}

// waitUntil polls cond every 5ms until it holds, failing t after 20s.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
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
