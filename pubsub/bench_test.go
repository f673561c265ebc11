package pubsub_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/pubsub"
	"github.com/redkit-go/redkit/redistest"
)

// BenchmarkDelivery measures typed pub/sub delivery: one op is one
// 100-byte message, published in pipelined batches of 100 and received
// by one subscriber (with at most 1000 in flight). The side-by-side
// figures are the "pubsub" suite in bench/.
func BenchmarkDelivery(b *testing.B) {
	srv := redistest.Start(b, nil)
	k, err := redkit.Open(b.Context(), redkit.Config{URL: srv.URL()})
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	topic := pubsub.NewTopic[[]byte](k, "bench")
	var got atomic.Int64
	sub, err := topic.Subscribe(b.Context(), func(context.Context, pubsub.Message[[]byte]) error {
		got.Add(1)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	batch := make([][]byte, 100)
	for i := range batch {
		batch[i] = make([]byte, 100)
	}
	ctx := b.Context()
	b.ReportAllocs()
	cpu0 := processCPU()
	sent := int64(0)
	for b.Loop() {
		if sent%100 == 0 {
			if err := topic.PublishMany(ctx, batch...); err != nil {
				b.Fatal(err)
			}
			for sent+100-got.Load() > 900 {
				time.Sleep(50 * time.Microsecond)
			}
		}
		sent++
	}
	for got.Load() < sent-sent%100 && sub.Stats().Dropped == 0 {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(sent), "cpu-ns/op")
	if d := sub.Stats().Dropped; d != 0 {
		b.Errorf("%d dropped", d)
	}
}

// processCPU is this process's CPU time (user + system): a cost that
// stays meaningful when other processes share the machine.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStreamLatency: one op is one entry published by one of 8
// goroutines and handled and acknowledged by one of 8 consumers, with
// at most 2000 in flight (the streams latency rows in bench/).
func BenchmarkStreamLatency(b *testing.B) {
	srv := redistest.Start(b, nil)
	k, err := redkit.Open(b.Context(), redkit.Config{URL: srv.URL()})
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	s := pubsub.NewStream[[]byte](k, "bench", nil)
	var got, sent atomic.Int64
	ctx, cancel := context.WithCancel(b.Context())
	var done sync.WaitGroup
	for c := range 8 {
		done.Add(1)
		go func() {
			defer done.Done()
			_ = s.Consume(ctx, "g", strconv.Itoa(c), func(context.Context, pubsub.Message[[]byte]) error {
				got.Add(1)
				return nil
			})
		}()
	}
	payload := make([]byte, 100)
	b.ReportAllocs()
	b.SetParallelism(4)
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Publish(ctx, payload); err != nil {
				b.Error(err)
				return
			}
			sent.Add(1)
			for sent.Load()-got.Load() > 2000 {
				time.Sleep(50 * time.Microsecond)
			}
		}
	})
	for got.Load() < sent.Load() {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(sent.Load()), "cpu-ns/op")
	cancel()
	done.Wait()
}
