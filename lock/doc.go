// Package lock provides distributed locks on Redis that are safe to build
// on: mutexes with fencing tokens, automatic renewal and fast, fair
// handoff; readers-writer locks; counting semaphores; and Redlock over
// independent masters.
//
// A Locker (New) hands out locks on one Kit. Acquire waits for a mutex,
// TryAcquire makes one attempt, Do runs a function holding the lock while
// a watchdog renews it. Each Lock carries a random 128-bit token (only it
// can release or extend the lock: a lock that expired and was taken by
// someone else is never touched, and the caller gets ErrLockLost) and a
// fencing token, Fence, that is strictly increasing per key from a counter
// that never expires, even across a restart that lost it: write it with the data the lock protects and let
// the store refuse older fences, because no lease-based lock can stop a
// paused holder from waking up after its lease.
//
// Within one Locker, a lock changes hands without a round trip (lock
// cohorting, after Dice, Marathe and Shavit, PPoPP 2012): when a holder
// releases while another Acquire of the same Locker waits for the key, the
// lock passes to it inside the process while the key stays held in Redis.
// Only one goroutine per Locker and key asks Redis at a time; the others
// wait in the process, first come first served. Each local holder has a
// token, a fence, a lease and a Lost channel of its own, and Release,
// Extend and Do behave as for a lock granted by Redis: a grant reserves a
// block of fences in Redis (the next grant's are above it), the lease in
// Redis is extended before a handoff when it is shorter than two thirds of
// the successor's ttl, and a handoff happens only while the lease, as the
// Locker knows it, has not ended. After Options.MaxLocalHandoffs handoffs
// in a row the release goes through Redis, so that other processes'
// waiters get their turn; Options.DisableLocalHandoff turns cohorting off.
//
// Waiters of different Lockers queue beside the lock, first come first served. A release hands
// the lock straight to the first live waiter (sets its token as owner,
// bumps the fence) and publishes to the waiter's Locker, so the woken
// waiter already holds the lock: one round trip per handoff between
// processes, and no waiter starves. A waiter that gives up leaves the queue; a dead
// waiter's entry expires (Options.WaiterLease) and, on one node or
// Sentinel, a waiter whose Locker has no live subscription is skipped at
// once. A jittered poll, bounded by Options.PollInterval and sooner when
// the holder's lease ends, covers what sends no notification. A waiter
// that arrives while its own Locker holds the lock waits in the process
// (with DisableLocalHandoff, it parks and is queued by the holder's
// release script, so the lock changes hands in one round trip per cycle).
// An uncontended acquire is SET NX and INCRBY, pipelined, with no script.
//
// All keys of a lock share a hash tag (prefix:lock:{name}, :fence, :q,
// :w), so every script runs on a cluster. Notifications use plain
// pub/sub, one channel per Locker (see Locker). The scripts declare
// flags (a "#!lua" first line), so Redis 7.0 or later (or Valkey) is
// required.
//
// Restarts: with persistence (AOF, appendfsync everysec or always) fence
// counters and held locks survive a restart of Redis, up to the last
// fsync. Without it a restart loses both. Fences stay strictly
// increasing: a lost counter is seeded again from the server's clock, in
// microseconds, far above any count handed out before (see Lock.Fence),
// so the store still refuses a write from a holder of before the restart.
// The locks held at the restart are gone: their holders find out at the
// next Extend or Release (ErrLockLost) or watchdog renewal in Do, which
// cancels fn's ctx and closes Lost, and meanwhile another caller may take
// the lock.
//
// Errors are honest: a Redis failure (redkit.ErrUnavailable, ErrOOM...) is
// returned as such, never as ErrNotAcquired, and an acquire cut short by
// its context leaves no lock behind.
//
// Left out: reentrancy (a Locker does not know which goroutine holds a
// lock), and locks that outlive Redis data loss — a failover to a replica
// that missed the latest write can grant a lock twice; fences make that
// detectable, Redlock over independent masters makes it rarer. On a
// cluster, where PUBLISH cannot tell whether the waiter's Locker still
// listens, a lock handed to a waiter whose process died less than
// WaiterLease ago stays unused until its ttl ends, as with a holder that
// dies.
package lock
