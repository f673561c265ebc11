package redkit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// The direct path: a second engine client with DisableAutoPipelining,
// used for a call that starts while no other call of the Kit is in
// flight. The pipeline hands each command to a writer goroutine and each
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
// and refuses the write with errStaleConn; the Kit then sends the command
// on the pipeline, so a call never fails because an idle connection died.

// errStaleConn is returned by a write on a connection the server has
// closed: nothing was sent.
var errStaleConn = errors.New("redkit: idle connection closed by the server; command not sent")

// directOption derives the direct client's options from the pipeline's.
func directOption(opt rueidis.ClientOption, commandTimeout, keepAlive, dialTimeout time.Duration) rueidis.ClientOption {
	opt.DisableAutoPipelining = true
	opt.DisableCache = true
	opt.OnInvalidations = nil
	opt.AlwaysPipelining = false
	// Pooled connections are written and read by the caller with a
	// connection deadline of CommandTimeout (or the ctx's, if sooner).
	opt.ConnWriteTimeout = commandTimeout
	dialer := net.Dialer{Timeout: dialTimeout, KeepAlive: keepAlive}
	opt.DialCtxFn = func(ctx context.Context, dst string, _ *net.Dialer, tlsConfig *tls.Config) (net.Conn, error) {
		return dialChecked(ctx, &dialer, dst, tlsConfig)
	}
	return opt
}

func dialChecked(ctx context.Context, d *net.Dialer, dst string, tlsConfig *tls.Config) (net.Conn, error) {
	raw, err := d.DialContext(ctx, "tcp", dst)
	if err != nil {
		return nil, err
	}
	c := newCheckedConn(raw)
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
}

func (c *checkedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.read.Store(true)
	return n, err
}

func (c *checkedConn) Write(b []byte) (int, error) {
	if c.check != nil && c.read.Swap(false) {
		if err := c.check(); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(b)
}
