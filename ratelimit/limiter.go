package ratelimit

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/engine"
	"github.com/redkit-go/redkit/internal/telemetry"
)

//go:embed gcra.lua
var gcraLua string

// The script writes, so it is refused with an OOM error at maxmemory
// (the shebang): better an error than a half-spent AllowAll.
var gcraScript = rueidis.NewLuaScript("#!lua\n" + gcraLua)

// Limiter checks rate limits on one Kit, under one name. Its state lives in
// Redis, one string per limited key ("<prefix>ratelimit:<name>:{<key>}",
// packing the theoretical arrival time of each limit used on it: see
// gcra.lua), which expires by itself when the key is back to a full burst
// of every limit (at most 2 ms later). Every call is one
// script run (EVALSHA: TIME, GET and, when spending, SET with PX), on
// Redis's clock. A key left by an earlier version of this package (a
// hash) reads as reset: its next call gets a full burst.
//
// A Limiter is safe for concurrent use. It starts no goroutine until a
// FallbackLocal decision needs local state; Close releases that state and
// the metrics.
type Limiter struct {
	kit    *redkit.Kit
	name   string
	prefix string // the keys' prefix: "<kit prefix>ratelimit:<name>:"
	opts   Options
	log    *slog.Logger
	local  local
	outage atomic.Bool // a fallback is in force (the outage was logged)
	m      counters
	once   sync.Once
}

// Result is a limiter's decision.
type Result struct {
	// Allowed reports whether the events were allowed (and spent).
	Allowed bool
	// Remaining is how many events are still allowed now, after this call
	// (with several limits, the smallest).
	Remaining int
	// RetryAfter is, when refused, how long until the events asked for
	// would be allowed; 0 when allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the key is back to a full burst of
	// every limit, if nothing more is spent.
	ResetAfter time.Duration
	// Limit is the limit with the fewest remaining events (the first of
	// those), the one a client is closest to: what Middleware reports.
	Limit Limit
	// Fallback reports that the decision was made by Options.Fallback
	// because Redis was unavailable.
	Fallback bool
}

// New returns a Limiter on k whose keys live under name. It panics if k
// is nil, name is empty or opts.Validate reports an error (programming
// errors, caught at construction).
func New(k *redkit.Kit, name string, opts *Options) *Limiter {
	if k == nil {
		panic("ratelimit: New with nil Kit")
	}
	if name == "" {
		panic("ratelimit: New with an empty name")
	}
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	h := engine.HooksOf(k.Client())
	o := opts.normalize(h.Tel.Logger)
	l := &Limiter{
		kit:    k,
		name:   name,
		prefix: k.Key("ratelimit", name) + ":",
		opts:   o,
		log:    o.Logger,
	}
	l.local.max = o.LocalKeys
	l.m.register(h.Tel, name)
	return l
}

// Close unregisters the Limiter's metrics and drops its local fallback
// state (stopping otter's goroutines). Calls after Close still work (a
// later fallback builds new local state; Close again to release it).
// Close is idempotent and returns nil.
func (l *Limiter) Close() error {
	l.once.Do(l.m.unregister)
	l.local.close()
	return nil
}

// Name returns the Limiter's name.
func (l *Limiter) Name() string { return l.name }

// Key returns the Redis key that holds key's state.
func (l *Limiter) Key(key string) string {
	if key == "" || strings.ContainsAny(key, "%{}") {
		return l.prefix + redkit.HashTag(key)
	}
	return l.prefix + "{" + key + "}" // redkit.HashTag's, in one allocation
}

// Allow spends one event of key under limit, if limit allows it now. A
// refusal is a Result with Allowed false and a nil error. Errors: one
// wrapping ErrInvalid (and redkit.ErrEmptyKey for an empty key) for bad
// arguments, nothing sent; an *redkit.Error for Redis's error replies (such
// as redkit.ErrOOM); ctx's error. While Redis is unavailable the
// Options.Fallback decides, with a nil error.
func (l *Limiter) Allow(ctx context.Context, key string, limit Limit) (Result, error) {
	return l.do(ctx, "ratelimit: allow", key, 1, false, limit)
}

// AllowN spends n events at once, all or none, as Allow does. n must be
// at least 1 and at most the limit's burst (more could never be allowed).
func (l *Limiter) AllowN(ctx context.Context, key string, limit Limit, n int) (Result, error) {
	return l.do(ctx, "ratelimit: allow", key, n, false, limit)
}

// AllowAll spends one event of key under every limit ("5 per second and
// 100 per hour"), only if every one allows it: a refusal spends nothing
// from any of them. It is one script run on one Redis key, so it is atomic
// and works on a cluster. The Result's Remaining is the smallest over the
// limits, RetryAfter the time until all would allow, ResetAfter the time
// until all are back to a full burst. The same limit given twice counts
// once. Errors as for Allow, and ErrInvalid without limits.
func (l *Limiter) AllowAll(ctx context.Context, key string, limits ...Limit) (Result, error) {
	return l.do(ctx, "ratelimit: allow", key, 1, false, limits...)
}

// Peek reads key's state under limits without spending anything: Allowed
// reports whether one event would be allowed now, Remaining how many, and
// RetryAfter and ResetAfter are what AllowAll would report. Nothing is
// written (a key never used reads as a full burst). Errors as for AllowAll;
// while Redis is unavailable the fallback answers (FallbackLocal from its
// local state).
func (l *Limiter) Peek(ctx context.Context, key string, limits ...Limit) (Result, error) {
	return l.do(ctx, "ratelimit: peek", key, 1, true, limits...)
}

// Reset forgets what key has spent under every limit: the next call gets
// a full burst. It deletes key's state in Redis and key's local fallback
// state. Errors: ErrInvalid (and redkit.ErrEmptyKey) for an empty key; an
// *redkit.Error when Redis fails (Reset has no fallback); ctx's error.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	const op = "ratelimit: reset"
	if key == "" {
		return redkit.Wrap(op, key, errEmptyKey)
	}
	l.local.forget(l.Key(key))
	_, err := l.kit.Do(ctx, l.kit.B().Unlink().Key(l.Key(key)).Build())
	return redkit.Wrap(op, key, err)
}

var errEmptyKey = invalid("the key must not be empty: %w", redkit.ErrEmptyKey)

// do is every check: n events of key under limits, spent unless peek.
func (l *Limiter) do(ctx context.Context, op, key string, n int, peek bool, limits ...Limit) (Result, error) {
	if key == "" {
		return Result{}, redkit.Wrap(op, key, errEmptyKey)
	}
	if len(limits) == 0 {
		return Result{}, redkit.Wrap(op, key, invalid("no limits given"))
	}
	if n < 1 {
		return Result{}, redkit.Wrap(op, key, invalid("n must be at least 1 (got %d)", n))
	}
	var sbuf [4]*spec
	sp := sbuf[:0]
	for _, lim := range limits {
		s, err := specOf(lim)
		if err != nil {
			return Result{}, redkit.Wrap(op, key, err)
		}
		if n > s.burst {
			return Result{}, redkit.Wrap(op, key, invalid("n %d is above the burst of %s: it could never be allowed", n, lim))
		}
		if !dup(sp, s) {
			sp = append(sp, s)
		}
	}
	// The key and the arguments share one allocation.
	cmd := make([]string, 2, 2+len(sp))
	cmd[0] = l.Key(key)
	if peek {
		cmd[1] = strconv.Itoa(-n)
	} else {
		cmd[1] = strconv.Itoa(n)
	}
	for _, s := range sp {
		cmd = append(cmd, s.arg)
	}
	var msg rueidis.RedisMessage
	var err error
	if l.opts.Timeout > 0 {
		tctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
		msg, err = l.kit.Exec(tctx, gcraScript, cmd[:1:1], cmd[1:])
		cancel()
	} else {
		msg, err = l.kit.Exec(ctx, gcraScript, cmd[:1:1], cmd[1:])
	}
	if err != nil {
		if unavailable(ctx, err) {
			return l.fallback(key, n, peek, sp, err), nil
		}
		return Result{}, redkit.Wrap(op, key, err)
	}
	if l.outage.Load() {
		l.recovered()
	}
	r, err := parse(msg, sp)
	if err != nil {
		return Result{}, redkit.Wrap(op, key, err)
	}
	if !peek {
		l.m.count(r.Allowed)
	}
	return r, nil
}

// dup reports whether s (or a limit that allows the same) is in sp.
func dup(sp []*spec, s *spec) bool {
	for _, x := range sp {
		if x.field == s.field {
			return true
		}
	}
	return false
}

// unavailable reports whether err means Redis could not answer (the
// fallback decides), rather than an answer, bad input or a caller that
// gave up. ctx is the caller's: a deadline error while it is live is
// Options.Timeout's or the Kit's.
func unavailable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	return errors.Is(err, redkit.ErrUnavailable) || errors.Is(err, redkit.ErrLoading) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)
}

// parse reads the script's reply: allowed, remaining, retry after (µs),
// reset after (µs), the binding limit (1-based).
func parse(msg rueidis.RedisMessage, sp []*spec) (Result, error) {
	a, err := msg.ToArray() // the reply's own slice: no copy, unlike AsIntSlice
	if err != nil {
		return Result{}, err
	}
	var v [5]int64
	if len(a) != len(v) {
		return Result{}, errors.New("ratelimit: unexpected script reply")
	}
	for i := range a {
		if v[i], err = a[i].AsInt64(); err != nil {
			return Result{}, err
		}
	}
	if v[4] < 1 || int(v[4]) > len(sp) {
		return Result{}, errors.New("ratelimit: unexpected script reply")
	}
	return Result{
		Allowed:    v[0] == 1,
		Remaining:  int(max(v[1], 0)),
		RetryAfter: time.Duration(v[2]) * time.Microsecond,
		ResetAfter: time.Duration(v[3]) * time.Microsecond,
		Limit:      sp[v[4]-1].limit,
	}, nil
}

// fallback decides with Options.Fallback while Redis is unavailable; the
// first call of an outage logs it.
func (l *Limiter) fallback(key string, n int, peek bool, sp []*spec, cause error) Result {
	if !l.outage.Load() && l.outage.CompareAndSwap(false, true) {
		l.log.Warn("ratelimit: redis unavailable, deciding with the fallback until it is back",
			keyName, l.name, "ratelimit.fallback", l.opts.Fallback.String(), telemetry.KeyError, cause)
	}
	var r Result
	switch l.opts.Fallback {
	case FallbackAllow:
		spend := n
		if peek {
			spend = 0
		}
		r = Result{Allowed: true, Remaining: -1}
		for _, s := range sp {
			if rem := s.burst - spend; r.Remaining < 0 || rem < r.Remaining {
				r.Remaining, r.Limit = rem, s.limit
			}
		}
	case FallbackDeny:
		r = Result{RetryAfter: time.Duration(sp[0].interval) * time.Microsecond, Limit: sp[0].limit}
	default:
		r = l.local.decide(l.Key(key), n, peek, sp)
	}
	r.Fallback = true
	if !peek {
		l.m.fallback.Add(1)
		l.m.count(r.Allowed)
	}
	return r
}

// recovered ends an outage: Redis answered again.
func (l *Limiter) recovered() {
	if l.outage.CompareAndSwap(true, false) {
		l.log.Info("ratelimit: redis is back, fallback no longer in force", keyName, l.name)
		l.local.reset()
	}
}

const keyName = "ratelimit.name"

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
