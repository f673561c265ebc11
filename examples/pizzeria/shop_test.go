package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/redistest"
)

// fastKitchen makes the kitchen bake in no time and never burn, for the
// length of a test.
func fastKitchen(t *testing.T, burn float64) {
	t.Helper()
	bake, rate, retry, every, load := kitchenBakeTime, kitchenBurnRate, kitchenRetry, dailyEvery, menuLoadDelay
	kitchenBakeTime, kitchenBurnRate, kitchenRetry, dailyEvery, menuLoadDelay = 50*time.Millisecond, burn, 50*time.Millisecond, time.Second, 0
	t.Cleanup(func() {
		kitchenBakeTime, kitchenBurnRate, kitchenRetry, dailyEvery, menuLoadDelay = bake, rate, retry, every, load
	})
}

// testShop starts a shop instance named name on the Redis at url and
// serves it with httptest.
func testShop(t *testing.T, url, name string) *httptest.Server {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	inst, err := startInstance(t.Context(), redkit.Config{URL: url, KeyPrefix: "pizzeria:"}, name, log)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(inst.Handler())
	t.Cleanup(func() {
		inst.EndStreams()
		hs.Close()
		if err := inst.Close(); err != nil {
			t.Error(err)
		}
	})
	return hs
}

// browser is a test client with a cookie jar.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (b *browser) call(method, path string, body, out any) int {
	b.t.Helper()
	var r io.Reader
	if body != nil {
		buf, _ := json.Marshal(body)
		r = bytes.NewReader(buf)
	}
	req, _ := http.NewRequestWithContext(b.t.Context(), method, b.base+path, r)
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			b.t.Fatalf("%s %s: %q: %v", method, path, data, err)
		}
	}
	return res.StatusCode
}

// events opens the browser's server-sent event stream and sends each
// event's name and data on the channel.
func (b *browser) events(ctx context.Context) <-chan [2]string {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.base+"/api/events", nil)
	c := *b.c
	c.Timeout = 0
	res, err := c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	ch := make(chan [2]string, 100)
	go func() {
		defer res.Body.Close()
		defer close(ch)
		sc := bufio.NewScanner(res.Body)
		var name string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				select {
				case ch <- [2]string{name, strings.TrimPrefix(line, "data: ")}:
				default:
				}
			}
		}
	}()
	return ch
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOrderFlow is the demo's story end to end over HTTP: log in, fill the
// cart, place an order, and watch it reach "ready" live, on two instances.
func TestOrderFlow(t *testing.T) {
	fastKitchen(t, 0)
	srv := redistest.Start(t, nil)
	one := testShop(t, srv.URL(), "pizzeria-1")
	two := testShop(t, srv.URL(), "pizzeria-2")

	ada := newBrowser(t, one.URL)
	if code := ada.call("PUT", "/api/cart", map[string]any{"pizza": "diavola", "qty": 1}, nil); code != http.StatusUnauthorized {
		t.Fatalf("cart before login: %d, want 401", code)
	}
	var me struct {
		User     string         `json:"user"`
		Cart     map[string]int `json:"cart"`
		Sessions int            `json:"sessions"`
	}
	if code := ada.call("POST", "/api/login", map[string]string{"name": "ada"}, &me); code != 200 || me.User != "ada" {
		t.Fatalf("login: %d %+v", code, me)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	live := ada.events(ctx)
	// The board of the other instance hears of the order too.
	bob := newBrowser(t, two.URL)
	board2 := bob.events(ctx)

	if code := ada.call("PUT", "/api/cart", map[string]any{"pizza": "diavola", "qty": 2}, nil); code != 200 {
		t.Fatalf("cart: %d", code)
	}
	if code := ada.call("PUT", "/api/cart", map[string]any{"pizza": "margherita", "qty": 1}, nil); code != 200 {
		t.Fatalf("cart: %d", code)
	}
	if code := ada.call("PUT", "/api/cart", map[string]any{"pizza": "nope", "qty": 1}, nil); code != http.StatusNotFound {
		t.Fatalf("unknown pizza: %d, want 404", code)
	}
	ada.call("GET", "/api/me", nil, &me)
	if me.Cart["diavola"] != 2 || me.Cart["margherita"] != 1 || me.Sessions != 1 {
		t.Fatalf("me = %+v", me)
	}

	var placed order
	if code := ada.call("POST", "/api/orders", nil, &placed); code != http.StatusCreated {
		t.Fatalf("place order: %d", code)
	}
	if placed.Total != 2*1150+900 || placed.Fence <= 0 || placed.Status != statusWaiting {
		t.Fatalf("placed = %+v", placed)
	}
	ada.call("GET", "/api/me", nil, &me)
	if len(me.Cart) != 0 {
		t.Fatalf("cart after ordering: %v", me.Cart)
	}

	seen := map[string]bool{}
	deadline := time.After(30 * time.Second)
	for !seen[statusReady] {
		select {
		case ev, ok := <-live:
			if !ok {
				t.Fatal("event stream ended")
			}
			if ev[0] == "status" {
				var se statusEvent
				json.Unmarshal([]byte(ev[1]), &se)
				if se.Order.ID == placed.ID {
					seen[se.Order.Status] = true
				}
			}
		case <-deadline:
			t.Fatalf("order never got ready live; saw %v", seen)
		}
	}
	if !seen[statusBaking] {
		t.Errorf("saw %v, want baking before ready", seen)
	}
	waitFor(t, "the other instance's board to show the order ready", 10*time.Second, func() bool {
		for {
			select {
			case ev := <-board2:
				var se statusEvent
				json.Unmarshal([]byte(ev[1]), &se)
				if ev[0] == "board" && se.Order.ID == placed.ID && se.Order.Status == statusReady {
					return true
				}
			default:
				return false
			}
		}
	})

	var inv struct {
		Stock map[string]int64 `json:"stock"`
	}
	ada.call("GET", "/api/inventory", nil, &inv)
	if inv.Stock["diavola"] != initialStock-2 || inv.Stock["margherita"] != initialStock-1 {
		t.Errorf("stock = %v", inv.Stock)
	}
	var an struct {
		Popular []struct {
			Pizza string  `json:"pizza"`
			Sold  float64 `json:"sold"`
		} `json:"popular"`
		Customers []string `json:"customers_today"`
		Veggie    []string `json:"veggie_fans_today"`
	}
	ada.call("GET", "/api/analytics", nil, &an)
	if len(an.Popular) == 0 || an.Popular[0].Pizza != "diavola" || len(an.Customers) != 1 || len(an.Veggie) != 1 {
		t.Errorf("analytics = %+v", an)
	}
	var panel map[string]any
	if code := bob.call("GET", "/api/redis", nil, &panel); code != 200 || panel["queue"] == nil || panel["stream"] == nil {
		t.Errorf("panel: %d %v", code, panel)
	}

	// Log out everywhere: a second browser of ada's on the other instance
	// is logged out too.
	ada2 := newBrowser(t, two.URL)
	ada2.call("POST", "/api/login", map[string]string{"name": "ada"}, nil)
	var out struct {
		Ended int64 `json:"ended"`
	}
	if code := ada.call("POST", "/api/logout-all", nil, &out); code != 200 || out.Ended != 2 {
		t.Fatalf("logout-all: %d %+v", code, out)
	}
	ada2.call("GET", "/api/me", nil, &me)
	if me.User != "" {
		t.Errorf("the other session is still logged in as %q", me.User)
	}
}

// TestMenuEditReachesOtherInstance: a price changed on one instance is
// served by the other at once, and the other's browsers are told.
func TestMenuEditReachesOtherInstance(t *testing.T) {
	fastKitchen(t, 0)
	srv := redistest.Start(t, nil)
	one := testShop(t, srv.URL(), "pizzeria-1")
	two := testShop(t, srv.URL(), "pizzeria-2")
	a, b := newBrowser(t, one.URL), newBrowser(t, two.URL)

	var item menuItem
	if code := b.call("GET", "/api/menu/funghi", nil, &item); code != 200 || item.Price != 1050 {
		t.Fatalf("funghi: %d %+v", code, item) // now in instance two's near cache
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	live := b.events(ctx)
	waitFor(t, "the event stream", 5*time.Second, func() bool { return len(live) > 0 }) // hello

	item.Price = 1099
	if code := a.call("PUT", "/api/menu/funghi", item, nil); code != 200 {
		t.Fatalf("edit: %d", code)
	}
	waitFor(t, "instance two to serve the new price", 5*time.Second, func() bool {
		var got menuItem
		b.call("GET", "/api/menu/funghi", nil, &got)
		return got.Price == 1099
	})
	waitFor(t, "instance two's browser to hear of the change", 5*time.Second, func() bool {
		for {
			select {
			case ev := <-live:
				if ev[0] == "change" && strings.Contains(ev[1], `"source":"pizzeria-1"`) {
					return true
				}
			default:
				return false
			}
		}
	})
}

// TestBurntPizzaGoesDeadAndIsRequeued: an order whose every attempt burns
// ends in the dead letters and can be requeued from the page.
func TestBurntPizzaGoesDeadAndIsRequeued(t *testing.T) {
	fastKitchen(t, 1) // every attempt burns
	srv := redistest.Start(t, nil)
	one := testShop(t, srv.URL(), "pizzeria-1")
	a := newBrowser(t, one.URL)
	a.call("POST", "/api/login", map[string]string{"name": "carla"}, nil)
	a.call("PUT", "/api/cart", map[string]any{"pizza": "marinara", "qty": 1}, nil)
	var placed order
	if code := a.call("POST", "/api/orders", nil, &placed); code != http.StatusCreated {
		t.Fatalf("order: %d", code)
	}
	type deadJob struct {
		ID       string `json:"id"`
		OrderID  int64  `json:"order_id"`
		Attempts int    `json:"attempts"`
		Error    string `json:"error"`
	}
	var k struct {
		Dead []deadJob `json:"dead"`
	}
	waitFor(t, "the order to go dead", 30*time.Second, func() bool {
		a.call("GET", "/api/kitchen", nil, &k)
		return len(k.Dead) == 1
	})
	if d := k.Dead[0]; d.OrderID != placed.ID || d.Attempts != kitchenAttempts || !strings.Contains(d.Error, "burnt") {
		t.Fatalf("dead = %+v", d)
	}
	kitchenBurnRate = 0
	if code := a.call("POST", "/api/kitchen/dead/"+k.Dead[0].ID+"/requeue", nil, nil); code != 200 {
		t.Fatalf("requeue: %d", code)
	}
	waitFor(t, "the requeued order to get ready", 30*time.Second, func() bool {
		var b struct {
			Orders []order `json:"orders"`
		}
		a.call("GET", "/api/board", nil, &b)
		return len(b.Orders) == 1 && b.Orders[0].Status == statusReady
	})
	if code := a.call("POST", "/api/kitchen/dead/nope/requeue", nil, nil); code != http.StatusNotFound {
		t.Errorf("requeue unknown: %d, want 404", code)
	}
}

// TestLoginIsRateLimited: logins from one address past the limits are
// refused with 429, Retry-After and the RateLimit headers.
func TestLoginIsRateLimited(t *testing.T) {
	fastKitchen(t, 0)
	srv := redistest.Start(t, nil)
	one := testShop(t, srv.URL(), "pizzeria-1")
	ok, refused := 0, 0
	for range 10 {
		res, err := http.Post(one.URL+"/api/login", "application/json", strings.NewReader(`{"name":"eve"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		switch res.StatusCode {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			refused++
			if res.Header.Get("Retry-After") == "" || res.Header.Get("RateLimit-Limit") == "" {
				t.Errorf("429 headers: %v", res.Header)
			}
		default:
			t.Fatalf("login: %d", res.StatusCode)
		}
	}
	// 2 a second at once, 5 a minute: however slow the machine, at most
	// 5 of 10 get through.
	if ok < 2 || ok > 5 || refused != 10-ok {
		t.Errorf("%d logins allowed, %d refused; want 2..5 allowed", ok, refused)
	}
}

// TestPageAndMetrics: the page is served, and /metrics shows redkit's
// instruments.
func TestPageAndMetrics(t *testing.T) {
	fastKitchen(t, 0)
	srv := redistest.Start(t, nil)
	one := testShop(t, srv.URL(), "pizzeria-1")
	for path, want := range map[string]string{
		"/":          "Mario's Pizzeria",
		"/app.js":    "EventSource",
		"/metrics":   "redkit",
		"/healthz":   "healthy",
		"/style.css": "--red",
	} {
		res, err := http.Get(one.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, want %q in %.200q", path, res.StatusCode, want, body)
		}
	}
}
