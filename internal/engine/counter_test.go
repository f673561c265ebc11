package engine

import (
	"sync"
	"testing"
)

// The packed command counter keeps Ops exact across folds and tells a
// lone call from one that overlaps another.
func TestCallCounter(t *testing.T) {
	var k Engine
	if got := k.enter(1); got != 1 {
		t.Fatalf("first enter = %d in flight, want 1", got)
	}
	if got := k.enter(3); got != 4 {
		t.Fatalf("enter(3) while 1 is in flight = %d, want 4", got)
	}
	k.leave(3)
	k.leave(1)
	if got := k.ops(); got != 4 {
		t.Fatalf("ops = %d, want 4", got)
	}
	// Just below a fold: the next leave folds, and ops goes on counting.
	k.calls.Store(foldAt - 1<<inflightBits)
	base := k.ops()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				k.enter(1)
				k.leave(1)
			}
		})
	}
	wg.Wait()
	if got := k.ops() - base; got != 8000 {
		t.Fatalf("ops grew by %d across a fold, want 8000", got)
	}
	if k.calls.Load() >= foldAt || k.calls.Load()&inflightMask != 0 {
		t.Fatalf("calls = %#x after the fold, want below %#x with nothing in flight", k.calls.Load(), int64(foldAt))
	}
	if k.enter(1) != 1 {
		t.Fatal("a lone call after the fold is not seen as alone")
	}
}
