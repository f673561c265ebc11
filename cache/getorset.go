package cache

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	mrand "math/rand/v2"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/lease"
	"github.com/redkit-go/redkit/internal/telemetry"
)

// GetOrSet returns the value stored under key or, when there is none,
// calls load once, stores its result for ttl (0 means the cache's TTL)
// and returns it.
//
// In one process, concurrent callers for a key share one load; with
// StampedeDistributed, one load runs across all processes (see Stampede).
// The load runs with a context that carries ctx's values but not its
// cancellation — other callers may be waiting for it — and that Close
// cancels; a caller whose ctx ends stops waiting and gets ctx's error.
// With EarlyRefresh, a hit may start a background reload before the entry
// expires (XFetch). Stored bytes that do not decode as T count as a miss
// and are overwritten.
//
// If load returns an error wrapping redkit.ErrNotFound, GetOrSet returns
// an error wrapping redkit.ErrNotFound, and with NegativeTTL remembers
// that for NegativeTTL without calling load again. If load fails
// otherwise, or Redis is unavailable, GetOrSet returns the key's last good
// value when FailSafe allows (counted in Stats().StaleServed) and the
// error otherwise (wrapped with the key: load's error, or
// redkit.ErrUnavailable). If the loaded value cannot be stored because
// Redis failed, it is still returned. Other errors: redkit.ErrEmptyKey,
// redkit.ErrNegativeTTL, ErrValueTooLarge, the codec's, redkit.ErrClosed,
// ctx's error. A panic in load is returned as an error, and so is a
// runtime.Goexit in load (t.FailNow in a test's loader): every caller
// waiting for that load returns.
func (c *Cache[T]) GetOrSet(ctx context.Context, key string, load func(ctx context.Context) (T, error), ttl time.Duration) (T, error) {
	// A near hit, served here without the call below: a layer less to
	// copy T through, a third of a hot hit's cost (bench/cache.go,
	// "Hot-key hit", against the sync.Map floor). Whatever this does not
	// serve (bad arguments, a closed cache, a done ctx, a negative entry,
	// an early refresh due) takes the full path.
	if c.near != nil && key != "" && load != nil && ttl >= 0 && !c.closed.Load() && ctx.Err() == nil {
		if e, ok := c.nearGet(key); ok && !e.neg && (c.o.beta <= 0 || e.delta <= 0 || e.exp <= 0) {
			c.nearHit(key)
			if c.bytesT {
				return c.out(e.v), nil
			}
			return e.v, nil
		}
	}
	return c.getOrSet(ctx, key, load, ttl, nil)
}

// GetOrSetWithTags is GetOrSet that tags the value it stores (see
// SetWithTags). Errors: as GetOrSet, and redkit.ErrEmptyKey for an empty
// tag.
func (c *Cache[T]) GetOrSetWithTags(ctx context.Context, key string, load func(ctx context.Context) (T, error), ttl time.Duration, tags ...string) (T, error) {
	if err := checkTags(opGetOrSet, key, tags); err != nil {
		var zero T
		return zero, err
	}
	return c.getOrSet(ctx, key, load, ttl, tags)
}

// loadReq is what a load needs.
type loadReq[T any] struct {
	key  string
	load func(ctx context.Context) (T, error)
	ttl  time.Duration
	tags []string
	seq  uint64 // fillSeq before the caller's read (see mustRecheck)
}

func (c *Cache[T]) getOrSet(ctx context.Context, key string, load func(ctx context.Context) (T, error), ttl time.Duration, tags []string) (T, error) {
	var zero T
	if err := c.check(ctx, opGetOrSet, key); err != nil {
		return zero, err
	}
	if load == nil {
		return zero, redkit.Wrap(opGetOrSet, key, errors.New("cache: nil load function"))
	}
	ttl, err := c.ttlFor(opGetOrSet, key, ttl)
	if err != nil {
		return zero, err
	}
	if c.near != nil {
		if e, ok := c.nearGet(key); ok {
			if e.neg {
				c.m.miss()
				return zero, notFound(key)
			}
			c.nearHit(key)
			c.maybeRefresh(ctx, e, key, load, ttl, tags)
			return c.out(e.v), nil
		}
	}
	seq := c.fillSeq(key)
	e, found, err := c.fetchSoft(ctx, opGetOrSet, key)
	if err == nil && (!found || e.neg) {
		c.staleDeleted(key)
	}
	switch {
	case err == nil && found && e.neg:
		c.m.miss()
		return zero, notFound(key)
	case err == nil && found:
		c.m.hitRemote()
		c.stalePut(key, e)
		c.maybeRefresh(ctx, &e, key, load, ttl, tags)
		return c.out(e.v), nil
	case err == nil, errors.Is(err, redkit.ErrDecode):
		// A miss; undecodable bytes are overwritten by the load.
	case ctx.Err() != nil:
		return zero, err
	default:
		if v, ok := c.staleGet(key); ok {
			return v, nil
		}
		return zero, err
	}
	c.m.miss()
	return c.loadShared(ctx, &loadReq[T]{key: key, load: load, ttl: ttl, tags: tags, seq: seq})
}

// nFills stripes count finished shared loads, by key hash.
const nFills = 256

// fillSeq is the count of shared loads finished for key's stripe.
func (c *Cache[T]) fillSeq(key string) uint64 {
	return c.fills[maphash.String(c.fillSeed, key)&(nFills-1)].Load()
}

func (c *Cache[T]) fillDone(key string) {
	c.fills[maphash.String(c.fillSeed, key)&(nFills-1)].Add(1)
}

// mustRecheck reports whether a new shared load of r.key must read Redis
// again before loading: when a load of the key (or of one sharing its
// stripe) finished since the caller's own read found nothing — the caller
// may have joined just too late — or when that read went through the
// tracking cache, whose copy may lag behind a write that just finished.
// Otherwise the caller's read is recent enough, and a round trip is saved.
func (c *Cache[T]) mustRecheck(r *loadReq[T]) bool {
	return c.near != nil || c.fillSeq(r.key) != r.seq
}

func notFound(key string) error { return redkit.Wrap(opGetOrSet, key, redkit.ErrNotFound) }

// loadShared runs (or joins) the process's one load of r.key and waits for
// it or for ctx.
func (c *Cache[T]) loadShared(ctx context.Context, r *loadReq[T]) (T, error) {
	var zero T
	ch := c.sf.DoChan(r.key, func() (any, error) {
		if !c.enter() {
			return nil, redkit.ErrClosed
		}
		defer c.wg.Done()
		defer c.fillDone(r.key)
		lctx, cancel := c.loadCtx(ctx)
		defer cancel()
		return c.fill(lctx, r, c.mustRecheck(r))
	})
	select {
	case res := <-ch:
		if res.Err == nil {
			return c.out(res.Val.(entry[T]).v), nil
		}
		err := res.Err
		if errors.Is(err, redkit.ErrNotFound) {
			return zero, notFound(r.key)
		}
		if errors.Is(err, redkit.ErrClosed) || errors.Is(err, ErrValueTooLarge) {
			return zero, redkit.Wrap(opGetOrSet, r.key, err)
		}
		if v, ok := c.staleGet(r.key); ok {
			return v, nil
		}
		return zero, redkit.Wrap(opGetOrSet, r.key, err)
	case <-ctx.Done():
		return zero, redkit.Wrap(opGetOrSet, r.key, ctx.Err())
	}
}

// loadCtx returns the context a shared load runs with: ctx's values,
// cancelled by Close rather than by ctx.
func (c *Cache[T]) loadCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(c.base, cancel)
	return lctx, func() {
		stop()
		cancel()
	}
}

// fill is the body of a shared load. recheck reads Redis first (without
// the tracking cache, which may lag behind a write that just finished):
// a caller that missed may join after another load already stored the
// value.
func (c *Cache[T]) fill(ctx context.Context, r *loadReq[T], recheck bool) (any, error) {
	if recheck {
		e, found, err := c.fetchPlain(ctx, opGetOrSet, r.key)
		switch {
		case err == nil && found && e.neg:
			return nil, redkit.ErrNotFound
		case err == nil && found:
			c.stalePut(r.key, e)
			return e, nil
		case err != nil && !errors.Is(err, redkit.ErrDecode):
			return nil, err
		}
	}
	if c.o.stampede == StampedeDistributed {
		return c.fillDistributed(ctx, r)
	}
	return c.loadAndStore(ctx, r)
}

// fillDistributed loads under a short Redis lock so one process loads;
// the others poll for the value, and after LockWait load themselves.
func (c *Cache[T]) fillDistributed(ctx context.Context, r *loadReq[T]) (any, error) {
	lock := c.lockKey(r.key)
	token := lease.NewToken()
	deadline := time.Now().Add(c.o.lockWait)
	delay := 2 * time.Millisecond
	for {
		ok, err := c.tryLock(ctx, lock, token)
		if err != nil {
			return nil, err
		}
		if ok {
			defer c.unlock(ctx, lock, token)
			// The previous holder may have stored the value just before
			// we took the lock.
			e, found, err := c.fetchPlain(ctx, opGetOrSet, r.key)
			switch {
			case err == nil && found && e.neg:
				return nil, redkit.ErrNotFound
			case err == nil && found:
				c.stalePut(r.key, e)
				return e, nil
			}
			return c.loadAndStore(ctx, r)
		}
		if !time.Now().Before(deadline) {
			break
		}
		// Jittered, growing poll: a waiter learns of the value within a
		// few ms without hammering Redis.
		d := min(delay, time.Until(deadline))
		d = d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		delay = min(delay*2, 50*time.Millisecond)
		e, found, err := c.fetchPlain(ctx, opGetOrSet, r.key)
		switch {
		case err == nil && found && e.neg:
			return nil, redkit.ErrNotFound
		case err == nil && found:
			c.stalePut(r.key, e)
			return e, nil
		case err != nil && !errors.Is(err, redkit.ErrDecode):
			return nil, err
		}
	}
	// The holder took longer than LockWait: load rather than hang.
	return c.loadAndStore(ctx, r)
}

// tryLock takes the stampede lock of a key: the module's one short
// token lease (internal/lease), as Redlock's per-master locks are.
func (c *Cache[T]) tryLock(ctx context.Context, lock, token string) (bool, error) {
	return lease.TryAcquire(ctx, c.k, lock, token, c.o.lockTTL)
}

// unlock deletes the lock if it is still ours; it expires otherwise.
func (c *Cache[T]) unlock(ctx context.Context, lock, token string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if _, err := lease.Release(ctx, c.k, lock, token); err != nil {
		c.st.Tel.Logger.Debug("cache: stampede lock not released; it will expire",
			telemetry.KeyKey, lock, telemetry.KeyError, err)
	}
}

// loadAndStore calls the loader and stores what it returns (or, for
// redkit.ErrNotFound with NegativeTTL, a "not found" marker).
func (c *Cache[T]) loadAndStore(ctx context.Context, r *loadReq[T]) (any, error) {
	ctx, sp := c.st.Tel.Start(ctx, "cache.load", r.key)
	c.m.loads.Add(1)
	start := time.Now()
	v, err := callLoad(ctx, r.load)
	delta := time.Since(start)
	if err != nil {
		telemetry.End(sp, err)
		if errors.Is(err, redkit.ErrNotFound) {
			if c.o.negTTL > 0 {
				// Tagged like the value would be, so that DeleteByTag also
				// forgets that the key was missing.
				if werr := c.write(ctx, opGetOrSet, r.key, []byte(negMarker), c.o.negTTL, -1, r.tags); werr != nil {
					c.st.Tel.Logger.Warn("cache: could not remember not found", telemetry.KeyCache, c.name,
						telemetry.KeyKey, r.key, telemetry.KeyError, werr)
				}
			}
			return nil, err
		}
		c.m.loadErrors.Add(1)
		return nil, err
	}
	e := entry[T]{v: v, exp: time.Now().Add(r.ttl).UnixMilli(), delta: int64(delta)}
	b, err := c.encode(opGetOrSet, r.key, v)
	if err != nil {
		telemetry.End(sp, err)
		return nil, err
	}
	if werr := c.write(ctx, opGetOrSet, r.key, b, r.ttl, delta, r.tags); errors.Is(werr, ErrValueTooLarge) {
		// A value that can never be cached is the caller's to hear of.
		telemetry.End(sp, werr)
		return nil, werr
	} else if werr != nil {
		// The value is good; only caching it failed. The caller gets it.
		c.st.Tel.Logger.Warn("cache: loaded value not stored", telemetry.KeyCache, c.name,
			telemetry.KeyKey, r.key, telemetry.KeyError, werr)
	}
	telemetry.End(sp, nil)
	c.stalePut(r.key, e)
	return e, nil
}

// errLoadGoexit is what callers get when a loader called runtime.Goexit.
var errLoadGoexit = errors.New("cache: load called runtime.Goexit (t.FailNow in a loader?)")

// callLoad runs load, turning a panic into an error: the shared load runs
// on a goroutine of its own, where a panic would end the program.
//
// load runs on yet another goroutine, so that runtime.Goexit in it (as
// t.FailNow or t.Fatal in a test's loader) ends that goroutine only: it
// cannot be recovered, and if it ended the shared load's goroutine,
// singleflight would forget the load without telling its waiters, which
// would wait forever. A goroutine per load is small next to a load.
func callLoad[T any](ctx context.Context, load func(context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		normal := false
		defer func() {
			if p := recover(); p != nil {
				r.err = fmt.Errorf("cache: load panicked: %v", p)
			} else if !normal {
				r.err = errLoadGoexit
			}
			done <- r
		}()
		r.v, r.err = load(ctx)
		normal = true
	}()
	r := <-done
	return r.v, r.err
}

// maybeRefresh starts a background reload of a hit entry when XFetch says
// so: when now - delta*beta*ln(rand) >= expiry, with delta the duration
// of the load that produced the entry. One refresh per key at a time; it
// belongs to the cache (Close waits for it) and is shared with callers
// that miss meanwhile.
func (c *Cache[T]) maybeRefresh(ctx context.Context, e *entry[T], key string, load func(context.Context) (T, error), ttl time.Duration, tags []string) {
	if c.o.beta <= 0 || e.delta <= 0 || e.exp <= 0 {
		return
	}
	gap := float64(e.delta) * c.o.beta * -math.Log(1-mrand.Float64())
	if float64(time.Now().UnixNano())+gap < float64(e.exp)*1e6 {
		return
	}
	if _, busy := c.refreshing.LoadOrStore(key, struct{}{}); busy {
		return
	}
	if !c.enter() {
		c.refreshing.Delete(key)
		return
	}
	req := loadReq[T]{key: key, load: load, ttl: ttl, tags: tags}
	go func() {
		defer c.wg.Done()
		defer c.refreshing.Delete(req.key)
		lctx, cancel := c.loadCtx(ctx)
		defer cancel()
		_, _, _ = c.sf.Do(req.key, func() (any, error) {
			defer c.fillDone(req.key)
			return c.refill(lctx, &req)
		})
	}()
}

// refill is an early refresh: load and store, unless (distributed)
// another process holds the key's lock, i.e. is loading it already.
func (c *Cache[T]) refill(ctx context.Context, r *loadReq[T]) (any, error) {
	if c.o.stampede != StampedeDistributed {
		return c.loadAndStore(ctx, r)
	}
	lock, token := c.lockKey(r.key), lease.NewToken()
	ok, err := c.tryLock(ctx, lock, token)
	if err != nil {
		return nil, err
	}
	if !ok {
		return c.fill(ctx, r, true)
	}
	defer c.unlock(ctx, lock, token)
	return c.loadAndStore(ctx, r)
}
