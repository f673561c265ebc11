package sentinel

import (
	"testing"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit/redistest"
)

// FailoverResult exposes the figures of failoverUnderLoad to the
// engine-level test in package sentinel_test.
type FailoverResult struct {
	Acked, AckedAfter, LostBefore, LostAfter int
	Summary                                  string
}

// FailoverUnderLoad runs failoverUnderLoad with the client pick returns.
func FailoverUnderLoad(t *testing.T, s *redistest.Sentinel, pick func() rueidis.Client) FailoverResult {
	r := failoverUnderLoad(t, s, func() (rueidis.Client, string) { return pick(), "" })
	return FailoverResult{Acked: r.acked, AckedAfter: r.ackedAfter, LostBefore: r.lostBefore, LostAfter: r.lostAfter, Summary: r.String()}
}
