package ratelimit_test

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/ratelimit"
	"github.com/redkit-go/redkit/redistest"
)

// benchLimiter returns a Limiter on a new server and 1000 keys.
func benchLimiter(b *testing.B) (*ratelimit.Limiter, []string) {
	srv := redistest.Start(b, nil)
	l := newLimiter(b, testutil.OpenKit(b, "rlb:", srv.Addr()), "bench", nil)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "u" + strconv.Itoa(i)
	}
	return l, keys
}

// Allow on distinct keys, one goroutine (the bench/ suite's "1 goroutine"
// row measures the same against the peers).
func BenchmarkAllow(b *testing.B) {
	l, keys := benchLimiter(b)
	lim := ratelimit.PerSecond(1_000_000)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := l.Allow(ctx, keys[i%len(keys)], lim); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// Allow and AllowAll with two limits, in parallel: the engine pipelines
// the script runs.
func BenchmarkAllowParallel(b *testing.B) {
	l, keys := benchLimiter(b)
	one := []ratelimit.Limit{ratelimit.PerSecond(1_000_000)}
	two := append(one, ratelimit.PerHour(1_000_000_000))
	for _, bc := range []struct {
		name   string
		limits []ratelimit.Limit
	}{{"Allow", one}, {"AllowAll2", two}} {
		b.Run(bc.name, func(b *testing.B) {
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := l.AllowAll(b.Context(), keys[n.Add(1)%int64(len(keys))], bc.limits...); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
