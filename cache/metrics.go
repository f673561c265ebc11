package cache

import (
	"context"
	"errors"
	"sync/atomic"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/redkit-go/redkit/internal/engine"
	"github.com/redkit-go/redkit/internal/telemetry"
)

// Stats is a snapshot of a Cache's counters since New.
type Stats struct {
	NearHits     int64 // lookups answered by the near cache
	RemoteHits   int64 // lookups answered by Redis
	Misses       int64 // lookups that found nothing (or a remembered "not found")
	Loads        int64 // loader calls by GetOrSet (including early refreshes)
	LoadErrors   int64 // loader calls that failed (other than redkit.ErrNotFound)
	StaleServed  int64 // last good values served by FailSafe
	DecodeErrors int64 // stored values that did not decode as T
	// SoftTimeouts counts remote reads cut short so that FailSafe could
	// serve a last good value before the caller's deadline.
	SoftTimeouts int64
}

// Stats returns the cache's counters. It does no I/O and is safe for
// concurrent use. Near hits reach the Kit's Stats().Hits in batches (up to
// about a thousand late) and in full whenever Stats is called.
func (c *Cache[T]) Stats() Stats {
	return Stats{
		NearHits:     c.m.nearHits(),
		RemoteHits:   c.m.remoteHits.Load(),
		Misses:       c.m.misses.Load(),
		Loads:        c.m.loads.Load(),
		LoadErrors:   c.m.loadErrors.Load(),
		StaleServed:  c.m.staleServed.Load(),
		DecodeErrors: c.m.decodeErrors.Load(),
		SoftTimeouts: c.m.softTimeouts.Load(),
	}
}

// counters are read by OpenTelemetry at collection time (asynchronous
// instruments), so the hot path pays one atomic add per event.
type counters struct {
	st                                           *engine.Hooks
	near                                         *[nStats]statCell
	remoteHits, misses                           atomic.Int64
	loads, loadErrors, staleServed, decodeErrors atomic.Int64
	softTimeouts                                 atomic.Int64
	reg                                          metric.Registration
}

// nStats cells for near hits, each on its own cache line (the array is
// allocated on its own: 1 KiB objects are 1 KiB-aligned, so no other field
// of the cache shares a line with a cell). A hit adds to the cell of the
// stripeToken its P holds (see hitNear), so each core keeps writing its own
// line. statBatch hits of a cell are passed to the Kit's Hits at once;
// Cache.Stats passes the rest.
const (
	nStats    = 16 // 1 << 4: see hitNear
	statBatch = 64
)

type statCell struct {
	n, sent atomic.Int64
	_       [48]byte
}

// hitNear counts a near hit and returns the count of its cell. It is the
// only counter on the hottest path, where many goroutines hit one key: a
// single atomic there costs more than the lookup, so it is striped, and
// the Kit's total gets near hits in batches.
//
// The stripe comes from the address of the calling goroutine's stack:
// goroutines have stacks of their own (kilobytes apart), so the ones
// running on different cores at a moment write different lines but for
// the odd collision, and a goroutine keeps its cell call after call. It
// costs nothing: the sync.Pool token per P that this replaces (as otter's
// and xsync's striped adders do) took two thirds of a front hit's time in
// BenchmarkNearHit/GetOrSet (pinning the P twice per call), and a random
// cell per call before it had both cores write all 16 lines (the line
// moving between cores made a parallel near hit 2.5x slower).
func (m *counters) hitNear() int64 {
	var here byte
	// Fibonacci hashing of the address: stacks are aligned to powers of
	// two, so its low bits say little.
	h := uint64(uintptr(unsafe.Pointer(&here))) * 0x9E3779B97F4A7C15
	cell := &m.near[h>>(64-4)]
	n := cell.n.Add(1)
	if n&(statBatch-1) == 0 {
		m.flushCell(cell, n)
	}
	return n
}

// flushCell adds a cell's near hits not yet passed on to the Kit's Hits.
func (m *counters) flushCell(cell *statCell, n int64) {
	if sent := cell.sent.Load(); n > sent && cell.sent.CompareAndSwap(sent, n) {
		m.st.Hits.Add(n - sent)
	}
}

// nearHits sums the cells, first passing the remainder to the Kit.
func (m *counters) nearHits() int64 {
	var total int64
	for i := range m.near {
		n := m.near[i].n.Load()
		m.flushCell(&m.near[i], n)
		total += n
	}
	return total
}

func (m *counters) hitRemote() {
	m.remoteHits.Add(1)
	m.st.Hits.Add(1)
}

func (m *counters) miss() {
	m.misses.Add(1)
	m.st.Misses.Add(1)
}

// register creates the cache's instruments; failures only lose metrics
// and are logged.
func (m *counters) register(st *engine.Hooks, name string) {
	m.st = st
	m.near = new([nStats]statCell)
	t := st.Tel
	mt := t.Meter
	hits, e1 := mt.Int64ObservableCounter(t.Name("cache.hits"), metric.WithDescription("Cache lookups answered, by tier (near, remote)"))
	misses, e2 := mt.Int64ObservableCounter(t.Name("cache.misses"), metric.WithDescription("Cache lookups that found nothing"))
	loads, e3 := mt.Int64ObservableCounter(t.Name("cache.loads"), metric.WithDescription("Loader calls"))
	loadErrs, e4 := mt.Int64ObservableCounter(t.Name("cache.load_errors"), metric.WithDescription("Loader calls that failed"))
	stale, e5 := mt.Int64ObservableCounter(t.Name("cache.stale_served"), metric.WithDescription("Stale values served by fail-safe"))
	decode, e6 := mt.Int64ObservableCounter(t.Name("cache.decode_errors"), metric.WithDescription("Stored values that did not decode"))
	soft, e7 := mt.Int64ObservableCounter(t.Name("cache.soft_timeouts"), metric.WithDescription("Remote reads cut short to serve a fail-safe value before the caller's deadline"))
	if err := errors.Join(e1, e2, e3, e4, e5, e6, e7); err != nil {
		t.Logger.Warn("cache: metrics unavailable", telemetry.KeyCache, name, telemetry.KeyError, err)
		return
	}
	cacheAttr := attribute.String(telemetry.KeyCache, name)
	all := metric.WithAttributes(cacheAttr)
	near := metric.WithAttributes(cacheAttr, attribute.String("cache.tier", "near"))
	remote := metric.WithAttributes(cacheAttr, attribute.String("cache.tier", "remote"))
	reg, err := mt.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(hits, m.nearHits(), near)
		o.ObserveInt64(hits, m.remoteHits.Load(), remote)
		o.ObserveInt64(misses, m.misses.Load(), all)
		o.ObserveInt64(loads, m.loads.Load(), all)
		o.ObserveInt64(loadErrs, m.loadErrors.Load(), all)
		o.ObserveInt64(stale, m.staleServed.Load(), all)
		o.ObserveInt64(decode, m.decodeErrors.Load(), all)
		o.ObserveInt64(soft, m.softTimeouts.Load(), all)
		return nil
	}, hits, misses, loads, loadErrs, stale, decode, soft)
	if err != nil {
		t.Logger.Warn("cache: metrics unavailable", telemetry.KeyCache, name, telemetry.KeyError, err)
		return
	}
	m.reg = reg
}

func (m *counters) unregister() {
	if m.reg != nil {
		_ = m.reg.Unregister()
	}
}
