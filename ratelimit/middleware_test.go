package ratelimit_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/ratelimit"
	"github.com/redkit-go/redkit/redistest"
)

func TestMiddleware(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := testutil.OpenKit(t, "rl:", srv.Addr())
	l := newLimiter(t, k, "http", nil)
	served := 0
	h := l.Middleware(func(r *http.Request) string { return r.Header.Get("X-User") },
		ratelimit.Limit{Rate: 2, Period: time.Hour}, ratelimit.PerHour(100),
	)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served++ }))
	get := func(user string) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(t.Context(), "GET", "/", nil)
		if user != "" {
			req.Header.Set("X-User", user)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	for i, want := range []struct {
		code      int
		remaining string
	}{{200, "1"}, {200, "0"}, {429, "0"}, {429, "0"}} {
		w := get("ann")
		if w.Code != want.code {
			t.Fatalf("request %d: status %d; want %d", i, w.Code, want.code)
		}
		hd := w.Header()
		if got := hd.Get("RateLimit-Limit"); got != "2" {
			t.Errorf("request %d: RateLimit-Limit %q; want 2 (the limit closest to exhaustion)", i, got)
		}
		if got := hd.Get("RateLimit-Remaining"); got != want.remaining {
			t.Errorf("request %d: RateLimit-Remaining %q; want %s", i, got, want.remaining)
		}
		reset, err := strconv.Atoi(hd.Get("RateLimit-Reset"))
		if err != nil || reset < 1799 || reset > 3600 {
			t.Errorf("request %d: RateLimit-Reset %q; want whole seconds up to 1h", i, hd.Get("RateLimit-Reset"))
		}
		ra := hd.Get("Retry-After")
		if want.code == 429 {
			s, err := strconv.Atoi(ra)
			if err != nil || s < 1799 || s > 1800 {
				t.Errorf("request %d: Retry-After %q; want 1800 (30 min, rounded up)", i, ra)
			}
		} else if ra != "" {
			t.Errorf("request %d: Retry-After %q on an allowed request", i, ra)
		}
	}
	if served != 2 {
		t.Errorf("handler served %d requests; want 2", served)
	}
	// A key of "" bypasses: served, no headers.
	w := get("")
	if w.Code != 200 || w.Header().Get("RateLimit-Limit") != "" || served != 3 {
		t.Errorf("bypass: status %d, headers %v, served %d; want 200 without headers", w.Code, w.Header(), served)
	}
	// Retry-After is whole seconds, rounded up: a wait of at most half a
	// second (long enough that the second request always finds the first
	// one's spend) says 1, not 0.
	fast := l.Middleware(func(*http.Request) string { return "f" }, ratelimit.Limit{Rate: 2, Period: time.Second, Burst: 1})(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	var last *httptest.ResponseRecorder
	for range 2 {
		last = httptest.NewRecorder()
		fast.ServeHTTP(last, httptest.NewRequestWithContext(t.Context(), "GET", "/", nil))
	}
	if last.Code != 429 || last.Header().Get("Retry-After") != "1" {
		t.Errorf("a sub-second wait: status %d, Retry-After %q; want 429, 1", last.Code, last.Header().Get("Retry-After"))
	}
	// An error that is no outage (the key holds another type) is a 503.
	do(t, srv, "SET", "rl:ratelimit:http:{bob}", "x")
	if w := get("bob"); w.Code != 503 {
		t.Errorf("WRONGTYPE: status %d; want 503", w.Code)
	}
}

func TestMiddlewarePanicsOnBadLimits(t *testing.T) {
	srv := redistest.Start(t, nil)
	l := newLimiter(t, testutil.OpenKit(t, "rl:", srv.Addr()), "p", nil)
	for name, fn := range map[string]func(){
		"nil key":   func() { l.Middleware(nil, ratelimit.PerSecond(1)) },
		"no limits": func() { l.Middleware(func(*http.Request) string { return "" }) },
		"bad limit": func() { l.Middleware(func(*http.Request) string { return "" }, ratelimit.PerSecond(0)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			fn()
		}()
	}
}
