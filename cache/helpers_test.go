package cache_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/redistest"
)

// user is the struct type most tests cache.
type user struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

var prefixSeq atomic.Int64

// prefixFor returns a key prefix unique to the test.
func prefixFor(t testing.TB) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return fmt.Sprintf("ct%d:%s:", prefixSeq.Add(1), name)
}

// openKit opens a Kit on addrs with prefix, closed when t ends.
func openKit(t testing.TB, prefix string, addrs []string, tweak func(*redkit.Config)) *redkit.Kit {
	t.Helper()
	// Generous timeouts: the test machine may be slow and busy; fault
	// tests shorten them.
	cfg := redkit.Config{Addrs: addrs, KeyPrefix: prefix, CommandTimeout: 30 * time.Second}
	if tweak != nil {
		tweak(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	k, err := redkit.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("redkit.Open(%v): %v", addrs, err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// single starts a redis-server and a Kit on it.
func single(t testing.TB) (*redistest.Server, *redkit.Kit) {
	t.Helper()
	srv := redistest.Start(t, nil)
	return srv, openKit(t, prefixFor(t), []string{srv.Addr()}, nil)
}

// eventually polls cond every 10ms until it holds or the (generous)
// deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustSet[T any](t testing.TB, c interface {
	Set(context.Context, string, T, time.Duration) error
}, key string, v T, ttl time.Duration) {
	t.Helper()
	if err := c.Set(t.Context(), key, v, ttl); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

type contextT = context.Context

func itoa(i int) string { return fmt.Sprint(i) }
