// Package kitx is the plumbing shared between the root redkit package and
// the packages built on a Kit (cache, lock, ...): telemetry, the near-cache
// invalidation fan-out and cache hit counters. It is internal so that the
// public Kit API stays what users need.
package kitx

import (
	"sync"
	"sync/atomic"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit/internal/telemetry"
)

// State is the per-Kit shared state.
type State struct {
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

// Of returns the State of a *redkit.Kit. The root package sets it at init;
// it is a variable, not an import, because the root package imports kitx.
var Of func(kit any) *State

// OnInvalidate registers fn to be called with the keys Redis invalidated
// (client tracking), or with nil when everything must be flushed (FLUSHALL,
// or the tracking connection dropped). fn must be fast and must not block:
// it runs on the engine's connection goroutine. The returned func removes
// the registration.
func (s *State) OnInvalidate(fn func(keys []string)) (remove func()) {
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

// Invalidate is the engine's OnInvalidations callback.
func (s *State) Invalidate(msgs []rueidis.RedisMessage) {
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
func (s *State) FlushAll() { s.Invalidate(nil) }
