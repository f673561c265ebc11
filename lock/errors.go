package lock

import "errors"

// Sentinel errors. Calls wrap them with the operation and the caller's key
// (redkit.Wrap: an *redkit.Error whose Key is the lock's name, without the
// Kit's prefix, and whose Kind is nil for these), so test them with
// errors.Is.
var (
	// ErrNotAcquired reports that another holder has the lock: at once
	// for TryAcquire, or when a wait ends (WaitTimeout, or ctx done: then
	// it is joined with ctx's error). It is never used for a Redis
	// failure: those are redkit errors (ErrUnavailable, ErrOOM...).
	ErrNotAcquired = errors.New("lock: not acquired")

	// ErrLockLost reports that a lock is no longer held by the token that
	// acquired it: it expired (and may be held by someone else), or was
	// released already. Release and Extend never touch another holder's
	// lock.
	ErrLockLost = errors.New("lock: lock lost")

	// ErrBadPermits reports a Semaphore with fewer than one permit.
	ErrBadPermits = errors.New("lock: semaphore needs at least one permit")
)

// errShortReply reports a script reply of an unexpected shape.
var errShortReply = errors.New("lock: unexpected script reply")
