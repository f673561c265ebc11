// Package engine is redkit's one route to Redis. Every call of every
// redkit package, and every call a user makes through Kit.Client, goes
// through an Engine, which applies the circuit breaker, the retry of
// idempotent commands (through rueidis), the classification of errors
// into *Error, the counters behind Kit.Stats and the Kit's metrics.
//
// The files, by concern:
//
//	engine.go    Engine, New, Close, the call path (begin, do, finish)
//	connect.go   building the rueidis clients, connecting in the background
//	direct.go    the direct path for lone calls (a pooled connection)
//	client.go    Client: the route as a rueidis.Client (Kit.Client)
//	breaker.go   the circuit breaker (gobreaker with a lock-free fast path)
//	errors.go    Error, the sentinels, Classify, Wrap
//	health.go    probes and periodic health watches
//	hooks.go     what packages need besides calls: telemetry, invalidations, hit counts
//	metrics.go   the engine's OpenTelemetry instruments
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit/internal/sentinel"
	"github.com/redkit-go/redkit/internal/telemetry"
)

// Engine is one connection to Redis (a node, a Sentinel group or a
// Cluster) and the route every call takes to it. It is safe for
// concurrent use.
type Engine struct {
	opt   Options
	log   *slog.Logger
	hooks *Hooks
	route *Client

	clients     atomic.Pointer[clients]
	lastErr     atomic.Pointer[error] // the last failed connection attempt
	maxBulk     atomic.Int64          // the server's proto-max-bulk-len, 0 = not read yet (size.go)
	placeholder rueidis.Client        // B before the first connection
	watcher     *sentinel.Watcher     // follows the master in Sentinel mode (sentinel.go)
	brk         *breaker

	// calls and folded count commands: see enter and leave. calls is
	// written by every call from every core; the padding keeps it off
	// the cache line of the read-mostly fields every call loads (closed,
	// clients...), which otherwise miss on each call (measured: 0.87x of
	// the bare engine at 128 goroutines without it).
	_      [64]byte
	calls  atomic.Int64
	_      [56]byte
	folded atomic.Int64
	errs   atomic.Int64
	direct atomic.Int64 // calls sent on the direct path
	cur    directCall   // the direct call in flight, if any (direct.go)

	health healthState

	closed    atomic.Bool
	ctx       context.Context // cancelled by Close, for the engine's goroutines
	cancel    context.CancelFunc
	closeCh   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
	metrics   func() // unregisters the metrics
}

// New connects and returns an Engine. With opt.AbortOnConnectFail false
// and Redis unreachable, it returns an Engine that keeps connecting in the
// background. Errors: an *Error with Kind ErrUnavailable when Redis cannot
// be reached and AbortOnConnectFail is set; the server's refusal of the
// credentials; an error wrapping ErrConfig; ctx's error if ctx ends.
func New(ctx context.Context, opt Options) (*Engine, error) {
	if opt.Telemetry == nil {
		opt.Telemetry = telemetry.New(nil, nil, nil, "")
	}
	e := &Engine{
		opt:         opt,
		log:         opt.Telemetry.Logger,
		hooks:       &Hooks{Tel: opt.Telemetry},
		placeholder: newPlaceholder(),
		closeCh:     make(chan struct{}),
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.route = &Client{e: e}
	e.brk = newBreaker(opt.Breaker, func(from, to BreakerState) {
		e.log.Warn("redkit: circuit breaker state changed", "from", string(from), "to", string(to))
	})

	b, err := e.connect(ctx, opt.ConnectRetry)
	switch {
	case err == nil:
		if !e.clients.CompareAndSwap(nil, b) {
			b.close() // the sentinel watcher already moved to a newer master
		}
	case opt.AbortOnConnectFail || IsAuthError(err) || ctx.Err() != nil || errors.Is(err, ErrConfig):
		// Credentials and configuration the server refused fail Open
		// either way: connecting in the background would only repeat it.
		return nil, err
	default:
		e.log.Warn("redkit: redis unreachable, connecting in the background", telemetry.KeyError, err)
		e.wg.Add(1)
		go e.connectLoop(err)
	}
	if err := e.registerMetrics(); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Close closes the connections and stops every goroutine of the engine
// (the background connect, health watches). It is idempotent.
func (e *Engine) Close() {
	e.closeOnce.Do(func() {
		e.closed.Store(true)
		close(e.closeCh)
		e.cancel()
		e.wg.Wait()
		if e.watcher != nil {
			e.watcher.Close()
		}
		if b := e.clients.Load(); b != nil {
			b.close()
		}
		if e.metrics != nil {
			e.metrics()
		}
	})
}

// Hooks returns what packages need besides calls.
func (e *Engine) Hooks() *Hooks { return e.hooks }

// Client returns the route as a rueidis.Client.
func (e *Engine) Client() *Client { return e.route }

// current returns the connected pipeline client or nil.
func (e *Engine) current() rueidis.Client {
	if b := e.clients.Load(); b != nil {
		return b.c
	}
	return nil
}

// Connected reports whether the engine has a connection to Redis (it
// may still be failing).
func (e *Engine) Connected() bool { return e.clients.Load() != nil }

// Mode reports the topology: "standalone", "cluster" or "sentinel", or
// "" before the engine connects.
func (e *Engine) Mode() string {
	c := e.current()
	switch {
	case c == nil:
		return ""
	case e.opt.Sentinel.MasterName != "":
		return string(rueidis.ClientModeSentinel)
	}
	return string(c.Mode())
}

// Nodes is the number of nodes the engine knows (masters and replicas).
func (e *Engine) Nodes() int {
	if c := e.current(); c != nil {
		return len(c.Nodes())
	}
	return 0
}

// B returns a command builder. Before the engine connects it is a
// placeholder's, whose commands carry no cluster slot; such a command is
// refused on a cluster (see checkSlot) instead of reaching the engine,
// which would index its slot table with it.
func (e *Engine) B() rueidis.Builder {
	if c := e.current(); c != nil {
		return c.B()
	}
	return e.placeholder.B()
}

// Counts are the engine's counters, for Kit.Stats.
type Counts struct {
	Ops, Errors, Direct int64
	Breaker             BreakerState
	BreakerOpens        int64
}

// Counts returns the engine's counters. It does no I/O.
func (e *Engine) Counts() Counts {
	c := Counts{Ops: e.ops(), Errors: e.errs.Load(), Direct: e.direct.Load(), Breaker: e.brk.state()}
	if e.brk != nil {
		c.BreakerOpens = e.brk.opens.Load()
	}
	return c
}

// The engine counts commands in one word, calls: the low inflightBits
// bits are commands in flight, the bits above commands finished. A call
// adds n when it starts, which also tells it whether it is alone (the
// direct path), and n<<inflightBits - n when it ends: one atomic add
// each, the least that counting both can cost: on 2 cores every shared
// cache line bounces between them, and in a profile at 128 goroutines an
// ops counter plus an in-flight gauge took 2.9% of the CPU, separate
// started and finished counters 1.8%. Finished commands are moved to
// folded every 2^38 so that calls never overflows.
const (
	inflightBits = 24
	inflightMask = 1<<inflightBits - 1
	foldAt       = 1 << 62
)

// enter counts n commands in flight and returns the number in flight,
// these included.
func (e *Engine) enter(n int64) int64 { return e.calls.Add(n) & inflightMask }

// leave moves n commands from in flight to finished.
func (e *Engine) leave(n int64) {
	if e.calls.Add(n<<inflightBits-n) >= foldAt {
		// Rare; concurrent folds are fine: each moves the same amount.
		e.folded.Add(foldAt >> inflightBits)
		e.calls.Add(-foldAt)
	}
}

// ops is the number of commands started.
func (e *Engine) ops() int64 {
	v := e.calls.Load()
	return e.folded.Load() + v>>inflightBits + v&inflightMask
}

// errStaleBuilder is the cause of a command refused by checkSlot.
var errStaleBuilder = errors.New("redkit: command built before the connection to the cluster was made; build it again with B")

// begin admits a call of n commands: the engine is open and connected,
// and the breaker lets it through. done is what the breaker's allow
// returned, to be passed to finish.
func (e *Engine) begin(n int64) (*clients, func(error), error) {
	if e.closed.Load() {
		return nil, nil, &Error{Op: "redkit: do", Kind: ErrClosed}
	}
	b := e.clients.Load()
	if b == nil {
		return nil, nil, &Error{Op: "redkit: do", Kind: ErrUnavailable, Err: e.notConnected()}
	}
	done, err := e.brk.allow()
	if err != nil {
		// Counted as a command that was refused: started and finished.
		e.enter(n)
		e.leave(n)
		e.errs.Add(n)
		return nil, nil, err
	}
	return b, done, nil
}

// checkSlot refuses, on a cluster, a command built by the placeholder's
// builder (before the first connection): it carries no slot.
func checkSlot(b *clients, cmd *rueidis.Completed) error {
	if cmd.Slot()&noSlot != 0 && b.c.Mode() == rueidis.ClientModeCluster {
		return &Error{Op: "redkit: do", Kind: ErrUnavailable, Err: errStaleBuilder}
	}
	return nil
}

// noSlot is rueidis's cmds.NoSlot: the flag a standalone builder sets.
const noSlot = 1 << 15

// errCallerGone is what the breaker is told when a call ended because
// its ctx did: excluded from its counts (gobreaker's IsExcluded), since
// it says nothing of Redis's health either way.
var errCallerGone = errors.New("redkit: caller gave up")

// finish records the outcome of a call for statistics and the breaker,
// and returns the error the caller sees (see classify).
func (e *Engine) finish(ctx context.Context, done func(error), err error) error {
	if err == nil || isReplyOrNil(err) {
		e.brk.report(done, nil)
		return err
	}
	e.brk.report(done, breakerErr(ctx, err))
	return e.classify(ctx, err)
}

// finishMulti is finish for a batch: each failed command's error is
// classified in place, and the breaker is told of the first failure.
func (e *Engine) finishMulti(ctx context.Context, done func(error), res []rueidis.RedisResult) {
	var first error
	for i := range res {
		if err := res[i].NonRedisError(); err != nil {
			if first == nil {
				first = err
			}
			res[i] = rueidis.NewErrorResult(e.classify(ctx, err))
		}
	}
	e.brk.report(done, breakerErr(ctx, first))
}

// breakerErr is what the breaker is told of a failed call: nothing when
// its caller gave up (ctx ended), since that says nothing of Redis.
func breakerErr(ctx context.Context, err error) error {
	if err != nil && callerGone(ctx) != nil {
		return errCallerGone
	}
	return err
}

// callerGone returns the error of ctx once it has ended, or once its
// deadline has passed: a connection deadline set from it (the direct path)
// can fire a moment before ctx's own timer does.
func callerGone(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		// ctx's timer is due: wait for it (briefly: a ctx of another
		// kind may never end), so that the caller, who will look at
		// ctx.Err(), sees its ctx ended.
		t := time.NewTimer(10 * time.Millisecond)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return context.DeadlineExceeded
		}
	}
	return nil
}

// classify counts a command that got no reply and turns its error into
// what the caller sees: the caller's ctx error when its ctx ended; an
// *Error with Kind ErrUnavailable for a transport failure, wrapping
// context.DeadlineExceeded when the server left the connection silent
// for CommandTimeout.
func (e *Engine) classify(ctx context.Context, err error) error {
	e.errs.Add(1)
	if gone := callerGone(ctx); gone != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		// The direct path breaks a read by moving the connection's
		// deadline; to the caller that is its ctx ending.
		return fmt.Errorf("%w (%w)", gone, err)
	}
	if isTimeout(err) {
		// The engine's watchdog closed a connection that did not answer
		// (see watchdog); to the caller that is its CommandTimeout.
		return &Error{Op: "redkit: do", Kind: ErrUnavailable,
			Err: fmt.Errorf("no reply within CommandTimeout %s: %w (%w)", e.opt.CommandTimeout, context.DeadlineExceeded, err)}
	}
	var re *Error
	if errors.As(err, &re) {
		return err
	}
	return &Error{Op: "redkit: do", Kind: ErrUnavailable, Err: err}
}

// Do runs one command. A nil reply comes back as an error for which
// rueidis.IsRedisNil is true; other errors are the server's reply
// (*rueidis.RedisError), an *Error with Kind ErrUnavailable or ErrClosed,
// or the caller's ctx error.
func (e *Engine) Do(ctx context.Context, cmd rueidis.Completed) (rueidis.RedisMessage, error) {
	r := e.DoResult(ctx, cmd)
	return r.ToMessage()
}

// DoResult is Do returning the engine's result type.
func (e *Engine) DoResult(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	b, done, err := e.begin(1)
	if err != nil {
		return rueidis.NewErrorResult(err)
	}
	if err := e.checkCmds(ctx, b, []rueidis.Completed{cmd}); err != nil {
		e.brk.report(done, nil)
		return rueidis.NewErrorResult(err)
	}
	r := e.do(ctx, b, cmd)
	if err := r.Error(); err != nil {
		if err = e.finish(ctx, done, err); !isReplyOrNil(err) {
			return rueidis.NewErrorResult(err)
		}
		return r
	}
	e.brk.report(done, nil)
	return r
}

func isReplyOrNil(err error) bool {
	if rueidis.IsRedisNil(err) {
		return true
	}
	_, ok := rueidis.IsRedisErr(err)
	return ok
}

// DoMulti pipelines cmds (on a cluster the engine splits them per slot).
// The error is non-nil only when nothing was sent (breaker open, not
// connected, closed); each result carries its own error, classified as
// Do's are.
func (e *Engine) DoMulti(ctx context.Context, cmds ...rueidis.Completed) ([]rueidis.RedisResult, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	n := int64(len(cmds))
	b, done, err := e.begin(n)
	if err != nil {
		return nil, err
	}
	if err := e.checkCmds(ctx, b, cmds); err != nil {
		e.brk.report(done, nil)
		return nil, err
	}
	res := e.doMulti(ctx, b, cmds)
	e.finishMulti(ctx, done, res)
	return res, nil
}

// DoCache runs a cacheable read through the engine's server-assisted
// client-side cache (RESP3 client tracking), with ttl as the local cap.
// It behaves like Do otherwise.
func (e *Engine) DoCache(ctx context.Context, cmd rueidis.Cacheable, ttl time.Duration) (rueidis.RedisMessage, error) {
	b, done, err := e.begin(1)
	if err != nil {
		return rueidis.RedisMessage{}, err
	}
	if err := checkSlot(b, (*rueidis.Completed)(&cmd)); err != nil {
		e.brk.report(done, nil)
		return rueidis.RedisMessage{}, err
	}
	e.enter(1)
	msg, err := b.c.DoCache(ctx, cmd, ttl).ToMessage()
	e.leave(1)
	if err != nil {
		err = e.finish(ctx, done, err)
	} else {
		e.brk.report(done, nil)
	}
	return msg, err
}

// DoMultiCache is DoCache for several reads at once.
func (e *Engine) DoMultiCache(ctx context.Context, cmds ...rueidis.CacheableTTL) ([]rueidis.RedisResult, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	n := int64(len(cmds))
	b, done, err := e.begin(n)
	if err != nil {
		return nil, err
	}
	for i := range cmds {
		if err := checkSlot(b, (*rueidis.Completed)(&cmds[i].Cmd)); err != nil {
			e.brk.report(done, nil)
			return nil, err
		}
	}
	e.enter(n)
	res := b.c.DoMultiCache(ctx, cmds...)
	e.leave(n)
	e.finishMulti(ctx, done, res)
	return res, nil
}

// Exec runs a Lua script (EVALSHA, falling back to EVAL on NOSCRIPT)
// with the given keys and args, like Do. On a cluster all keys must hash
// to one slot.
func (e *Engine) Exec(ctx context.Context, script *rueidis.Lua, keys, args []string) (rueidis.RedisMessage, error) {
	b, done, err := e.begin(1)
	if err != nil {
		return rueidis.RedisMessage{}, err
	}
	if err := e.checkSize(ctx, b, args); err != nil {
		e.brk.report(done, nil)
		return rueidis.RedisMessage{}, err
	}
	msg, err := e.exec(ctx, b, script, keys, args).ToMessage()
	if err != nil {
		err = e.finish(ctx, done, err)
	} else {
		e.brk.report(done, nil)
	}
	return msg, err
}

// Receive subscribes with sub and calls fn for each message until ctx
// ends, the subscription ends or the connection fails, like
// rueidis.Client.Receive; the breaker and counters see it as one call.
func (e *Engine) Receive(ctx context.Context, sub rueidis.Completed, fn func(rueidis.PubSubMessage)) error {
	b, done, err := e.begin(1)
	if err != nil {
		return err
	}
	if err := checkSlot(b, &sub); err != nil {
		e.brk.report(done, nil)
		return err
	}
	// Counted as one command, not kept in flight: a subscription lasts,
	// on a connection of its own.
	e.enter(1)
	e.leave(1)
	err = b.c.Receive(ctx, sub, fn)
	return e.finish(ctx, done, err)
}
