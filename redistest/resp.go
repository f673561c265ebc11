package redistest

// This file is a tiny RESP2 client. It is hand-written on purpose rather
// than built on rueidis: redistest is test-only plumbing, it must not start
// background goroutines (goleak runs in every package), and it must not
// depend on the client that the code under test uses, so a bug there cannot
// hide a bug in the fixtures. One connection per call, plain request/reply,
// no pipelining, no RESP3.

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// replyError is an error reply from the server ("-ERR ..."). Its text is the
// reply without the leading '-', so callers can match prefixes such as
// "WRONGPASS" or "NOAUTH".
type replyError string

func (e replyError) Error() string { return string(e) }

// respConn is one connection speaking RESP2.
type respConn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

// dialRESP connects to addr (over TLS when cfg is not nil), authenticates
// when pass is set (as user when user is set, else the default user) and
// applies timeout as the deadline for the whole life of the connection.
func dialRESP(addr string, cfg *tls.Config, user, pass string, timeout time.Duration) (*respConn, error) {
	d := &net.Dialer{Timeout: timeout}
	var (
		c   net.Conn
		err error
	)
	if cfg != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, cfg)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		c.Close()
		return nil, err
	}
	rc := &respConn{c: c, r: bufio.NewReader(c), w: bufio.NewWriter(c)}
	if pass != "" {
		args := []string{"AUTH", pass}
		if user != "" {
			args = []string{"AUTH", user, pass}
		}
		if _, err := rc.do(args...); err != nil {
			c.Close()
			return nil, fmt.Errorf("AUTH: %w", err)
		}
	}
	return rc, nil
}

func (rc *respConn) Close() error { return rc.c.Close() }

// do sends one command and reads its reply. The reply is a string (simple
// and bulk strings), an int64, nil (null bulk or null array), a []any, or a
// replyError returned as the error.
func (rc *respConn) do(args ...string) (any, error) {
	fmt.Fprintf(rc.w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(rc.w, "$%d\r\n%s\r\n", len(a), a)
	}
	if err := rc.w.Flush(); err != nil {
		return nil, err
	}
	v, err := readReply(rc.r)
	if err != nil {
		return nil, err
	}
	if e, ok := v.(replyError); ok {
		return nil, e
	}
	return v, nil
}

// readReply reads one RESP2 value. Error replies nested in arrays (as in
// EXEC) are kept as replyError values.
func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("redistest: malformed reply line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+':
		return body, nil
	case '-':
		return replyError(body), nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redistest: bad integer reply %q", body)
		}
		return n, nil
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, fmt.Errorf("redistest: bad bulk length %q", body)
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, fmt.Errorf("redistest: bad array length %q", body)
		}
		if n < 0 {
			return nil, nil
		}
		arr := make([]any, n)
		for i := range arr {
			if arr[i], err = readReply(r); err != nil {
				return nil, err
			}
		}
		return arr, nil
	}
	return nil, fmt.Errorf("redistest: unexpected reply type %q", kind)
}

// formatReply renders a reply the way Server.Do documents it.
func formatReply(v any) string {
	if v == nil {
		return ""
	}
	var b strings.Builder
	writeReply(&b, v)
	return b.String()
}

func writeReply(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("(nil)")
	case string:
		b.WriteString(v)
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case replyError:
		b.WriteString("(error) ")
		b.WriteString(string(v))
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(' ')
			}
			writeReply(b, e)
		}
		b.WriteByte(']')
	default:
		fmt.Fprint(b, v)
	}
}

// Reply helpers used by the cluster and sentinel code.

func asString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return ""
}

func asArray(v any) []any {
	a, _ := v.([]any)
	return a
}

// asMap turns a flat [k1 v1 k2 v2 ...] reply into a map of strings.
func asMap(v any) map[string]string {
	a := asArray(v)
	m := make(map[string]string, len(a)/2)
	for i := 0; i+1 < len(a); i += 2 {
		m[asString(a[i])] = asString(a[i+1])
	}
	return m
}

// infoField returns the value of field in an INFO-style "k:v" text.
func infoField(info, field string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && k == field {
			return v
		}
	}
	return ""
}

var errNotRunning = errors.New("redistest: server is not running")
