package pubsub_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// open returns a Kit on addrs with a key prefix unique to t.
func open(t *testing.T, addrs ...string) *redkit.Kit {
	t.Helper()
	prefix := "pst:" + strings.NewReplacer("/", ":", " ", "_").Replace(t.Name()) + ":"
	k, err := redkit.Open(t.Context(), redkit.Config{Addrs: addrs, KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// eventually polls cond until it holds or the (generous) deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
