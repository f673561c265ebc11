package testutil

import (
	"context"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
)

// OpenKit connects to addrs (one node or a cluster's seeds) with prefix,
// a 5s CommandTimeout and otherwise the defaults; the Kit is closed when
// t ends.
func OpenKit(t testing.TB, prefix string, addrs ...string) *redkit.Kit {
	t.Helper()
	k, err := redkit.Open(context.Background(), redkit.Config{
		Addrs:          addrs,
		KeyPrefix:      prefix,
		CommandTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("redkit.Open(%v): %v", addrs, err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}
