package ratelimit_test

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/ratelimit"
	"github.com/redkit-go/redkit/redistest"
)

// slow is a limit whose refill never matters within a test.
var slow = ratelimit.Limit{Rate: 3, Period: time.Hour}

func TestAllowBurstThenRefuse(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := testutil.OpenKit(t, "rl:", srv.Addr())
	l := newLimiter(t, k, "login", nil)
	for i := range 3 {
		r := allow(t, l, "alice", slow)
		if !r.Allowed || r.Remaining != 2-i {
			t.Fatalf("call %d: %+v; want allowed with %d remaining", i, r, 2-i)
		}
		if r.Limit != slow {
			t.Errorf("call %d: Limit %v; want %v", i, r.Limit, slow)
		}
	}
	r := allow(t, l, "alice", slow)
	if r.Allowed || r.Remaining != 0 {
		t.Fatalf("4th call: %+v; want refused, 0 remaining", r)
	}
	// The next event is one interval (20 min) after the first.
	if r.RetryAfter <= 19*time.Minute || r.RetryAfter > 20*time.Minute {
		t.Errorf("RetryAfter %v; want just under 20m", r.RetryAfter)
	}
	if r.ResetAfter <= 59*time.Minute || r.ResetAfter > time.Hour {
		t.Errorf("ResetAfter %v; want just under 1h", r.ResetAfter)
	}
	// Another key is not affected.
	if r := allow(t, l, "bob", slow); !r.Allowed || r.Remaining != 2 {
		t.Errorf("bob: %+v; want allowed, 2 remaining", r)
	}
	// One key in Redis per limited key: a string with a record per limit
	// (interval, tolerance, TAT: little-endian doubles of µs), expiring
	// at the reset.
	key := "rl:ratelimit:login:{alice}"
	v := do(t, srv, "GET", key)
	if len(v) != 24 {
		t.Fatalf("GET %s = %q; want one record of 24 bytes", key, v)
	}
	f := func(i int) float64 { return math.Float64frombits(binary.LittleEndian.Uint64([]byte(v[8*i:]))) }
	// Times are whole microseconds, exactly.
	if iv, tol, tat := f(0), f(1), f(2); iv != 1200000000 || tol != 3600000000 || tat < 1e15 || tat != math.Trunc(tat) {
		t.Errorf("record %v, %v, %v; want 1200000000, 3600000000, µs since the epoch", iv, tol, tat)
	}
	ttl, _ := strconv.Atoi(do(t, srv, "PTTL", key))
	// (PTTL is read after ResetAfter: up to 1s later on a loaded machine.)
	if ttl < int(r.ResetAfter.Milliseconds())-1000 || ttl > int(time.Hour.Milliseconds())+2 {
		t.Errorf("PTTL %s = %d ms; want between ResetAfter (%v) - 1s and 1h + 2ms", key, ttl, r.ResetAfter)
	}
	if s := l.Stats(); s.Allowed != 4 || s.Refused != 1 || s.Fallback != 0 {
		t.Errorf("Stats %+v; want 4 allowed, 1 refused", s)
	}
}

func TestAllowNAndRefill(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := testutil.OpenKit(t, "rl:", srv.Addr())
	l := newLimiter(t, k, "n", nil)
	ctx := t.Context()
	lim := ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 5} // one per 100ms
	r, err := l.AllowN(ctx, "k", lim, 5)
	if err != nil || !r.Allowed || r.Remaining != 0 {
		t.Fatalf("AllowN(5) = %+v, %v; want allowed, 0 remaining", r, err)
	}
	r, err = l.AllowN(ctx, "k", lim, 2)
	if err != nil || r.Allowed {
		t.Fatalf("AllowN(2) on an empty burst = %+v, %v; want refused", r, err)
	}
	if r.RetryAfter <= 100*time.Millisecond || r.RetryAfter > 200*time.Millisecond {
		t.Errorf("RetryAfter for 2 = %v; want in (100ms, 200ms]", r.RetryAfter)
	}
	time.Sleep(r.RetryAfter)
	if r, err := l.AllowN(ctx, "k", lim, 2); err != nil || !r.Allowed {
		t.Fatalf("AllowN(2) after RetryAfter = %+v, %v; want allowed", r, err)
	}
}

func TestAllowAllRefusesWithoutSpending(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := testutil.OpenKit(t, "rl:", srv.Addr())
	testAllowAll(t, newLimiter(t, k, "api", nil), func(key string) string {
		return do(t, srv, "GET", "rl:ratelimit:api:"+redkit.HashTag(key))
	})
}

func testAllowAll(t *testing.T, l *ratelimit.Limiter, dump func(key string) string) {
	ctx := t.Context()
	perSec := ratelimit.Limit{Rate: 5, Period: time.Hour}          // the short limit
	perHour := ratelimit.Limit{Rate: 100, Period: 100 * time.Hour} // the long one
	for i := range 5 {
		r, err := l.AllowAll(ctx, "u1", perSec, perHour)
		if err != nil || !r.Allowed || r.Remaining != 4-i || r.Limit != perSec {
			t.Fatalf("call %d: %+v, %v; want allowed, %d remaining under %v", i, r, err, 4-i, perSec)
		}
	}
	before := dump("u1")
	for range 3 {
		r, err := l.AllowAll(ctx, "u1", perSec, perHour)
		if err != nil || r.Allowed {
			t.Fatalf("6th call: %+v, %v; want refused", r, err)
		}
	}
	if after := dump("u1"); after != before {
		t.Errorf("refusals changed the state:\nbefore %s\nafter  %s", before, after)
	}
	// The long limit was spent by the 5 allowed calls only.
	r, err := l.Peek(ctx, "u1", perHour)
	if err != nil || r.Remaining != 95 || !r.Allowed {
		t.Errorf("Peek(perHour) = %+v, %v; want 95 remaining", r, err)
	}
	// A refusal by the long limit spends nothing from the short one.
	tiny := ratelimit.Limit{Rate: 1, Period: time.Hour}
	if r, err := l.AllowAll(ctx, "u2", tiny); err != nil || !r.Allowed {
		t.Fatalf("u2 first: %+v, %v", r, err)
	}
	if r, err := l.AllowAll(ctx, "u2", perSec, tiny); err != nil || r.Allowed || r.Limit != tiny {
		t.Fatalf("u2 second: %+v, %v; want refused by %v", r, err, tiny)
	}
	if r, err := l.Peek(ctx, "u2", perSec); err != nil || r.Remaining != 5 {
		t.Errorf("u2 short limit after a refusal: %+v, %v; want 5 remaining (nothing spent)", r, err)
	}
}

func TestPeekAndReset(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := testutil.OpenKit(t, "rl:", srv.Addr())
	l := newLimiter(t, k, "p", nil)
	ctx := t.Context()
	r, err := l.Peek(ctx, "new", slow)
	if err != nil || !r.Allowed || r.Remaining != 3 || r.ResetAfter != 0 {
		t.Fatalf("Peek of a new key = %+v, %v; want allowed, 3 remaining, reset 0", r, err)
	}
	if got := do(t, srv, "EXISTS", "rl:ratelimit:p:{new}"); got != "0" {
		t.Fatalf("Peek wrote the key")
	}
	for range 3 {
		allow(t, l, "k", slow)
	}
	r, err = l.Peek(ctx, "k", slow)
	if err != nil || r.Allowed || r.Remaining != 0 || r.RetryAfter <= 0 {
		t.Fatalf("Peek of a spent key = %+v, %v; want refused, 0 remaining, a RetryAfter", r, err)
	}
	if s := l.Stats(); s.Allowed != 3 || s.Refused != 0 {
		t.Errorf("Stats %+v: Peek must not count", s)
	}
	if err := l.Reset(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if got := do(t, srv, "EXISTS", "rl:ratelimit:p:{k}"); got != "0" {
		t.Errorf("key still there after Reset")
	}
	if r := allow(t, l, "k", slow); !r.Allowed || r.Remaining != 2 {
		t.Errorf("after Reset: %+v; want a full burst", r)
	}
	if err := l.Reset(ctx, ""); !errors.Is(err, ratelimit.ErrInvalid) || !errors.Is(err, redkit.ErrEmptyKey) {
		t.Errorf("Reset(\"\") = %v; want ErrInvalid and ErrEmptyKey", err)
	}
}

func TestBadInput(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := testutil.OpenKit(t, "rl:", srv.Addr())
	l := newLimiter(t, k, "bad", nil)
	ctx := t.Context()
	ok := ratelimit.PerSecond(5)
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"zero rate", func() error { _, err := l.Allow(ctx, "k", ratelimit.Limit{Period: time.Second}); return err }, "Limit.Rate must be positive (got 0)"},
		{"negative rate", func() error { _, err := l.Allow(ctx, "k", ratelimit.PerSecond(-1)); return err }, "Limit.Rate must be positive (got -1)"},
		{"zero period", func() error { _, err := l.Allow(ctx, "k", ratelimit.Limit{Rate: 1}); return err }, "Limit.Period must be positive (got 0s)"},
		{"negative period", func() error { _, err := l.Allow(ctx, "k", ratelimit.Limit{Rate: 1, Period: -time.Second}); return err }, "Limit.Period must be positive (got -1s)"},
		{"negative burst", func() error {
			_, err := l.Allow(ctx, "k", ratelimit.Limit{Rate: 1, Period: time.Second, Burst: -2})
			return err
		}, "Limit.Burst must not be negative (got -2)"},
		{"rate too high", func() error {
			_, err := l.Allow(ctx, "k", ratelimit.Limit{Rate: 2000, Period: time.Millisecond})
			return err
		}, "Limit.Rate 2000 per 1ms is too high"},
		{"n above burst", func() error { _, err := l.AllowN(ctx, "k", ok, 6); return err }, "n 6 is above the burst of 5/1s (burst 5)"},
		{"n zero", func() error { _, err := l.AllowN(ctx, "k", ok, 0); return err }, "n must be at least 1 (got 0)"},
		{"empty key", func() error { _, err := l.Allow(ctx, "", ok); return err }, "key must not be empty"},
		{"no limits", func() error { _, err := l.AllowAll(ctx, "k"); return err }, "no limits given"},
		{"one bad of several", func() error { _, err := l.AllowAll(ctx, "k", ok, ratelimit.PerMinute(0)); return err }, "Limit.Rate must be positive (got 0)"},
		{"peek bad", func() error { _, err := l.Peek(ctx, "k", ratelimit.PerHour(0)); return err }, "Limit.Rate must be positive"},
	} {
		err := tc.call()
		if !errors.Is(err, ratelimit.ErrInvalid) {
			t.Errorf("%s: %v; want ErrInvalid", tc.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %q; want it to contain %q", tc.name, err, tc.want)
		}
	}
	if n := do(t, srv, "DBSIZE"); n != "0" {
		t.Errorf("bad input wrote %s keys", n)
	}
	if s := l.Stats(); s != (ratelimit.Stats{}) {
		t.Errorf("bad input counted: %+v", s)
	}
}

func TestLimitValidate(t *testing.T) {
	for _, lim := range []ratelimit.Limit{ratelimit.PerSecond(1), ratelimit.PerMinute(100), ratelimit.PerHour(1e6),
		{Rate: 1, Period: time.Microsecond}, {Rate: 5, Period: time.Second, Burst: 1}} {
		if err := lim.Validate(); err != nil {
			t.Errorf("%v.Validate() = %v; want nil", lim, err)
		}
	}
	if err := (ratelimit.Limit{Rate: 1, Period: time.Hour, Burst: 1 << 40}).Validate(); err == nil {
		t.Errorf("a century-long burst validated")
	}
}

// The key outlives every limit in it: a short limit spent after a long
// one does not shorten the key's life.
func TestExpiryCoversEveryLimit(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := testutil.OpenKit(t, "rl:", srv.Addr())
	l := newLimiter(t, k, "mix", nil)
	long := allow(t, l, "k", ratelimit.PerHour(2))
	for range 5 {
		allow(t, l, "k", ratelimit.PerSecond(10))
	}
	ttl, _ := strconv.Atoi(do(t, srv, "PTTL", "rl:ratelimit:mix:{k}"))
	if ttl < int(long.ResetAfter.Milliseconds())-1000 {
		t.Errorf("PTTL %d ms after short-limit calls; want at least the long limit's reset %v", ttl, long.ResetAfter)
	}
	if r, err := l.Peek(t.Context(), "k", ratelimit.PerHour(2)); err != nil || r.Remaining != 1 {
		t.Errorf("long limit after short-limit calls: %+v, %v; want 1 remaining", r, err)
	}
}

// A key in the layout of earlier versions (a hash) reads as reset; any
// other type, or a string that is no limiter state, is an error.
func TestOldLayoutAndForeignValues(t *testing.T) {
	srv := redistest.Start(t, nil)
	l := newLimiter(t, testutil.OpenKit(t, "rl:", srv.Addr()), "old", nil)
	do(t, srv, "HSET", "rl:ratelimit:old:{k}", "1200000000:3600000000", "9999999999999999", "e", "9999999999999999")
	if r := allow(t, l, "k", slow); !r.Allowed || r.Remaining != 2 {
		t.Errorf("on an old hash: %+v; want allowed, 2 remaining (read as reset)", r)
	}
	if got := do(t, srv, "TYPE", "rl:ratelimit:old:{k}"); got != "string" {
		t.Errorf("TYPE after a call on an old hash = %s; want string", got)
	}
	do(t, srv, "RPUSH", "rl:ratelimit:old:{list}", "x")
	do(t, srv, "SET", "rl:ratelimit:old:{str}", "x")
	for _, key := range []string{"list", "str"} {
		if _, err := l.Allow(t.Context(), key, slow); !errors.Is(err, redkit.ErrWrongType) {
			t.Errorf("Allow on a foreign %s: %v; want ErrWrongType", key, err)
		}
	}
}
