package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/collection"
	"github.com/redkit-go/redkit/queue"
	"github.com/redkit-go/redkit/redistest"
)

// shopTestApp returns an app on a fresh redis-server with only the given
// features set up (their closers run when the test ends).
func shopTestApp(t *testing.T, setups ...func(context.Context, *app, *http.ServeMux) (func() error, error)) *app {
	t.Helper()
	srv := redistest.Start(t, nil)
	kit, err := redkit.Open(t.Context(), redkit.Config{URL: srv.URL(), KeyPrefix: "pizzeria:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Close() })
	a := &app{kit: kit, log: slog.New(slog.DiscardHandler), mux: http.NewServeMux()}
	for _, setup := range setups {
		closer, err := setup(t.Context(), a, a.mux)
		if err != nil {
			t.Fatal(err)
		}
		if closer != nil {
			t.Cleanup(func() {
				if err := closer(); err != nil {
					t.Error(err)
				}
			})
		}
	}
	return a
}

// call sends one request to h and decodes the JSON reply into out (when
// not nil), returning the status code.
func call(t *testing.T, h http.Handler, method, path string, body any, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if s, ok := body.(string); ok {
		rd = bytes.NewReader([]byte(s))
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, rd))
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: reply %q is not JSON: %v", method, path, rec.Body.String(), err)
		}
	}
	return rec.Code
}

func wantCode(t *testing.T, what string, got, want int) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: status %d, want %d", what, got, want)
	}
}

func TestCart(t *testing.T) {
	a := shopTestApp(t, setupCart)
	h := a.routes()

	wantCode(t, "add", call(t, h, "PUT", "/cart/ada/items/margherita", map[string]any{"qty": 2}, nil), 200)
	wantCode(t, "add", call(t, h, "PUT", "/cart/ada/items/diavola", map[string]any{"add": 1}, nil), 200)
	var item struct {
		Qty int64 `json:"qty"`
	}
	wantCode(t, "add", call(t, h, "PUT", "/cart/ada/items/diavola", map[string]any{"add": 1}, &item), 200)
	if item.Qty != 2 {
		t.Fatalf("qty after two adds = %d, want 2", item.Qty)
	}
	wantCode(t, "add", call(t, h, "PUT", "/cart/ada/items/funghi", map[string]any{"qty": 1}, nil), 200)
	wantCode(t, "remove", call(t, h, "PUT", "/cart/ada/items/funghi", map[string]any{"qty": 0}, nil), 200)
	wantCode(t, "remove", call(t, h, "PUT", "/cart/ada/items/diavola", map[string]any{"add": -2}, nil), 200)
	wantCode(t, "add", call(t, h, "PUT", "/cart/ada/items/diavola", map[string]any{"add": 1}, nil), 200)
	var cart struct {
		Items map[string]int64 `json:"items"`
	}
	wantCode(t, "get", call(t, h, "GET", "/cart/ada", nil, &cart), 200)
	if want := map[string]int64{"margherita": 2, "diavola": 1}; !reflect.DeepEqual(cart.Items, want) {
		t.Fatalf("cart = %v, want %v", cart.Items, want)
	}
	var del struct {
		Removed bool `json:"removed"`
	}
	call(t, h, "PUT", "/cart/ada/items/quattro", map[string]any{"qty": 1}, nil)
	wantCode(t, "delete", call(t, h, "DELETE", "/cart/ada/items/quattro", nil, &del), 200)
	if !del.Removed {
		t.Fatal("DELETE did not remove the item")
	}
	if ttl, ok, err := collection.NewHash[int64](a.kit, "cart:ada").TTL(t.Context()); err != nil || !ok || ttl < 6*24*time.Hour {
		t.Fatalf("cart TTL = %v, %v, %v; want about a week", ttl, ok, err)
	}

	// Bad input.
	wantCode(t, "bad JSON", call(t, h, "PUT", "/cart/ada/items/x", "{", nil), 400)
	wantCode(t, "no qty", call(t, h, "PUT", "/cart/ada/items/x", map[string]any{}, nil), 400)
	wantCode(t, "negative qty", call(t, h, "PUT", "/cart/ada/items/x", map[string]any{"qty": -1}, nil), 400)
	wantCode(t, "empty checkout", call(t, h, "POST", "/cart/nobody/checkout", nil, nil), 409)
	// A key of another type is a clear 409, not a 500.
	if _, err := a.kit.Do(t.Context(), a.kit.B().Set().Key(a.kit.Key("cart:carol")).Value("x").Build()); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "wrong type", call(t, h, "GET", "/cart/carol", nil, nil), 409)
}

func TestViewedActivitySegments(t *testing.T) {
	a := shopTestApp(t, setupCart)
	h := a.routes()
	for _, p := range []string{"funghi", "margherita", "funghi"} {
		wantCode(t, "view", call(t, h, "POST", "/cart/ada/viewed/"+p, nil, nil), 200)
	}
	var viewed struct {
		Viewed []string `json:"viewed"`
	}
	call(t, h, "GET", "/cart/ada/viewed", nil, &viewed)
	if want := []string{"funghi", "margherita"}; !reflect.DeepEqual(viewed.Viewed, want) {
		t.Fatalf("viewed = %v, want %v (newest first, no duplicates)", viewed.Viewed, want)
	}
	for i := range 15 {
		call(t, h, "POST", fmt.Sprintf("/cart/bob/viewed/p%d", i), nil, nil)
	}
	call(t, h, "GET", "/cart/bob/viewed", nil, &viewed)
	if len(viewed.Viewed) != recentlyViewedMax || viewed.Viewed[0] != "p14" {
		t.Fatalf("bob viewed = %v, want the last %d, newest first", viewed.Viewed, recentlyViewedMax)
	}

	for _, j := range [][2]string{{"ada", "vegetarian"}, {"bob", "vegetarian"}, {"ada", "newsletter"}, {"cy", "newsletter"}} {
		wantCode(t, "join", call(t, h, "PUT", "/cart/"+j[0]+"/segments/"+j[1], nil, nil), 200)
	}
	var seg struct {
		Users []string `json:"users"`
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"s=vegetarian&s=newsletter", []string{"ada"}},
		{"op=inter&s=vegetarian&s=newsletter", []string{"ada"}},
		{"op=union&s=vegetarian&s=newsletter", []string{"ada", "bob", "cy"}},
		{"op=diff&s=vegetarian&s=newsletter", []string{"bob"}},
		{"s=newsletter", []string{"ada", "cy"}},
		{"s=nobody", []string{}},
	} {
		wantCode(t, c.query, call(t, h, "GET", "/segments?"+c.query, nil, &seg), 200)
		if !reflect.DeepEqual(seg.Users, c.want) {
			t.Fatalf("/segments?%s = %v, want %v", c.query, seg.Users, c.want)
		}
	}
	wantCode(t, "bad op", call(t, h, "GET", "/segments?op=xor&s=a", nil, nil), 400)
	wantCode(t, "no segment", call(t, h, "GET", "/segments", nil, nil), 400)

	// Activity: ada and bob viewed pizzas today; yesterday only ada (set
	// by hand here).
	today := utcDay(time.Now())
	yesterday := utcDay(time.Now().Add(-24 * time.Hour))
	s := &shop{kit: a.kit}
	if _, err := s.active(yesterday).Add(t.Context(), "ada", "dee"); err != nil {
		t.Fatal(err)
	}
	var act struct {
		PerDay   map[string]int64 `json:"per_day"`
		EveryDay []string         `json:"every_day"`
		AnyDay   []string         `json:"any_day"`
	}
	wantCode(t, "activity", call(t, h, "GET", "/activity?day="+today+"&day="+yesterday, nil, &act), 200)
	if act.PerDay[today] != 2 || act.PerDay[yesterday] != 2 ||
		!reflect.DeepEqual(act.EveryDay, []string{"ada"}) || !reflect.DeepEqual(act.AnyDay, []string{"ada", "bob", "dee"}) {
		t.Fatalf("activity = %+v", act)
	}
}

func TestCheckoutPopularity(t *testing.T) {
	a := shopTestApp(t, setupCart)
	h := a.routes()
	order := func(user string, express bool, items map[string]int) {
		t.Helper()
		for p, n := range items {
			wantCode(t, "add", call(t, h, "PUT", "/cart/"+user+"/items/"+p, map[string]any{"qty": n}, nil), 200)
		}
		wantCode(t, "checkout", call(t, h, "POST", "/cart/"+user+"/checkout", map[string]any{"express": express}, nil), 202)
	}
	order("ada", false, map[string]int{"margherita": 2, "diavola": 1})
	order("bob", true, map[string]int{"margherita": 1, "funghi": 3, "quattro": 1})
	order("cy", false, map[string]int{"diavola": 1})

	var cart struct {
		Items map[string]int64 `json:"items"`
	}
	call(t, h, "GET", "/cart/ada", nil, &cart)
	if len(cart.Items) != 0 {
		t.Fatalf("cart after checkout = %v, want empty", cart.Items)
	}

	var top struct {
		Top []ranked `json:"top"`
	}
	wantCode(t, "popular", call(t, h, "GET", "/popular?n=3", nil, &top), 200)
	// margherita 3, funghi 3, diavola 2, quattro 1; ties in reverse byte
	// order of the name when descending.
	want := []ranked{{1, "margherita", 3}, {2, "funghi", 3}, {3, "diavola", 2}}
	if !reflect.DeepEqual(top.Top, want) {
		t.Fatalf("top 3 = %+v, want %+v", top.Top, want)
	}
	var one struct {
		Rank   int64    `json:"rank"`
		Sold   float64  `json:"sold"`
		Around []ranked `json:"around"`
	}
	wantCode(t, "pizza", call(t, h, "GET", "/popular/quattro", nil, &one), 200)
	if one.Rank != 4 || one.Sold != 1 || len(one.Around) != 3 || one.Around[0].Pizza != "funghi" {
		t.Fatalf("quattro = %+v, want rank 4 with funghi and diavola above", one)
	}
	wantCode(t, "unknown pizza", call(t, h, "GET", "/popular/hawaii", nil, nil), 404)
	wantCode(t, "bad n", call(t, h, "GET", "/popular?n=0", nil, nil), 400)

	var hourly struct {
		Sales map[string]int64 `json:"sales"`
	}
	wantCode(t, "hourly", call(t, h, "GET", "/popular/hourly", nil, &hourly), 200)
	// Unless the hour turned during the test, all sales are in this hour.
	if sum := hourly.Sales["margherita"] + hourly.Sales["diavola"] + hourly.Sales["funghi"] + hourly.Sales["quattro"]; sum != 9 &&
		time.Now().UTC().Minute() != 0 {
		t.Fatalf("hourly sales = %v, want 9 pizzas", hourly.Sales)
	}
	wantCode(t, "bad hour", call(t, h, "GET", "/popular/hourly?hour=yesterday", nil, nil), 400)

	// The orders went to the kitchen queue, the express one first.
	q := queue.NewPriority[kitchenOrder](a.kit, kitchenQueue, nil)
	if n, err := q.Len(t.Context()); err != nil || n != 3 {
		t.Fatalf("kitchen queue Len = %d, %v; want 3", n, err)
	}
	job, err := q.Pop(t.Context(), "test")
	if err != nil || job.Value.User != "bob" || !job.Value.Express || job.Value.Items["funghi"] != 3 {
		t.Fatalf("first kitchen job = %+v, %v; want bob's express order", job, err)
	}
}
