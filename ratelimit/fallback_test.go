package ratelimit_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/ratelimit"
	"github.com/redkit-go/redkit/redistest"
)

// logs records messages at Info and above.
type logs struct {
	mu   sync.Mutex
	msgs []string
}

func (h *logs) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h *logs) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}
func (h *logs) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logs) WithGroup(string) slog.Handler      { return h }

// count returns how many messages contain s.
func (h *logs) count(s string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.msgs {
		if strings.Contains(m, s) {
			n++
		}
	}
	return n
}

// With Redis killed the local fallback still limits, with nil errors,
// counted and logged once; after a restart Redis decides again.
func TestFallbackLocal(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := testutil.OpenKit(t, "rl:", srv.Addr())
	log := &logs{}
	l := newLimiter(t, k, "fb", &ratelimit.Options{Logger: slog.New(log)})
	ctx := t.Context()
	lim := ratelimit.Limit{Rate: 5, Period: time.Hour}
	allow(t, l, "warm", lim)

	srv.Kill()
	var allowed int
	for i := range 20 {
		r, err := l.Allow(ctx, "k", lim)
		if err != nil {
			t.Fatalf("call %d with Redis down: %v; want the fallback's decision", i, err)
		}
		if !r.Fallback {
			t.Fatalf("call %d with Redis down: %+v; want Fallback", i, r)
		}
		if r.Allowed {
			allowed++
		}
	}
	if allowed != 5 {
		t.Errorf("the local fallback allowed %d of 20; want the burst, 5", allowed)
	}
	// AllowAll and Peek fall back too; a refusal spends none locally.
	tiny := ratelimit.Limit{Rate: 1, Period: time.Hour}
	if r, err := l.AllowAll(ctx, "k2", tiny, lim); err != nil || !r.Allowed || !r.Fallback {
		t.Fatalf("AllowAll with Redis down: %+v, %v", r, err)
	}
	if r, err := l.AllowAll(ctx, "k2", tiny, lim); err != nil || r.Allowed || r.Limit != tiny {
		t.Fatalf("second AllowAll with Redis down: %+v, %v; want refused by %v", r, err, tiny)
	}
	if r, err := l.Peek(ctx, "k2", lim); err != nil || r.Remaining != 4 || !r.Fallback {
		t.Fatalf("Peek with Redis down: %+v, %v; want 4 remaining", r, err)
	}
	// Bad input is still an error.
	if _, err := l.Allow(ctx, "", lim); err == nil {
		t.Error("empty key with Redis down: nil error")
	}
	s := l.Stats()
	if s.Fallback != 22 || !s.Outage || s.Allowed != 1+5+1 || s.Refused != 15+1 {
		t.Errorf("Stats %+v; want 22 fallbacks, 7 allowed, 16 refused, Outage", s)
	}
	if n := log.count("redis unavailable"); n != 1 {
		t.Errorf("outage logged %d times; want once (%q)", n, log.msgs)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "Redis to decide again", func() bool {
		r, err := l.Allow(ctx, "after", lim)
		return err == nil && !r.Fallback
	})
	if s := l.Stats(); s.Outage {
		t.Errorf("Stats %+v: Outage after recovery", s)
	}
	if got := do(t, srv, "EXISTS", "rl:ratelimit:fb:{after}"); got != "1" {
		t.Errorf("the key is not in Redis after recovery")
	}
	if n := log.count("redis is back"); n != 1 {
		t.Errorf("recovery logged %d times; want once (%q)", n, log.msgs)
	}
	if n := log.count("redis unavailable"); n != 1 {
		t.Errorf("outage logged %d times; want once (%q)", n, log.msgs)
	}
}

// deadKit returns a Kit whose Redis is gone.
func deadKit(t *testing.T) *redkit.Kit {
	srv := redistest.Start(t, nil)
	addr := srv.Addr()
	srv.Kill()
	return testutil.OpenKit(t, "rl:", addr)
}

func TestFallbackAllowDeny(t *testing.T) {
	k := deadKit(t)
	ctx := t.Context()
	lim := ratelimit.Limit{Rate: 2, Period: time.Hour}
	open := newLimiter(t, k, "open", &ratelimit.Options{Fallback: ratelimit.FallbackAllow})
	closed := newLimiter(t, k, "closed", &ratelimit.Options{Fallback: ratelimit.FallbackDeny})
	for i := range 5 {
		r, err := open.Allow(ctx, "k", lim)
		if err != nil || !r.Allowed || !r.Fallback {
			t.Fatalf("FallbackAllow call %d: %+v, %v; want allowed", i, r, err)
		}
		r, err = closed.Allow(ctx, "k", lim)
		if err != nil || r.Allowed || !r.Fallback || r.RetryAfter <= 0 {
			t.Fatalf("FallbackDeny call %d: %+v, %v; want refused with a RetryAfter", i, r, err)
		}
	}
	if s := open.Stats(); s.Fallback != 5 || s.Allowed != 5 {
		t.Errorf("FallbackAllow Stats %+v", s)
	}
	if s := closed.Stats(); s.Fallback != 5 || s.Refused != 5 {
		t.Errorf("FallbackDeny Stats %+v", s)
	}
	// A caller whose ctx ended gets its error, not a decision.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := open.Allow(cctx, "k", lim); err == nil {
		t.Error("Allow with a cancelled ctx: nil error")
	}
	// Reset has no fallback.
	if err := open.Reset(ctx, "k"); err == nil {
		t.Error("Reset with Redis down: nil error")
	}
}

// A Redis that stops answering: with Options.Timeout the fallback decides
// within it, and Redis decides again once it answers.
func TestFallbackOnTimeout(t *testing.T) {
	srv := redistest.Start(t, nil)
	proxy := redistest.NewProxy(t, srv.Addr())
	k := testutil.OpenKit(t, "rl:", proxy.Addr())
	l := newLimiter(t, k, "slow", &ratelimit.Options{Timeout: 200 * time.Millisecond})
	lim := ratelimit.Limit{Rate: 2, Period: time.Hour}
	allow(t, l, "warm", lim) // loads the script
	proxy.Blackhole(true)
	var allowed int
	for i := range 4 {
		start := time.Now()
		r, err := l.Allow(t.Context(), "k", lim)
		if err != nil || !r.Fallback {
			t.Fatalf("call %d with Redis silent: %+v, %v; want the fallback's decision", i, r, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("call %d took %v; want about Options.Timeout", i, d)
		}
		if r.Allowed {
			allowed++
		}
	}
	if allowed != 2 {
		t.Errorf("the local fallback allowed %d of 4; want 2", allowed)
	}
	proxy.Blackhole(false)
	proxy.ResetAll() // the silent connections are out of step
	waitUntil(t, "Redis to decide again", func() bool {
		r, err := l.Allow(t.Context(), "after", lim)
		return err == nil && !r.Fallback
	})
}
