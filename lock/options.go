package lock

import (
	"log/slog"
	"time"
)

// Defaults for Options.
const (
	// DefaultTTL is the lease used when a call passes a ttl of 0.
	DefaultTTL = 30 * time.Second

	// DefaultPollInterval bounds the wait between fallback polls of a
	// waiting acquirer. Waiters are woken by a notification on release;
	// the poll only covers what sends no notification (a holder that died
	// and let its lease expire, a dropped subscription).
	DefaultPollInterval = 200 * time.Millisecond

	// DefaultWaiterLease is how long a waiter's place in a lock's queue
	// lives without being refreshed (waiters refresh it on every poll).
	// A waiter that dies loses its place after at most this long, so a
	// lock is not handed to it.
	DefaultWaiterLease = 2 * time.Second
)

// Options configures a Locker. The zero value (or a nil *Options) means
// the defaults.
type Options struct {
	// TTL is the lease used when a call passes a ttl of 0; default
	// DefaultTTL.
	TTL time.Duration

	// WaitTimeout bounds how long Acquire waits when AcquireOptions does
	// not say; 0 (the default) means until ctx is done.
	WaitTimeout time.Duration

	// PollInterval is the longest wait between fallback polls of a
	// waiting acquirer; default DefaultPollInterval. Polls are jittered
	// and come sooner when the holder's lease is about to end.
	PollInterval time.Duration

	// WaiterLease is how long a waiter's place in the queue lives without
	// a refresh; default DefaultWaiterLease, and at least 3*PollInterval.
	WaiterLease time.Duration

	// Logger receives what return values cannot show (a failed background
	// renewal, a dropped notification subscription); default the Kit's.
	Logger *slog.Logger
}

func (o *Options) normalize(log *slog.Logger) Options {
	var n Options
	if o != nil {
		n = *o
	}
	if n.TTL <= 0 {
		n.TTL = DefaultTTL
	}
	if n.WaitTimeout < 0 {
		n.WaitTimeout = 0
	}
	if n.PollInterval <= 0 {
		n.PollInterval = DefaultPollInterval
	}
	if n.WaiterLease <= 0 {
		n.WaiterLease = DefaultWaiterLease
	}
	n.WaiterLease = max(n.WaiterLease, 3*n.PollInterval)
	if n.Logger == nil {
		n.Logger = log
	}
	return n
}

// AcquireOptions tunes one Acquire call. A nil *AcquireOptions means the
// Locker's settings.
type AcquireOptions struct {
	// WaitTimeout bounds the wait: positive overrides Options.WaitTimeout,
	// 0 keeps it, negative means do not wait (like TryAcquire).
	WaitTimeout time.Duration
}
