package main

// The Redis panel: GET /api/redis is what the page's live panel shows,
// read from the building blocks' own counters (no extra bookkeeping):
// the Kit's commands and breaker, the menu caches' near and remote hits,
// the inventory lock and its fence, the kitchen queue, the order stream's
// lag, rate-limit refusals, sessions and the schedule.

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/redkit-go/redkit"
)

type panel struct {
	refused atomic.Int64 // requests answered 429 by a rate limit
}

func (s *shop) setupPanel(context.Context, context.Context) error {
	s.mux.HandleFunc("GET /api/redis", s.redisPanel)
	return nil
}

// countRefusals counts the 429s of a rate-limited handler.
func (p *panel) countRefusals(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &codeWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		if cw.code == http.StatusTooManyRequests {
			p.refused.Add(1)
		}
	})
}

type codeWriter struct {
	http.ResponseWriter
	code int
}

func (w *codeWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *codeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// GET /api/redis → the panel's numbers; a part that cannot be read (Redis
// is down) is left out, so the page still shows the breaker.
func (s *shop) redisPanel(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	ks := s.kit.Stats()
	hs := s.health.Status()
	list, items := s.menu.list.Stats(), s.menu.items.Stats()
	out := map[string]any{
		"instance": s.name,
		"time":     time.Now().UTC(),
		"kit": map[string]any{
			"ops": ks.Ops, "errors": ks.Errors, "breaker": ks.Breaker, "breaker_opens": ks.BreakerOpens,
			"connected": ks.Connected, "mode": ks.Mode, "healthy": hs.Healthy, "latency_us": hs.Latency.Microseconds(),
		},
		"cache": map[string]any{
			"near_hits":   list.NearHits + items.NearHits,
			"remote_hits": list.RemoteHits + items.RemoteHits,
			"misses":      list.Misses + items.Misses,
			"stale":       list.StaleServed + items.StaleServed,
			"loads":       list.Loads + items.Loads,
		},
		"lock": map[string]any{
			"name":       inventoryLock,
			"held_here":  s.orders.holding.Load(),
			"last_fence": s.orders.lastFence.Load(),
		},
		"limits":   map[string]any{"refused": s.panel.refused.Load()},
		"browsers": s.live.hub.clientsCount(),
	}
	if ttl, held, err := s.lockTTL(ctx); err == nil {
		out["lock"].(map[string]any)["held"] = held
		out["lock"].(map[string]any)["ttl_ms"] = ttl.Milliseconds()
	}
	if st, err := s.kitchen.q.Stats(ctx); err == nil {
		out["queue"] = st
	}
	if info, err := s.orders.events.Info(ctx, "kitchen"); err == nil {
		out["stream"] = info
	}
	if d, err := s.daily.status(ctx); err == nil {
		out["schedule"] = d
	}
	writeJSON(w, http.StatusOK, out)
}

// lockTTL reads whether the inventory lock is held in Redis (by any
// instance) and its remaining lease.
func (s *shop) lockTTL(ctx context.Context) (time.Duration, bool, error) {
	key := s.kit.Key("lock", redkit.HashTag(inventoryLock))
	v, err := s.kit.Do(ctx, s.kit.B().Pttl().Key(key).Build())
	if err != nil {
		return 0, false, err
	}
	ms, err := v.AsInt64()
	if err != nil || ms < 0 {
		return 0, false, err
	}
	return time.Duration(ms) * time.Millisecond, true, nil
}
