package ratelimit

import (
	"sync"
	"time"

	"github.com/maypok86/otter/v2"
)

// local is FallbackLocal's state: GCRA per key in process, on the
// monotonic clock, the same arithmetic as gcra.lua. It is built at the
// first fallback, bounded to max keys by otter (the least used go first).
type local struct {
	max  int
	mu   sync.Mutex // guards c's creation and release
	c    *otter.Cache[string, *cell]
	base time.Time
}

// cell is one key's state: a TAT (µs since base) per limit field.
type cell struct {
	mu     sync.Mutex
	fields []string
	tats   []int64
}

func (lc *local) cache() (*otter.Cache[string, *cell], time.Time) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.c == nil {
		lc.c = otter.Must(&otter.Options[string, *cell]{MaximumSize: lc.max})
		lc.base = time.Now()
	}
	return lc.c, lc.base
}

// decide is gcra.lua on the local state of rkey (the key's Redis name).
func (lc *local) decide(rkey string, n int, peek bool, sp []*spec) Result {
	c, base := lc.cache()
	e, ok := c.GetIfPresent(rkey)
	if !ok {
		e, _ = c.SetIfAbsent(rkey, &cell{})
	}
	now := time.Since(base).Microseconds()
	e.mu.Lock()
	defer e.mu.Unlock()
	var tbuf, nbuf [4]int64
	tats, news := tbuf[:0], nbuf[:0]
	allowed := true
	var retry, reset int64
	for _, s := range sp {
		tat := now
		for i, f := range e.fields {
			if f == s.field {
				tat = max(e.tats[i], now)
			}
		}
		next := tat + int64(n)*s.interval
		if over := next - now - s.tol; over > 0 {
			allowed = false
			retry = max(retry, over)
		}
		tats, news = append(tats, tat), append(news, next)
	}
	r := Result{Allowed: allowed, Remaining: -1}
	for i, s := range sp {
		v := tats[i]
		if allowed && !peek {
			v = news[i]
			e.set(s.field, v)
		}
		if rem := int((s.tol - (v - now)) / s.interval); r.Remaining < 0 || rem < r.Remaining {
			r.Remaining, r.Limit = max(rem, 0), s.limit
		}
		reset = max(reset, v-now)
	}
	r.RetryAfter = time.Duration(retry) * time.Microsecond
	r.ResetAfter = time.Duration(reset) * time.Microsecond
	return r
}

func (e *cell) set(field string, tat int64) {
	for i, f := range e.fields {
		if f == field {
			e.tats[i] = tat
			return
		}
	}
	e.fields = append(e.fields, field)
	e.tats = append(e.tats, tat)
}

// forget drops rkey's local state (Reset).
func (lc *local) forget(rkey string) {
	lc.mu.Lock()
	c := lc.c
	lc.mu.Unlock()
	if c != nil {
		c.Invalidate(rkey)
	}
}

// reset drops every key's local state: Redis is back, and the next outage
// starts afresh.
func (lc *local) reset() {
	lc.mu.Lock()
	c := lc.c
	lc.mu.Unlock()
	if c != nil {
		c.InvalidateAll()
	}
}

// close releases the state and otter's goroutines.
func (lc *local) close() {
	lc.mu.Lock()
	c := lc.c
	lc.c = nil
	lc.mu.Unlock()
	if c != nil {
		c.InvalidateAll()
		c.StopAllGoroutines()
	}
}
