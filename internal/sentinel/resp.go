package sentinel

// A tiny RESP2 client: the Watcher needs a handful of commands (AUTH,
// CLIENT SETNAME, SENTINEL, ROLE, SUBSCRIBE, PING) on connections it
// fully controls — a dial per host with that host's TLS name, a deadline
// per command, closing to interrupt a blocked read — and no background
// goroutines of a client library. Plain request/reply, small pipelines,
// no RESP3.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// replyError is an error reply from the server ("-ERR ..."), without the
// '-'. The connection stays usable after one.
type replyError string

func (e replyError) Error() string { return string(e) }

// conn is one RESP2 connection. It is not safe for concurrent use.
type conn struct {
	nc net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
}

// dialer is what dial needs from Options.
type dialer struct {
	d          *net.Dialer
	tls        *tls.Config // as given; TLSFor is applied per address
	user, pass string
	name       string // CLIENT SETNAME, none when empty
}

// dial connects to addr, over TLS when d.tls is set, and sends AUTH and
// CLIENT SETNAME when configured, all within ctx.
func (d dialer) dial(ctx context.Context, addr string) (*conn, error) {
	nc, err := d.d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if d.tls != nil {
		tc := tls.Client(nc, TLSFor(d.tls, addr))
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		nc = tc
	}
	c := &conn{nc: nc, r: bufio.NewReader(nc), w: bufio.NewWriter(nc)}
	var cmds [][]string
	if d.pass != "" {
		if d.user != "" {
			cmds = append(cmds, []string{"AUTH", d.user, d.pass})
		} else {
			cmds = append(cmds, []string{"AUTH", d.pass})
		}
	}
	if d.name != "" {
		cmds = append(cmds, []string{"CLIENT", "SETNAME", d.name})
	}
	if len(cmds) > 0 {
		replies, err := c.pipeline(ctx, cmds...)
		if err == nil {
			for i, r := range replies {
				if e, ok := r.(replyError); ok {
					err = fmt.Errorf("%s: %w", cmds[i][0], e)
					break
				}
			}
		}
		if err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

func (c *conn) close() error { return c.nc.Close() }

// do sends one command and reads its reply (see read). An error reply is
// returned as a replyError error.
func (c *conn) do(ctx context.Context, args ...string) (any, error) {
	replies, err := c.pipeline(ctx, args)
	if err != nil {
		return nil, err
	}
	if e, ok := replies[0].(replyError); ok {
		return nil, e
	}
	return replies[0], nil
}

// pipeline sends the commands in one write and reads one reply per
// command; error replies are returned as replyError values in the slice.
// ctx bounds the whole exchange: when it ends the connection's deadline
// is moved to the past, so a blocked read returns. After an error other
// than an error reply the connection is in an unknown state and must be
// closed.
func (c *conn) pipeline(ctx context.Context, cmds ...[]string) ([]any, error) {
	return c.exchange(ctx, len(cmds), cmds...)
}

// exchange is pipeline for commands that have n replies in all, such as
// SUBSCRIBE, which confirms each channel.
func (c *conn) exchange(ctx context.Context, n int, cmds ...[]string) ([]any, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Time{}
	}
	if err := c.nc.SetDeadline(deadline); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	for _, args := range cmds {
		c.write(args)
	}
	if err := c.w.Flush(); err != nil {
		return nil, ctxErr(ctx, err)
	}
	replies := make([]any, n)
	for i := range replies {
		v, err := c.read()
		if err != nil {
			return nil, ctxErr(ctx, err)
		}
		replies[i] = v
	}
	return replies, nil
}

// ctxErr prefers ctx's error to the I/O error it caused. The connection's
// deadline is ctx's, and it may pass before ctx's own timer has fired: a
// timeout at or after ctx's deadline is reported as
// context.DeadlineExceeded too.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	var ne net.Error
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) && errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return err
}

// write buffers one command.
func (c *conn) write(args []string) {
	c.w.WriteByte('*')
	c.w.WriteString(strconv.Itoa(len(args)))
	c.w.WriteString("\r\n")
	for _, a := range args {
		c.w.WriteByte('$')
		c.w.WriteString(strconv.Itoa(len(a)))
		c.w.WriteString("\r\n")
		c.w.WriteString(a)
		c.w.WriteString("\r\n")
	}
}

// errProtocol marks a reply this client cannot parse.
var errProtocol = errors.New("sentinel: protocol error")

// read reads one RESP2 value: a string (simple or bulk), an int64, nil
// (null bulk or array), a []any, or a replyError.
func (c *conn) read() (any, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: reply line too long", errProtocol)
		}
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: malformed line %q", errProtocol, line)
	}
	kind, body := line[0], string(line[1:len(line)-2])
	switch kind {
	case '+':
		return body, nil
	case '-':
		return replyError(body), nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: integer %q", errProtocol, body)
		}
		return n, nil
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n > 512<<20 {
			return nil, fmt.Errorf("%w: bulk length %q", errProtocol, body)
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n > 1<<20 {
			return nil, fmt.Errorf("%w: array length %q", errProtocol, body)
		}
		if n < 0 {
			return nil, nil
		}
		arr := make([]any, n)
		for i := range arr {
			if arr[i], err = c.read(); err != nil {
				return nil, err
			}
		}
		return arr, nil
	}
	return nil, fmt.Errorf("%w: reply type %q", errProtocol, kind)
}

// asString returns v as a string, "" when it is not one.
func asString(v any) string {
	s, _ := v.(string)
	return s
}
