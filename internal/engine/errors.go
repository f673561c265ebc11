package engine

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit/codec"
)

// Sentinel errors. Every error redkit returns for a Redis call is an *Error
// that wraps one of these (when one applies) and the underlying cause, so
// both errors.Is(err, redkit.ErrWrongType) and
// errors.As(err, new(*rueidis.RedisError)) work.
var (
	// ErrNotFound reports a missing item where a call cannot say "missing"
	// with a bool (for example a cache loader that has nothing to load).
	ErrNotFound = errors.New("redkit: not found")

	// ErrUnavailable reports that Redis could not be reached: the circuit
	// breaker is open, the Kit is not connected yet, the connection failed,
	// or the command timed out. It wraps the cause.
	ErrUnavailable = errors.New("redkit: redis unavailable")

	// ErrWrongType reports a WRONGTYPE reply: the key holds another type.
	ErrWrongType = errors.New("redkit: wrong type")

	// ErrDecode reports stored bytes that do not decode as the requested
	// type. It is the same value as codec.ErrDecode.
	ErrDecode = codec.ErrDecode

	// ErrOOM reports an OOM reply: Redis is at maxmemory and refuses writes.
	ErrOOM = errors.New("redkit: redis out of memory")

	// ErrReadOnly reports a READONLY reply: the command reached a replica.
	ErrReadOnly = errors.New("redkit: redis is read-only")

	// ErrLoading reports a LOADING reply: Redis is loading its dataset.
	ErrLoading = errors.New("redkit: redis is loading")

	// ErrCrossSlot reports a CROSSSLOT reply: the keys of one command hash
	// to different cluster slots. Build such keys with HashTag.
	ErrCrossSlot = errors.New("redkit: keys in different cluster slots (use redkit.HashTag)")

	// ErrNoScript reports a NOSCRIPT reply that could not be recovered.
	ErrNoScript = errors.New("redkit: script not loaded")

	// ErrBusy reports a BUSY reply: a script or function is running too long.
	ErrBusy = errors.New("redkit: redis busy running a script")

	// ErrEmptyKey reports an empty key or name where one is required.
	ErrEmptyKey = errors.New("redkit: empty key")

	// ErrNegativeTTL reports a negative TTL or duration argument.
	ErrNegativeTTL = errors.New("redkit: negative ttl")

	// ErrClosed reports a call on a Kit (or a value built on it) after Close.
	ErrClosed = errors.New("redkit: closed")

	// ErrValueTooLarge reports a command argument (a value) larger than
	// the server's proto-max-bulk-len: nothing was sent.
	ErrValueTooLarge = errors.New("redkit: value larger than the server's proto-max-bulk-len")
)

// Error is the error returned for a failed Redis operation. Op names the
// package and the operation ("cache: get"), Key the key involved (empty
// for operations without one). Kind is one of the sentinels above, or nil
// when none applies; Err is the cause.
type Error struct {
	Op   string
	Key  string
	Kind error
	Err  error
}

// Error formats as `op "key": cause`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Key != "" {
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(e.Key))
	}
	b.WriteString(": ")
	switch {
	case e.Err != nil && e.Kind != nil && !isReply(e.Err) && !strings.Contains(e.Err.Error(), kindWord(e.Kind)):
		b.WriteString(e.Kind.Error())
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	case e.Kind != nil:
		b.WriteString(e.Kind.Error())
	}
	return b.String()
}

// isReply reports whether err is Redis's own error reply, whose text
// already says what went wrong (WRONGTYPE ..., OOM ...).
func isReply(err error) bool {
	_, ok := rueidis.IsRedisErr(err)
	return ok
}

// kindWord is the part of a sentinel's text after "redkit: ", used to avoid
// repeating what the cause already says.
func kindWord(kind error) string {
	s := kind.Error()
	if i := strings.Index(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

// Unwrap returns the sentinel kind and the cause.
func (e *Error) Unwrap() []error {
	switch {
	case e.Kind == nil:
		return []error{e.Err}
	case e.Err == nil:
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Wrap returns err as an *Error for operation op on key, classifying Redis
// error replies (WRONGTYPE, OOM, READONLY, LOADING, CROSSSLOT, NOSCRIPT,
// BUSY) and transport failures (ErrUnavailable). It returns nil for a nil
// err and leaves an err that is already an *Error, or a context error,
// as it is apart from adding op and key. Packages built on the Kit call it
// on every error they return; users writing their own helpers on Kit.Do
// may too.
func Wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var re *Error
	if errors.As(err, &re) {
		if re.Op == "" || re.Op == "redkit: do" {
			return &Error{Op: op, Key: key, Kind: re.Kind, Err: re.Err}
		}
		return err
	}
	return &Error{Op: op, Key: key, Kind: Classify(err), Err: err}
}

// Classify returns the sentinel that describes err, or nil. Redis error
// replies are recognised by their prefix; network errors and closed
// clients are ErrUnavailable; context errors are returned as they are.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{ErrUnavailable, ErrWrongType, ErrDecode, ErrOOM, ErrReadOnly,
		ErrLoading, ErrCrossSlot, ErrNoScript, ErrBusy, ErrEmptyKey, ErrNegativeTTL, ErrClosed, ErrNotFound, ErrValueTooLarge} {
		if errors.Is(err, s) {
			return s
		}
	}
	if re, ok := rueidis.IsRedisErr(err); ok {
		msg := re.Error()
		word := msg
		if i := strings.IndexByte(msg, ' '); i > 0 {
			word = msg[:i]
		}
		switch word {
		case "WRONGTYPE":
			return ErrWrongType
		case "OOM":
			return ErrOOM
		case "READONLY":
			return ErrReadOnly
		case "LOADING":
			return ErrLoading
		case "CROSSSLOT":
			return ErrCrossSlot
		case "NOSCRIPT":
			return ErrNoScript
		case "BUSY":
			return ErrBusy
		case "CLUSTERDOWN", "MASTERDOWN", "TRYAGAIN":
			return ErrUnavailable
		}
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	if isTransport(err) {
		return ErrUnavailable
	}
	return nil
}

// isTransport reports whether err is a failure to talk to Redis (a
// network error, a closed or unconnectable engine client) rather than an
// answer from it or a local problem such as a value that cannot be encoded.
func isTransport(err error) bool {
	if err == nil || rueidis.IsRedisNil(err) {
		return false
	}
	if _, ok := rueidis.IsRedisErr(err); ok {
		return false
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, rueidis.ErrClosing), errors.Is(err, rueidis.ErrNoAddr),
		errors.Is(err, rueidis.ErrDoCacheAborted), errors.Is(err, errNotConnected):
		return true
	}
	return false
}

// isTimeout reports whether err is an I/O or dial timeout (not a ctx of
// the caller's: that is context.DeadlineExceeded, which is no net.Error).
func isTimeout(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
