package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// The direct path: a second engine client with DisableAutoPipelining,
// used for a call that starts while no other call of the engine is in
// flight. Bench rows that pay for it: kv GET/SET at 1 goroutine (vs
// go-redis's pool), cache remote Get and the uncontended lock at 1
// goroutine. The pipeline hands each command to a writer goroutine and each
// reply back from a reader goroutine; with one caller that hand-off is
// most of the client's cost (bench: the pipeline reaches ~0.7x go-redis's
// pool at 1 goroutine, the direct path ~1.1x). Under load nearly every
// call overlaps another and takes the pipeline, so throughput there is
// unchanged.
//
// rueidis's pooled connections have no reader goroutine, so a connection
// the server closed while it sat idle (a restart, CLIENT KILL, a timeout)
// is only found out by the next command on it, which then fails even if
// it never reached Redis. checkedConn looks first (a non-blocking peek at
// the socket, as go-redis does when it takes a connection from its pool)
// and refuses the write with errStaleConn; the engine then sends the command
// on the pipeline, so a call never fails because an idle connection died.

// errStaleConn is returned by a write on a connection the server has
// closed: nothing was sent.
var errStaleConn = errors.New("redkit: idle connection closed by the server; command not sent")

// A lone call whose ctx can be cancelled (a request's) takes the direct
// path too. rueidis writes and reads a pooled connection on the caller's
// goroutine with the connection's deadline set to the ctx's (capped at
// CommandTimeout), and closes a connection whose command failed, so a
// deadline needs nothing more. A cancellation does: while such a call is
// in flight, Engine.cur holds its directCall, the connection the call
// writes to registers there, and context.AfterFunc moves that
// connection's deadline to the past when ctx ends, which breaks the read.
// rueidis then discards the connection: it is never reused mid-reply. The
// direct path takes only calls that start while no other call is in
// flight, so at most one direct call is ever in flight and one slot is
// enough.

// directCall is the cancellation of the direct call in flight.
type directCall struct {
	slot  atomic.Pointer[directWatch]
	spare atomic.Pointer[directWatch] // one to reuse: 2 allocations less per call
}

type directWatch struct {
	ctx    context.Context
	stop   func() bool
	fireFn func() // w.fire, made once per directWatch

	mu   sync.Mutex
	conn *checkedConn // the connection the call wrote to
	done bool         // the call returned: leave conn alone
}

// watch arms the cancellation of a direct call on ctx; nil when ctx can
// never be cancelled.
func (e *Engine) watch(ctx context.Context) *directWatch {
	if ctx.Done() == nil {
		return nil
	}
	w := e.cur.spare.Swap(nil)
	if w == nil {
		w = &directWatch{}
		w.fireFn = w.fire
	}
	w.ctx, w.conn, w.done = ctx, nil, false
	e.cur.slot.Store(w)
	w.stop = context.AfterFunc(ctx, w.fireFn)
	return w
}

// unwatch disarms w once its call returned. After it, fire no longer
// touches the connection, which may already serve another call.
func (e *Engine) unwatch(w *directWatch) {
	if w == nil {
		return
	}
	e.cur.slot.Store(nil)
	stopped := w.stop()
	w.mu.Lock()
	w.done = true
	w.ctx, w.conn = nil, nil
	w.mu.Unlock()
	if stopped {
		// fire never runs for this call, so w can serve the next one; a
		// w whose fire did or may still run is left to the GC.
		e.cur.spare.Store(w)
	}
}

// fire breaks the read of the call's connection: ctx ended.
func (w *directWatch) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done && w.conn != nil {
		_ = w.conn.Conn.SetDeadline(time.Unix(1, 0))
	}
}

// begin is called by the connection before it writes a command: it
// registers the connection with the call in flight, and refuses the write
// when that call's ctx has already ended (nothing is sent).
func (w *directWatch) begin(c *checkedConn) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil // a write after the call returned is not the call's
	}
	w.conn = c
	return w.ctx.Err()
}

// directOption derives the direct client's options from the pipeline's.
func (e *Engine) directOption(opt rueidis.ClientOption) rueidis.ClientOption {
	opt.DisableAutoPipelining = true
	opt.DisableCache = true
	opt.OnInvalidations = nil
	opt.AlwaysPipelining = false
	// Pooled connections are written and read by the caller with a
	// connection deadline of CommandTimeout (or the ctx's, if sooner).
	opt.ConnWriteTimeout = e.opt.CommandTimeout
	dialer := net.Dialer{Timeout: e.opt.ConnectTimeout, KeepAlive: e.opt.KeepAlive}
	opt.DialCtxFn = func(ctx context.Context, dst string, _ *net.Dialer, tlsConfig *tls.Config) (net.Conn, error) {
		return dialChecked(ctx, &dialer, dst, tlsConfig, &e.cur)
	}
	return opt
}

func dialChecked(ctx context.Context, d *net.Dialer, dst string, tlsConfig *tls.Config, cur *directCall) (net.Conn, error) {
	raw, err := d.DialContext(ctx, "tcp", dst)
	if err != nil {
		return nil, err
	}
	c := newCheckedConn(raw)
	c.cur = cur
	if tlsConfig == nil {
		return c, nil
	}
	if tlsConfig.ServerName == "" {
		host, _, err := net.SplitHostPort(dst)
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("redkit: dial %s: %w", dst, err)
		}
		tlsConfig = tlsConfig.Clone()
		tlsConfig.ServerName = host
	}
	tc := tls.Client(c, tlsConfig)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return tc, nil
}

// checkedConn checks the socket before the first write that follows a
// read, that is before each command on a connection that was idle.
type checkedConn struct {
	net.Conn
	check func() error // nil where the platform cannot peek
	read  atomic.Bool  // a read returned since the last write
	cur   *directCall  // the engine's direct call in flight
}

func (c *checkedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.read.Store(true)
	return n, err
}

func (c *checkedConn) Write(b []byte) (int, error) {
	if c.cur != nil {
		if w := c.cur.slot.Load(); w != nil {
			if err := w.begin(c); err != nil {
				return 0, err
			}
		}
	}
	if c.check != nil && c.read.Swap(false) {
		if err := c.check(); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(b)
}

// do sends cmd on the direct path when the call is alone, else on the
// pipeline. A command the direct path could not send (errStaleConn) goes
// on the pipeline: its reader watches its own connections.
func (e *Engine) do(ctx context.Context, b *clients, cmd rueidis.Completed) rueidis.RedisResult {
	if cmd.IsBlock() {
		// A blocking command waits on a dedicated connection, for as long
		// as it blocks: it competes with no other call, so it is counted
		// but not kept in flight (which would keep every other call off
		// the direct path while a worker waits in BLPOP).
		e.enter(1)
		e.leave(1)
		return e.doBlocking(ctx, b, cmd)
	}
	alone := e.enter(1) == 1
	defer e.leave(1)
	if !alone || b.d == nil || cmd.NoReply() {
		// Blocking commands get dedicated connections, and (un)subscribe
		// commands belong on the connection that holds the subscription.
		return b.c.Do(ctx, cmd)
	}
	e.direct.Add(1)
	w := e.watch(ctx)
	r := b.d.Do(ctx, cmd)
	e.unwatch(w)
	if errors.Is(r.Error(), errStaleConn) {
		r = b.c.Do(ctx, cmd)
	}
	return r
}

// doMulti is do for a batch. On a cluster a batch spans nodes, and only
// the commands of a node whose connection was stale are resent.
func (e *Engine) doMulti(ctx context.Context, b *clients, cmds []rueidis.Completed) []rueidis.RedisResult {
	n := int64(len(cmds))
	alone := e.enter(n) == n
	defer e.leave(n)
	if !alone || b.d == nil {
		return b.c.DoMulti(ctx, cmds...)
	}
	for i := range cmds {
		if cmds[i].IsBlock() || cmds[i].NoReply() {
			return b.c.DoMulti(ctx, cmds...)
		}
	}
	e.direct.Add(1)
	w := e.watch(ctx)
	res := b.d.DoMulti(ctx, cmds...)
	e.unwatch(w)
	var again []int
	for i := range res {
		if errors.Is(res[i].Error(), errStaleConn) {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		resend := make([]rueidis.Completed, len(again))
		for j, i := range again {
			resend[j] = cmds[i]
		}
		for j, r := range b.c.DoMulti(ctx, resend...) {
			res[again[j]] = r
		}
	}
	return res
}

// exec is do for a Lua script.
func (e *Engine) exec(ctx context.Context, b *clients, script *rueidis.Lua, keys, args []string) rueidis.RedisResult {
	alone := e.enter(1) == 1
	defer e.leave(1)
	if !alone || b.d == nil {
		return script.Exec(ctx, b.c, keys, args)
	}
	e.direct.Add(1)
	w := e.watch(ctx)
	r := script.Exec(ctx, b.d, keys, args)
	e.unwatch(w)
	if errors.Is(r.Error(), errStaleConn) {
		r = script.Exec(ctx, b.c, keys, args)
	}
	return r
}
