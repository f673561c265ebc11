package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/redistest"
)

// ordersApp starts a redis-server and an app with the orders feature.
func ordersApp(t *testing.T) *app {
	t.Helper()
	srv := redistest.Start(t, nil)
	kit, err := redkit.Open(t.Context(), redkit.Config{URL: srv.URL(), KeyPrefix: "pizzeria:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Close() })
	a := &app{kit: kit, log: slog.New(slog.DiscardHandler), mux: http.NewServeMux()}
	closer, err := setupOrders(t.Context(), a, a.mux)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := closer(); err != nil {
			t.Error(err)
		}
	})
	return a
}

func ordersCall(t *testing.T, h http.Handler, method, path string, body any, out any) int {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		b = nil
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, bytes.NewReader(b)))
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Errorf("%s %s: reply %q is not JSON: %v", method, path, rec.Body.String(), err)
		}
	}
	return rec.Code
}

type inventoryReply struct {
	Stock map[string]int64 `json:"stock"`
	Fence int64            `json:"fence"`
}

// 20 concurrent orders for 10 pizzas: exactly 10 are placed, the stock
// ends at 0, and every write carried a higher fence.
func TestOrdersReserveUnderLock(t *testing.T) {
	a := ordersApp(t)
	h := a.routes()
	if code := ordersCall(t, h, "PUT", "/inventory/margherita", map[string]any{"stock": 10}, nil); code != 200 {
		t.Fatalf("PUT /inventory: %d", code)
	}
	if code := ordersCall(t, h, "PUT", "/inventory/diavola", map[string]any{"stock": 3}, nil); code != 200 {
		t.Fatalf("PUT /inventory: %d", code)
	}

	var (
		mu     sync.Mutex
		placed []order
		short  int
		wg     sync.WaitGroup
	)
	for i := range 20 {
		wg.Go(func() {
			var o order
			code := ordersCall(t, h, "POST", "/orders", map[string]any{"user": "u" + strconv.Itoa(i), "items": map[string]int64{"margherita": 1}}, &o)
			mu.Lock()
			defer mu.Unlock()
			switch code {
			case http.StatusCreated:
				placed = append(placed, o)
			case http.StatusConflict:
				short++
			default:
				t.Errorf("POST /orders: %d", code)
			}
		})
	}
	wg.Wait()
	if len(placed) != 10 || short != 10 {
		t.Fatalf("%d orders placed, %d refused; want 10 and 10", len(placed), short)
	}
	fences := map[int64]bool{}
	for _, o := range placed {
		if fences[o.Fence] {
			t.Errorf("fence %d used twice", o.Fence)
		}
		fences[o.Fence] = true
		var got order
		if code := ordersCall(t, h, "GET", "/orders/"+itoa(o.ID), nil, &got); code != 200 || got.Fence != o.Fence || got.Items["margherita"] != 1 {
			t.Errorf("GET /orders/%d: %d %+v", o.ID, code, got)
		}
	}
	var inv inventoryReply
	if code := ordersCall(t, h, "GET", "/inventory", nil, &inv); code != 200 {
		t.Fatalf("GET /inventory: %d", code)
	}
	if inv.Stock["margherita"] != 0 || inv.Stock["diavola"] != 3 {
		t.Errorf("stock %v, want margherita 0, diavola 3", inv.Stock)
	}
	for f := range fences {
		if f > inv.Fence {
			t.Errorf("order fence %d above the inventory's last fence %d", f, inv.Fence)
		}
	}

	// An order that cannot be filled reserves nothing.
	if code := ordersCall(t, h, "POST", "/orders", map[string]any{"user": "zed", "items": map[string]int64{"diavola": 2, "margherita": 1}}, nil); code != http.StatusConflict {
		t.Errorf("short order: %d, want 409", code)
	}
	ordersCall(t, h, "GET", "/inventory", nil, &inv)
	if inv.Stock["diavola"] != 3 {
		t.Errorf("diavola %d after a refused order, want 3", inv.Stock["diavola"])
	}
	if code := ordersCall(t, h, "POST", "/orders", map[string]any{"user": ""}, nil); code != http.StatusBadRequest {
		t.Errorf("bad order: %d", code)
	}
	if code := ordersCall(t, h, "GET", "/orders/999", nil, nil); code != http.StatusNotFound {
		t.Errorf("missing order: %d", code)
	}
}

// A write with a fence older than the last one is refused: a holder that
// lost its lease cannot overwrite its successor.
func TestOrdersStaleFenceRefused(t *testing.T) {
	a := ordersApp(t)
	h := a.routes()
	var set struct {
		Fence int64 `json:"fence"`
	}
	ordersCall(t, h, "PUT", "/inventory/funghi", map[string]any{"stock": 5}, &set)
	o := &orders{a: a, inventory: a.kit.Key("inventory")}
	err := o.write(context.Background(), set.Fence-1, map[string]int64{"funghi": 99})
	if !errors.Is(err, errStaleFence) {
		t.Fatalf("stale write: %v, want errStaleFence", err)
	}
	var inv inventoryReply
	ordersCall(t, h, "GET", "/inventory", nil, &inv)
	if inv.Stock["funghi"] != 5 {
		t.Errorf("funghi %d after a stale write, want 5", inv.Stock["funghi"])
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
