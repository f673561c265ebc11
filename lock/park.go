package lock

import "time"

// Parking. A Locker remembers which of its mutexes it holds. A waiter that
// arrives while its own Locker holds the lock does not queue itself in
// Redis: it parks, and the holder's release script queues every parked
// waiter (behind those already queued) before handing the lock on. On a
// lock contended within one process that makes a handoff cycle one round
// trip (the release) instead of two (a release and an enqueue). A parked
// waiter not queued within parkTimeout (the holder is slow) queues itself;
// queueing is idempotent, so a race between the two is harmless.

// parkTimeout bounds how long a waiter stays parked.
const parkTimeout = 5 * time.Millisecond

// heldBy is this Locker's holder of a mutex.
type heldBy struct {
	token string
	until time.Time // lease end as far as this Locker knows
}

// heldHere reports whether one of this Locker's locks holds key now.
func (l *Locker) heldHere(key string) bool {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	h, ok := l.held[key]
	if ok && time.Now().After(h.until) {
		delete(l.held, key)
		return false
	}
	return ok
}

func (l *Locker) setHeld(key, token string, until time.Time) {
	l.qmu.Lock()
	l.held[key] = heldBy{token, until}
	l.qmu.Unlock()
}

// extended moves the lease end of token's hold on key.
func (l *Locker) extended(key, token string, until time.Time) {
	l.qmu.Lock()
	if h, ok := l.held[key]; ok && h.token == token {
		l.held[key] = heldBy{token, until}
	}
	l.qmu.Unlock()
}

// released records that token no longer holds key and, when the release
// handed it to a waiter of this Locker, that the waiter does.
func (l *Locker) released(key, token, to string) {
	var w *waiter
	if to != "" {
		if v, ok := l.waiters.Load(to); ok {
			w = v.(*waiter)
		}
	}
	l.qmu.Lock()
	defer l.qmu.Unlock()
	if w != nil {
		l.held[key] = heldBy{to, time.Now().Add(w.ttl)}
		return
	}
	if h, ok := l.held[key]; ok && h.token == token {
		delete(l.held, key)
	}
}

// parkedWaiter is a waiter parked on a key, in arrival order.
type parkedWaiter struct{ token, ttlMS string }

// park adds a waiter for key, with its ttl in ms.
func (l *Locker) park(key, token, ttlMS string) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	l.parked[key] = append(l.parked[key], parkedWaiter{token, ttlMS})
}

// unpark removes a waiter if it is still parked.
func (l *Locker) unpark(key, token string) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	p := l.parked[key]
	for i, w := range p {
		if w.token == token {
			p = append(p[:i], p[i+1:]...)
			break
		}
	}
	if len(p) == 0 {
		delete(l.parked, key)
	} else {
		l.parked[key] = p
	}
}

// takeParked removes and returns key's parked waiters, in arrival order,
// as token, ttl, fence block triples for the release script.
func (l *Locker) takeParked(key string) []string {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	p := l.parked[key]
	if len(p) == 0 {
		return nil
	}
	out := make([]string, 0, 3*len(p))
	for _, w := range p {
		out = append(out, w.token, w.ttlMS, "1")
	}
	delete(l.parked, key)
	return out
}
