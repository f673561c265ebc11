package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/ratelimit"
	"github.com/redkit-go/redkit/redistest"
)

// connect starts a redis-server for the example; use your own URL in
// production.
func connect() (*redkit.Kit, func(), error) {
	srv, err := redistest.Launch(nil)
	if err != nil {
		return nil, nil, err
	}
	kit, err := redkit.Open(context.Background(), redkit.Config{URL: srv.URL(), KeyPrefix: "shop:"})
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	return kit, func() { kit.Close(); srv.Close() }, nil
}

func Example() {
	kit, done, err := connect()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	logins := ratelimit.New(kit, "login", nil)
	defer logins.Close()
	ctx := context.Background()

	// 3 attempts at once, then one every 20 minutes.
	limit := ratelimit.PerHour(3)
	for range 4 {
		res, err := logins.Allow(ctx, "alice@example.com", limit)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(res.Allowed, res.Remaining, res.RetryAfter.Round(time.Minute))
	}
	// Output:
	// true 2 0s
	// true 1 0s
	// true 0 0s
	// false 0 20m0s
}

func ExampleLimiter_AllowAll() {
	kit, done, err := connect()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	api := ratelimit.New(kit, "api", nil)
	defer api.Close()
	ctx := context.Background()

	// 2 per second and 3 per hour, checked and spent together: the
	// refused calls spend nothing from the hourly limit.
	perSecond, perHour := ratelimit.PerSecond(2), ratelimit.PerHour(3)
	for range 3 {
		res, _ := api.AllowAll(ctx, "key-123", perSecond, perHour)
		fmt.Println(res.Allowed, res.Limit)
	}
	res, _ := api.Peek(ctx, "key-123", perHour)
	fmt.Println("left this hour:", res.Remaining)
	// Output:
	// true 2/1s (burst 2)
	// true 2/1s (burst 2)
	// false 2/1s (burst 2)
	// left this hour: 1
}

func ExampleLimiter_AllowN() {
	kit, done, err := connect()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	uploads := ratelimit.New(kit, "upload-mb", nil)
	defer uploads.Close()
	ctx := context.Background()

	limit := ratelimit.Limit{Rate: 100, Period: time.Minute} // 100 MB a minute
	res, _ := uploads.AllowN(ctx, "tenant-7", limit, 80)
	fmt.Println(res.Allowed, res.Remaining)
	res, _ = uploads.AllowN(ctx, "tenant-7", limit, 30)
	fmt.Println(res.Allowed, res.Remaining, res.RetryAfter.Round(time.Second))
	// Output:
	// true 20
	// false 20 6s
}

func ExampleLimiter_Reset() {
	kit, done, err := connect()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	logins := ratelimit.New(kit, "login", nil)
	defer logins.Close()
	ctx := context.Background()

	limit := ratelimit.PerHour(1)
	logins.Allow(ctx, "bob", limit)
	res, _ := logins.Allow(ctx, "bob", limit)
	fmt.Println(res.Allowed)
	// Bob reset his password: let him try again.
	if err := logins.Reset(ctx, "bob"); err != nil {
		fmt.Println(err)
	}
	res, _ = logins.Allow(ctx, "bob", limit)
	fmt.Println(res.Allowed)
	// Output:
	// false
	// true
}

func ExampleLimiter_Middleware() {
	kit, done, err := connect()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	l := ratelimit.New(kit, "http", nil)
	defer l.Close()

	// Limit per API key; requests without one bypass the limiter.
	limit := l.Middleware(func(r *http.Request) string { return r.Header.Get("X-Api-Key") },
		ratelimit.PerMinute(2))
	h := limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))

	for range 3 {
		req := httptest.NewRequest("GET", "/orders", nil)
		req.Header.Set("X-Api-Key", "k1")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		fmt.Printf("%d remaining=%s retry-after=%q\n", w.Code, w.Header().Get("RateLimit-Remaining"), w.Header().Get("Retry-After"))
	}
	// Output:
	// 200 remaining=1 retry-after=""
	// 200 remaining=0 retry-after=""
	// 429 remaining=0 retry-after="30"
}
