package lock

import (
	"context"
	"crypto/rand"
	"errors"
	"strconv"
	"time"

	"github.com/redkit-go/redkit"
)

// Lock cohorting (Dice, Marathe and Shavit, "Lock Cohorting", PPoPP 2012).
// A Locker keeps, per mutex key it holds or waits for, a keyState: its
// current holder, the Redis lease it holds the key under, the fences its
// grant reserved, and its goroutines waiting for the key, first come first
// served. Only one goroutine of the Locker at a time (the leader) asks
// Redis for the key; the others wait here. A release with a local waiter
// hands the lock to it in the process while the key stays held in Redis
// under the first holder's token: no round trip (bench/lock.go, "one key,
// 8 goroutines" pays for it). The lease in Redis is extended first when it
// has less than two thirds of the successor's ttl left, so every holder
// gets a lease of its own, ending no later than the one in Redis. After
// MaxLocalHandoffs handoffs in a row, or when the block of fences is used
// up, the release goes through Redis and queues the first local waiter
// there (in the same script) as the next leader, behind the other
// processes' waiters.
//
// Safety rests on three things: a local handoff happens only while the
// lease in Redis, as known here (the send time of the request that set it
// plus its ttl, never later than the real end), has not ended; a lock that
// is not its keyState's holder any more cannot release or extend
// (ErrLockLost), whatever Redis holds; and fences come from the block the
// grant reserved in Redis (next_fence), above every earlier grant's block.

// fullBlock is the number of fences a grant reserves when the Locker
// expects to hand the lock on locally.
func (l *Locker) fullBlock() int64 { return int64(l.opts.MaxLocalHandoffs) + 1 }

// keyState is what a Locker knows of one mutex it holds or waits for.
type keyState struct {
	holder     *Lock     // this Locker's holder, nil when none
	red        string    // the token in Redis while holder holds
	until      time.Time // end of the lease in Redis, as known here
	next, last int64     // fences of the grant's block not handed out yet
	handoffs   int       // local handoffs since the grant
	acquiring  int       // goroutines of this Locker asking Redis
	waiters    []*localWaiter
}

// Local waiter states, changed under Locker.qmu.
const (
	lwWaiting = iota
	lwGranted // a local handoff is in lk
	lwLeading // it is to ask Redis (and may be queued there already)
)

// localWaiter is an Acquire waiting for a local handoff.
type localWaiter struct {
	w     *waiter // its entry in Locker.waiters (a Redis handoff's fence)
	token string
	ttl   time.Duration
	state int
	lk    chan *Lock    // the local handoff
	lead  chan struct{} // it leads now
	// Set with lwLeading: whether a release queued it in Redis, the send
	// time of that release (no later than any grant that follows) and
	// the block of fences it asked for.
	queued bool
	since  time.Time
	block  int64
}

// state returns key's keyState, made if missing. Call with qmu held.
func (l *Locker) state(key string) *keyState {
	ks := l.keys[key]
	if ks == nil {
		ks = &keyState{}
		l.keys[key] = ks
	}
	return ks
}

// tidy drops key's keyState once nothing refers to it. Call with qmu held.
func (l *Locker) tidy(key string, ks *keyState) {
	if ks.holder == nil && ks.acquiring == 0 && len(ks.waiters) == 0 && l.keys[key] == ks {
		delete(l.keys, key)
	}
}

// join is the start of a queueing Acquire: it returns a localWaiter (w
// registered in Locker.waiters) when the acquirer is to wait for a local
// handoff, or nil and the block to ask Redis for when it leads.
func (l *Locker) join(key, token string, ttl time.Duration) (*localWaiter, int64) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	ks := l.state(key)
	if ks.acquiring > 0 || (ks.holder != nil && time.Now().Before(ks.until)) {
		w := &waiter{ch: make(chan int64, 1), key: key, ttl: ttl}
		lw := &localWaiter{w: w, token: token, ttl: ttl, lk: make(chan *Lock, 1), lead: make(chan struct{}, 1)}
		// Registered before a release can pop it and queue it in Redis.
		l.waiters.Store(token, w)
		ks.waiters = append(ks.waiters, lw)
		return lw, 0
	}
	ks.acquiring++
	return nil, l.blockFor(ks)
}

// blockFor is the block a leader asks for: a full one when others wait.
func (l *Locker) blockFor(ks *keyState) int64 {
	if len(ks.waiters) > 0 {
		return l.fullBlock()
	}
	return 1
}

// remove takes lw out of ks's waiters; it reports false if it was not
// there. Call with qmu held.
func (ks *keyState) remove(lw *localWaiter) bool {
	for i, x := range ks.waiters {
		if x == lw {
			ks.waiters = append(ks.waiters[:i], ks.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// promote makes the first local waiter the leader when nobody holds or
// asks Redis for the key. Call with qmu held.
func (l *Locker) promote(ks *keyState) {
	if ks.holder != nil || ks.acquiring > 0 || len(ks.waiters) == 0 {
		return
	}
	lw := ks.waiters[0]
	ks.waiters = ks.waiters[1:]
	lw.state, lw.block = lwLeading, l.blockFor(ks)
	ks.acquiring++
	lw.lead <- struct{}{}
}

// leaderDone ends a leader's ask without a grant.
func (l *Locker) leaderDone(key string) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	ks := l.state(key)
	ks.acquiring--
	l.promote(ks)
	l.tidy(key, ks)
}

// waitLocal waits for a local handoff (a Lock), or to lead (nil, nil), or
// until the wait ends (an error).
func (l *Locker) waitLocal(ctx context.Context, key string, lw *localWaiter, deadline time.Time) (*Lock, error) {
	timer := time.NewTimer(l.localPause(key, deadline))
	defer timer.Stop()
	for {
		select {
		case m := <-lw.lk:
			return m, nil
		case <-lw.lead:
			return nil, nil
		case <-timer.C:
			l.qmu.Lock()
			ks := l.state(key)
			now := time.Now()
			switch {
			case lw.state != lwWaiting:
				// A handoff or lead is in its channel.
			case !deadline.IsZero() && !now.Before(deadline):
				ks.remove(lw)
				l.promote(ks)
				l.tidy(key, ks)
				l.qmu.Unlock()
				return nil, redkit.Wrap(opAcquire, key, ErrNotAcquired)
			case ks.acquiring == 0 && (ks.holder == nil || !now.Before(ks.until)):
				// The holder's lease ended without a release (it paused
				// or forgot): ask Redis, as any waiter would.
				ks.remove(lw)
				lw.state, lw.block = lwLeading, l.blockFor(ks)
				ks.acquiring++
				l.qmu.Unlock()
				return nil, nil
			}
			l.qmu.Unlock()
			timer.Reset(l.localPause(key, deadline))
		case <-ctx.Done():
			l.qmu.Lock()
			ks := l.state(key)
			st := lw.state
			if st == lwWaiting {
				ks.remove(lw)
				l.promote(ks)
				l.tidy(key, ks)
			}
			l.qmu.Unlock()
			gone := errors.Join(redkit.Wrap(opAcquire, key, ErrNotAcquired), ctx.Err())
			switch st {
			case lwGranted:
				// Handed over as we gave up: pass it on.
				m := <-lw.lk
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
				_ = m.Release(rctx)
				cancel()
			case lwLeading:
				// Lead, with a ctx that is done: the wait gives up at
				// once, and abandons what a release may have queued.
				<-lw.lead
				return nil, nil
			}
			return nil, gone
		}
	}
}

// localPause is how long a local waiter waits before it looks again: until
// the holder's lease ends, else a poll interval, at most until deadline.
func (l *Locker) localPause(key string, deadline time.Time) time.Duration {
	l.qmu.Lock()
	d := jitter(l.opts.PollInterval)
	if ks := l.keys[key]; ks != nil && ks.holder != nil {
		d = max(time.Until(ks.until)+time.Millisecond, time.Millisecond)
	}
	l.qmu.Unlock()
	if !deadline.IsZero() {
		d = max(min(d, time.Until(deadline)), 0)
	}
	return d
}

// granted records a grant from Redis (fence is the block's first, at no
// later than the grant) and returns its Lock. led says the acquirer was
// counted in acquiring.
func (l *Locker) granted(key string, keys []string, token string, fence, block int64, ttl time.Duration, at time.Time, led bool) *Lock {
	m := &Lock{h: l, key: key, keys: keys, token: token, red: token, local: true, fence: fence, ttl: ttl, acquiredAt: at}
	l.qmu.Lock()
	ks := l.state(key)
	if led {
		ks.acquiring--
	}
	// A holder still recorded here had its lease end unnoticed: it lost
	// the lock, and cannot release or extend it any more.
	ks.holder, ks.red, ks.until = m, token, at.Add(ttl)
	ks.next, ks.last, ks.handoffs = fence+1, fence+block-1, 0
	l.qmu.Unlock()
	l.acquired.Add(context.Background(), 1)
	return m
}

// releaseLocal releases m, a Lock of this Locker's cohorting: to the first
// local waiter if it can, else through Redis.
func (l *Locker) releaseLocal(ctx context.Context, m *Lock) (bool, error) {
	var ks *keyState
	for {
		l.qmu.Lock()
		ks = l.keys[m.key]
		if ks == nil || ks.holder != m {
			l.qmu.Unlock()
			return false, nil
		}
		now := time.Now()
		if len(ks.waiters) == 0 || ks.handoffs >= l.opts.MaxLocalHandoffs || !now.Before(ks.until) || m.isMarkedLost() {
			break
		}
		lw := ks.waiters[0]
		short := ks.until.Sub(now) < 2*lw.ttl/3
		refill := ks.next > ks.last
		if !short && !refill {
			// The lease in Redis outlasts two thirds of lw's ttl: hand
			// over, the new lease ending with it at the latest.
			ks.waiters = ks.waiters[1:]
			at := now
			if end := now.Add(lw.ttl); end.After(ks.until) {
				at = ks.until.Add(-lw.ttl)
			}
			n := &Lock{h: l, key: m.key, keys: m.keys, token: rand.Text(), red: ks.red, local: true,
				fence: ks.next, ttl: lw.ttl, acquiredAt: at}
			ks.next++
			ks.handoffs++
			ks.holder = n
			lw.state = lwGranted
			lw.lk <- n
			l.qmu.Unlock()
			l.acquired.Add(context.Background(), 1)
			return true, nil
		}
		// Extend the lease for lw, and/or reserve fences for the
		// handoffs left (a grant that expected no local waiter reserved
		// one), first: m still holds meanwhile.
		red := ks.red
		var ttl time.Duration
		if short {
			ttl = lw.ttl
		}
		var n int64
		if refill {
			n = int64(l.opts.MaxLocalHandoffs - ks.handoffs)
		}
		l.qmu.Unlock()
		sent := time.Now()
		first, err := l.handover(ctx, m.keys, red, ttl, n)
		if err != nil {
			return false, err
		}
		if first == 0 {
			l.lostHere(m)
			return false, nil
		}
		l.qmu.Lock()
		if ks.holder == m {
			if short {
				ks.until = sent.Add(ttl)
			}
			if refill {
				ks.next, ks.last = first, first+n-1
			}
		}
		l.qmu.Unlock()
	}
	// Through Redis: the release script queues the first local waiter as
	// the next leader, behind the waiters already queued there.
	var lead *localWaiter
	args := []string{ks.red, l.checkReceivers(), l.leaseMS, l.channel}
	if len(ks.waiters) > 0 {
		lead = ks.waiters[0]
		ks.waiters = ks.waiters[1:]
		lead.state, lead.queued, lead.since, lead.block = lwLeading, true, time.Now(), l.fullBlock()
		ks.acquiring++
		args = append(args, lead.token, ms(lead.ttl), strconv.FormatInt(lead.block, 10))
	}
	red, until := ks.red, ks.until
	ks.holder = nil
	l.tidy(m.key, ks)
	l.qmu.Unlock()
	ok, to, fence, err := l.releaseScript(ctx, m.keys, args)
	switch {
	case err != nil:
		// Redis may still hold the lock for m: m holds again, as far as
		// this Locker knows, so that Release can be tried again (through
		// Redis: no local handoff).
		l.qmu.Lock()
		if ks := l.state(m.key); ks.holder == nil {
			ks.holder, ks.red, ks.until = m, red, until
			ks.next, ks.last, ks.handoffs = 1, 0, l.opts.MaxLocalHandoffs
		}
		l.qmu.Unlock()
	case fence > 0 && to != "":
		l.deliver(to, fence)
	}
	if lead != nil {
		lead.lead <- struct{}{}
	}
	return ok, err
}

// handover runs the handover script: extends the lease to ttl (0: no)
// and reserves n fences (0: none). It returns 0 when red no longer holds
// the lock, else the first fence reserved (1 when none was asked for).
func (l *Locker) handover(ctx context.Context, keys []string, red string, ttl time.Duration, n int64) (int64, error) {
	px := "0"
	if ttl > 0 {
		px = ms(ttl)
	}
	v, err := l.kit.Exec(ctx, handoverScript, keys[:2], []string{red, px, strconv.FormatInt(n, 10)})
	if err != nil {
		return 0, err
	}
	return v.AsInt64()
}

// extendLocal extends m, a Lock of this Locker's cohorting.
func (l *Locker) extendLocal(ctx context.Context, m *Lock, ttl time.Duration) (bool, error) {
	l.qmu.Lock()
	ks := l.keys[m.key]
	if ks == nil || ks.holder != m {
		l.qmu.Unlock()
		return false, nil
	}
	red := ks.red
	l.qmu.Unlock()
	sent := time.Now()
	ok, err := extendKey(ctx, l.kit, m.keys[0], red, ttl)
	switch {
	case err != nil:
	case ok:
		l.extendedHere(m, sent.Add(ttl))
	default:
		l.lostHere(m)
	}
	return ok, err
}

// extendedHere records that m's lease in Redis now ends at until.
func (l *Locker) extendedHere(m *Lock, until time.Time) {
	l.qmu.Lock()
	if ks := l.keys[m.key]; ks != nil && ks.holder == m {
		ks.until = until
	}
	l.qmu.Unlock()
}

// lostHere records that Redis no longer holds m's key for this Locker:
// the local waiters ask Redis again.
func (l *Locker) lostHere(m *Lock) {
	l.qmu.Lock()
	if ks := l.keys[m.key]; ks != nil && ks.holder == m {
		ks.holder = nil
		l.promote(ks)
		l.tidy(m.key, ks)
	}
	l.qmu.Unlock()
}

// localHolder returns the Lock of this Locker holding key under token, if
// any, and whether token is one that Redis holds for another, later,
// local holder (so that it must not release or extend).
func (l *Locker) localHolder(key, token string) (m *Lock, stale bool) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	ks := l.keys[key]
	if ks == nil || ks.holder == nil {
		return nil, false
	}
	if ks.holder.token == token {
		return ks.holder, false
	}
	return nil, ks.red == token
}
