package sentinel_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/sentinel"
	"github.com/redkit-go/redkit/redistest"
)

// Issue #10 bug 5 through a Kit: under write load, a sentinel failover
// loses no write the Kit acknowledged after the failover completed (every
// sentinel names the new master), and the Kit is on the new master by
// then, without being reopened.
func TestKitFailoverUnderWriteLoad(t *testing.T) {
	s := redistest.StartSentinel(t, 2)
	k, err := redkit.Open(context.Background(), redkit.Config{URL: s.URL(), CommandTimeout: 2 * time.Second,
		Retry: redkit.RetryPolicy{Retries: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	r := sentinel.FailoverUnderLoad(t, s, func() rueidis.Client { return k.Client() })
	t.Logf("Kit: %s", r.Summary)
	if r.AckedAfter == 0 {
		t.Fatalf("no write acknowledged after the failover: the test measured nothing")
	}
	if r.LostAfter > 0 {
		t.Errorf("%d of %d writes the Kit acknowledged after the failover completed are lost", r.LostAfter, r.AckedAfter)
	}
	if k.Mode() != "sentinel" {
		t.Errorf("Mode = %q after the failover, want sentinel", k.Mode())
	}
}
