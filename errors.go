package redkit

import "github.com/redkit-go/redkit/internal/engine"

// Sentinel errors. Every error redkit returns for a Redis call is an *Error
// that wraps one of these (when one applies) and the underlying cause, so
// both errors.Is(err, redkit.ErrWrongType) and
// errors.As(err, new(*rueidis.RedisError)) work.
var (
	// ErrNotFound reports a missing item where a call cannot say "missing"
	// with a bool (for example a cache loader that has nothing to load).
	ErrNotFound = engine.ErrNotFound

	// ErrUnavailable reports that Redis could not be reached: the circuit
	// breaker is open, the Kit is not connected yet, the connection failed,
	// or the server left it without a reply for CommandTimeout. It wraps
	// the cause.
	ErrUnavailable = engine.ErrUnavailable

	// ErrWrongType reports a WRONGTYPE reply: the key holds another type.
	ErrWrongType = engine.ErrWrongType

	// ErrDecode reports stored bytes that do not decode as the requested
	// type. It is the same value as codec.ErrDecode.
	ErrDecode = engine.ErrDecode

	// ErrOOM reports an OOM reply: Redis is at maxmemory and refuses writes.
	ErrOOM = engine.ErrOOM

	// ErrReadOnly reports a READONLY reply: the command reached a replica.
	ErrReadOnly = engine.ErrReadOnly

	// ErrLoading reports a LOADING reply: Redis is loading its dataset.
	ErrLoading = engine.ErrLoading

	// ErrCrossSlot reports a CROSSSLOT reply: the keys of one command hash
	// to different cluster slots. Build such keys with HashTag.
	ErrCrossSlot = engine.ErrCrossSlot

	// ErrNoScript reports a NOSCRIPT reply that could not be recovered.
	ErrNoScript = engine.ErrNoScript

	// ErrBusy reports a BUSY reply: a script or function is running too long.
	ErrBusy = engine.ErrBusy

	// ErrEmptyKey reports an empty key or name where one is required.
	ErrEmptyKey = engine.ErrEmptyKey

	// ErrNegativeTTL reports a negative TTL or duration argument.
	ErrNegativeTTL = engine.ErrNegativeTTL

	// ErrClosed reports a call on a Kit (or a value built on it) after Close.
	ErrClosed = engine.ErrClosed

	// ErrValueTooLarge reports a command with an argument (a value) larger
	// than the server's proto-max-bulk-len. Nothing is sent: Redis would
	// drop the connection, failing every call pipelined on it.
	ErrValueTooLarge = engine.ErrValueTooLarge
)

// Error is the error returned for a failed Redis operation: Op names the
// package and the operation ("cache: get"), Key the caller's key (without
// the Kit's prefix; empty for operations without one), Kind one of the
// sentinels above (nil when none applies) and Err the cause. It formats as
// `op "key": cause` and unwraps to both Kind and Err.
type Error = engine.Error

// Wrap returns err as an *Error for operation op on key, classifying Redis
// error replies (WRONGTYPE, OOM, READONLY, LOADING, CROSSSLOT, NOSCRIPT,
// BUSY) and transport failures (ErrUnavailable) with Classify. An error
// that is none of these (a value the codec cannot encode, bad input, an
// unexpected reply) gets no Kind but still matches what it wraps. Wrap
// returns nil for a nil err, and an err that is already an *Error of
// another operation as it is. Packages built on the Kit call it on every
// error they return; users writing their own helpers on Kit.Do may too.
func Wrap(op, key string, err error) error { return engine.Wrap(op, key, err) }

// Classify returns the sentinel that describes err, or nil. Redis error
// replies are recognised by their prefix; network errors and closed
// clients are ErrUnavailable; context errors and local errors get nil.
func Classify(err error) error { return engine.Classify(err) }
