package redkit_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/redistest"
)

// BenchmarkGet compares a GET through the Kit (pipelined by default, and
// pooled) with the same GET on a bare rueidis client, sequentially and with
// 128 goroutines. bench/ has the side-by-side comparison with the peers.
func BenchmarkGet(b *testing.B) {
	srv := redistest.Start(b, nil)
	for _, pooled := range []bool{false, true} {
		k, err := redkit.Open(context.Background(), redkit.Config{URL: srv.URL(), Engine: redkit.EngineConfig{DisableAutoPipelining: pooled}})
		if err != nil {
			b.Fatal(err)
		}
		defer k.Close()
		name := "kit"
		if pooled {
			name = "kit-pooled"
		}
		k.Do(context.Background(), k.B().Set().Key("bench").Value("0123456789").Build())
		run(b, name, func(ctx context.Context) error {
			_, err := k.Do(ctx, k.B().Get().Key("bench").Build())
			return err
		})
	}
	raw, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr()}, MaxFlushDelay: redkit.DefaultMaxFlushDelay, PipelineMultiplex: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	run(b, "rueidis", func(ctx context.Context) error {
		return raw.Do(ctx, raw.B().Get().Key("bench").Build()).Error()
	})
}

func run(b *testing.B, name string, op func(context.Context) error) {
	for _, par := range []int{1, 128} {
		for _, deadline := range []bool{false, true} {
			runOne(b, name, par, deadline, op)
		}
	}
}

// runOne measures op at par goroutines with context.Background() or a ctx
// that has a deadline (as a request's).
func runOne(b *testing.B, name string, par int, deadline bool, op func(context.Context) error) {
	ctxName := "/bg"
	if deadline {
		ctxName = "/deadline"
	}
	{
		b.Run(name+"/g"+strconv.Itoa(par)+ctxName, func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			if deadline {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, time.Hour)
				defer cancel()
			}
			if par == 1 {
				for b.Loop() {
					if err := op(ctx); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.SetParallelism(par / 2) // GOMAXPROCS is 2 here: 128 goroutines
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := op(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
