package engine

import (
	"sync"
	"sync/atomic"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit/internal/telemetry"
)

// Hooks is what redkit's packages need from the engine besides calls:
// telemetry, the near-cache invalidation fan-out and the cache lookup
// counts that Kit.Stats sums. A package gets it with HooksOf(kit.Client()).
type Hooks struct {
	// Tel is the Kit's logger, meter and tracer.
	Tel *telemetry.T

	// Hits and Misses are cache lookups, summed over every cache on the
	// Kit, for Kit.Stats.
	Hits, Misses atomic.Int64

	mu        sync.Mutex
	nextID    uint64
	listeners atomic.Pointer[[]listener]
}

type listener struct {
	id uint64
	fn func(keys []string)
}

// OnInvalidate registers fn to be called with the keys Redis invalidated
// (client tracking), or with nil when everything must be flushed (FLUSHALL,
// or the tracking connection dropped). fn must be fast and must not block:
// it runs on the engine's connection goroutine. The returned func removes
// the registration.
func (s *Hooks) OnInvalidate(fn func(keys []string)) (remove func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	id := s.nextID
	var cur []listener
	if p := s.listeners.Load(); p != nil {
		cur = *p
	}
	next := append(append(make([]listener, 0, len(cur)+1), cur...), listener{id, fn})
	s.listeners.Store(&next)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		cur := *s.listeners.Load()
		next := make([]listener, 0, len(cur))
		for _, l := range cur {
			if l.id != id {
				next = append(next, l)
			}
		}
		s.listeners.Store(&next)
	}
}

// invalidate is the engine's OnInvalidations callback.
func (s *Hooks) invalidate(msgs []rueidis.RedisMessage) {
	p := s.listeners.Load()
	if p == nil || len(*p) == 0 {
		return
	}
	var keys []string
	if msgs != nil {
		keys = make([]string, 0, len(msgs))
		for _, m := range msgs {
			if k, err := m.ToString(); err == nil {
				keys = append(keys, k)
			}
		}
	}
	for _, l := range *p {
		l.fn(keys)
	}
}

// FlushAll tells every listener to drop everything (nil keys).
func (s *Hooks) FlushAll() { s.invalidate(nil) }

// Of returns the engine behind c, a Kit's Client: the way redkit's
// packages reach the engine (its Hooks, its health watches) without
// widening the Kit's API. It panics when c is not a Kit's Client, which
// only a bug in redkit can do.
func Of(c rueidis.Client) *Engine { return c.(*Client).e }

// HooksOf returns the Hooks of the engine behind c, a Kit's Client.
func HooksOf(c rueidis.Client) *Hooks { return Of(c).hooks }
