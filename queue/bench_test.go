package queue_test

import (
	"testing"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/queue"
	"github.com/redkit-go/redkit/redistest"
)

// BenchmarkCycle measures one job's life, Push + Pop + Ack (three Lua
// scripts), with parallel workers sharing one queue. The side-by-side
// figures are the "collection" suite in bench/.
func BenchmarkCycle(b *testing.B) {
	srv := redistest.Start(b, nil)
	k, err := redkit.Open(b.Context(), redkit.Config{URL: srv.URL()})
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	q := queue.NewPriority[order](k, "bench", nil)
	v := order{ID: 1, Pizzas: []string{"margherita"}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := b.Context()
		for pb.Next() {
			if _, err := q.Push(ctx, v, 1); err != nil {
				b.Fatal(err)
			}
			job, err := q.Pop(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			if err := job.Ack(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
