package lock_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Uncontended acquire + release of distinct keys.
func BenchmarkAcquireRelease(b *testing.B) {
	l, _, _ := newLocker(b, nil)
	ctx := b.Context()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m, err := l.Acquire(ctx, keys[i%len(keys)], 10*time.Second, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Release(ctx); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// One key, 8 goroutines: every cycle is a handoff.
func BenchmarkContended8(b *testing.B) {
	l, _, _ := newLocker(b, nil)
	ctx := context.Background()
	b.ReportAllocs()
	var wg sync.WaitGroup
	per := b.N/8 + 1
	b.ResetTimer()
	for range 8 {
		wg.Go(func() {
			for range per {
				m, err := l.Acquire(ctx, "hot", 10*time.Second, nil)
				if err != nil {
					b.Error(err)
					return
				}
				if err := m.Release(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
