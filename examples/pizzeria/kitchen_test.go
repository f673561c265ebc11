package main

import (
	"testing"
	"time"

	"github.com/redkit-go/redkit/queue"
)

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type kitchenStatus struct {
	Waiting int64        `json:"waiting"`
	Baking  int64        `json:"baking"`
	Baked   []bakedOrder `json:"baked"`
}

func TestKitchenBakesExpressFirst(t *testing.T) {
	old := kitchenBakeTime
	kitchenBakeTime = 20 * time.Millisecond
	t.Cleanup(func() { kitchenBakeTime = old })

	// Orders that wait before the cook starts: three regular, then one
	// express, which must be baked first.
	pre := shopTestApp(t)
	q := queue.NewPriority[kitchenOrder](pre.kit, kitchenQueue, nil)
	for _, o := range []kitchenOrder{
		{User: "ada", Items: map[string]int64{"margherita": 1}},
		{User: "bob", Items: map[string]int64{"diavola": 1}},
		{User: "cy", Items: map[string]int64{"funghi": 2}},
		{User: "dee", Items: map[string]int64{"quattro": 1}, Express: true},
	} {
		prio := 0.0
		if o.Express {
			prio = 10
		}
		if _, err := q.Push(t.Context(), o, prio); err != nil {
			t.Fatal(err)
		}
	}
	closer, err := setupKitchen(t.Context(), pre, pre.mux)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer() })
	h := pre.routes()

	// A walk-in order through the API.
	var placed struct {
		Order string `json:"order"`
	}
	wantCode(t, "order", call(t, h, "POST", "/kitchen/orders",
		map[string]any{"user": "eve", "items": map[string]int{"margherita": 1}}, &placed), 202)
	if placed.Order == "" {
		t.Fatal("no order ID")
	}
	wantCode(t, "empty order", call(t, h, "POST", "/kitchen/orders", map[string]any{"user": "x"}, nil), 400)

	var st kitchenStatus
	waitUntil(t, "every order baked", func() bool {
		wantCode(t, "status", call(t, h, "GET", "/kitchen", nil, &st), 200)
		return st.Waiting == 0 && st.Baking == 0 && len(st.Baked) == 5
	})
	// Baked is newest first: the oldest baked (last) is the express one.
	if first := st.Baked[len(st.Baked)-1]; first.User != "dee" || !first.Express || first.Attempts != 1 {
		t.Fatalf("first baked = %+v, want dee's express order", first)
	}
	if st.Baked[0].ID != placed.Order && st.Baked[1].ID != placed.Order {
		t.Fatalf("the walk-in order %s is not among the last baked: %+v", placed.Order, st.Baked)
	}
}

// TestKitchenCloseGivesOrderBack: closing the feature mid-bake stops the
// cook and returns its order to the queue at once.
func TestKitchenCloseGivesOrderBack(t *testing.T) {
	old := kitchenBakeTime
	kitchenBakeTime = time.Hour
	t.Cleanup(func() { kitchenBakeTime = old })

	a := shopTestApp(t)
	closer, err := setupKitchen(t.Context(), a, a.mux)
	if err != nil {
		t.Fatal(err)
	}
	h := a.routes()
	wantCode(t, "order", call(t, h, "POST", "/kitchen/orders",
		map[string]any{"user": "ada", "items": map[string]int{"margherita": 1}}, nil), 202)
	var st kitchenStatus
	waitUntil(t, "the cook to take the order", func() bool {
		call(t, h, "GET", "/kitchen", nil, &st)
		return st.Baking == 1
	})
	if err := closer(); err != nil {
		t.Fatal(err)
	}
	call(t, h, "GET", "/kitchen", nil, &st)
	if st.Waiting != 1 || st.Baking != 0 || len(st.Baked) != 0 {
		t.Fatalf("after close: %+v, want the order back in the queue", st)
	}
	q := queue.NewPriority[kitchenOrder](a.kit, kitchenQueue, nil)
	job, err := q.Pop(t.Context(), "test")
	if err != nil || job.Value.User != "ada" || job.Attempts != 2 {
		t.Fatalf("Pop after close = %+v, %v; want ada's order, attempt 2", job, err)
	}
}
