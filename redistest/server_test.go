package redistest_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redkit-go/redkit/redistest"
)

// rawConn is a deliberately separate, minimal RESP client for the tests, so
// they check the servers without trusting redistest's own client.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string, cfg *tls.Config) *rawConn {
	t.Helper()
	var (
		c   net.Conn
		err error
	)
	if cfg != nil {
		c, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	} else {
		c, err = net.DialTimeout("tcp", addr, 5*time.Second)
	}
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

// cmd sends one command and returns the reply's text: "+OK" gives "OK",
// "$5 hello" gives "hello", ":1" gives "1"; an error reply is an error.
func (c *rawConn) cmd(timeout time.Duration, args ...string) (string, error) {
	c.SetDeadline(time.Now().Add(timeout))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return "", err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply line")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unsupported reply %q", line)
}

// do is Server.Do failing the test on error.
func do(t *testing.T, s *redistest.Server, args ...string) string {
	t.Helper()
	v, err := s.Do(args...)
	if err != nil {
		t.Fatalf("%s %v: %v", s.Addr(), args, err)
	}
	return v
}

func TestStartDo(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, nil)

	if got, want := s.Addr(), "127.0.0.1:"+strconv.Itoa(s.Port()); got != want {
		t.Errorf("Addr() = %q, want %q", got, want)
	}
	if got, want := s.URL(), "redis://"+s.Addr(); got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
	if s.TLSConfig() != nil {
		t.Error("TLSConfig() != nil without TLS")
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "redis.conf")); err != nil {
		t.Errorf("redis.conf not in Dir(): %v", err)
	}

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG"},
		{[]string{"SET", "k", "v 1"}, "OK"},
		{[]string{"GET", "k"}, "v 1"},
		{[]string{"GET", "missing"}, ""},
		{[]string{"INCR", "n"}, "1"},
		{[]string{"RPUSH", "l", "a", "b"}, "2"},
		{[]string{"LRANGE", "l", "0", "-1"}, "[a b]"},
		{[]string{"MGET", "k", "missing"}, "[v 1 (nil)]"},
		{[]string{"CONFIG", "GET", "appendonly"}, "[appendonly no]"},
		{[]string{"CONFIG", "GET", "save"}, "[save ]"},
	}
	for _, tt := range tests {
		if got := do(t, s, tt.args...); got != tt.want {
			t.Errorf("Do(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
	if _, err := s.Do("NOSUCHCOMMAND"); err == nil || !strings.HasPrefix(err.Error(), "ERR unknown command") {
		t.Errorf("Do(NOSUCHCOMMAND) error = %v, want ERR unknown command", err)
	}
	if _, err := s.Do(); err == nil {
		t.Error("Do() with no command: no error")
	}
	// Do talks to the real server: another client sees the write.
	if got, err := dialRaw(t, s.Addr(), nil).cmd(time.Second, "GET", "k"); err != nil || got != "v 1" {
		t.Errorf("raw GET k = %q, %v; want \"v 1\"", got, err)
	}
}

func TestArgs(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, &redistest.Options{Args: []string{"maxmemory 2mb", "maxmemory-policy allkeys-lru"}})
	if got, want := do(t, s, "CONFIG", "GET", "maxmemory"), "[maxmemory 2097152]"; got != want {
		t.Errorf("CONFIG GET maxmemory = %q, want %q", got, want)
	}
	if got, want := do(t, s, "CONFIG", "GET", "maxmemory-policy"), "[maxmemory-policy allkeys-lru]"; got != want {
		t.Errorf("CONFIG GET maxmemory-policy = %q, want %q", got, want)
	}
}

func TestPassword(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, &redistest.Options{Password: `p@ss "word"`})
	if got, want := s.URL(), "redis://:p%40ss%20%22word%22@"+s.Addr(); got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
	if got := do(t, s, "SET", "k", "v"); got != "OK" { // Do authenticates
		t.Errorf("SET = %q, want OK", got)
	}
	c := dialRaw(t, s.Addr(), nil)
	if _, err := c.cmd(time.Second, "GET", "k"); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Errorf("GET without AUTH: error %v, want NOAUTH", err)
	}
	if _, err := c.cmd(time.Second, "AUTH", "wrong"); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Errorf("AUTH wrong: error %v, want WRONGPASS", err)
	}
	if got, err := c.cmd(time.Second, "AUTH", `p@ss "word"`); err != nil || got != "OK" {
		t.Fatalf("AUTH right = %q, %v; want OK", got, err)
	}
	if got, err := c.cmd(time.Second, "GET", "k"); err != nil || got != "v" {
		t.Errorf("GET after AUTH = %q, %v; want v", got, err)
	}
}

func TestACLUser(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, &redistest.Options{ACLUser: "app", ACLPassword: "s3cret"})
	if got, want := s.URL(), "redis://app:s3cret@"+s.Addr(); got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
	c := dialRaw(t, s.Addr(), nil)
	if _, err := c.cmd(time.Second, "AUTH", "app", "wrong"); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Errorf("AUTH app wrong: error %v, want WRONGPASS", err)
	}
	if got, err := c.cmd(time.Second, "AUTH", "app", "s3cret"); err != nil || got != "OK" {
		t.Fatalf("AUTH app s3cret = %q, %v; want OK", got, err)
	}
	if got, err := c.cmd(time.Second, "ACL", "WHOAMI"); err != nil || got != "app" {
		t.Errorf("ACL WHOAMI = %q, %v; want app", got, err)
	}
	if got, err := c.cmd(time.Second, "SET", "k", "v"); err != nil || got != "OK" {
		t.Errorf("SET as app = %q, %v; want OK", got, err)
	}
	if got := do(t, s, "GET", "k"); got != "v" {
		t.Errorf("GET via Do = %q, want v", got)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, &redistest.Options{TLS: true, Password: "pw"})
	if got, want := s.URL(), "rediss://:pw@"+s.Addr(); got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
	cfg := s.TLSConfig()
	if cfg == nil {
		t.Fatal("TLSConfig() = nil with TLS")
	}
	c := dialRaw(t, s.Addr(), cfg)
	if got, err := c.cmd(5*time.Second, "AUTH", "pw"); err != nil || got != "OK" {
		t.Fatalf("AUTH over TLS = %q, %v; want OK", got, err)
	}
	if got, err := c.cmd(5*time.Second, "PING"); err != nil || got != "PONG" {
		t.Errorf("PING over TLS = %q, %v; want PONG", got, err)
	}
	if got := do(t, s, "PING"); got != "PONG" {
		t.Errorf("Do(PING) with TLS = %q, want PONG", got)
	}
	// The certificate is valid for localhost too.
	lcfg := s.TLSConfig()
	lcfg.ServerName = "localhost"
	lc := dialRaw(t, s.Addr(), lcfg)
	if got, err := lc.cmd(5*time.Second, "AUTH", "pw"); err != nil || got != "OK" {
		t.Errorf("AUTH over TLS as localhost = %q, %v; want OK", got, err)
	}
	// Plain text is not served.
	pc := dialRaw(t, s.Addr(), nil)
	if got, err := pc.cmd(time.Second, "PING"); err == nil {
		t.Errorf("plain-text PING on the TLS port answered %q", got)
	}
	// Without the CA, the certificate is not trusted.
	if c, err := tls.Dial("tcp", s.Addr(), &tls.Config{ServerName: "127.0.0.1"}); err == nil {
		c.Close()
		t.Error("TLS handshake without the generated CA succeeded")
	}
	// Restart keeps the certificates.
	s.Restart()
	if got := do(t, s, "PING"); got != "PONG" {
		t.Errorf("Do(PING) after Restart = %q, want PONG", got)
	}
}

func TestPersistenceRestart(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, &redistest.Options{Persistence: true})
	port := s.Port()
	do(t, s, "SET", "k", "kept")
	s.Restart()
	if s.Port() != port {
		t.Errorf("Port() after Restart = %d, want %d", s.Port(), port)
	}
	if got := do(t, s, "GET", "k"); got != "kept" {
		t.Errorf("GET after Restart = %q, want kept", got)
	}
	do(t, s, "SET", "k2", "kept too")
	s.Stop()
	s.Restart()
	if got := do(t, s, "GET", "k2"); got != "kept too" {
		t.Errorf("GET after Stop, Restart = %q, want %q", got, "kept too")
	}
}

func TestRestartWithoutPersistenceLosesData(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, nil)
	do(t, s, "SET", "k", "v")
	s.Restart()
	if got := do(t, s, "EXISTS", "k"); got != "0" {
		t.Errorf("EXISTS k after Restart = %q, want 0", got)
	}
	entries, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".rdb") || strings.HasPrefix(e.Name(), "appendonly") {
			t.Errorf("non-persistent server wrote %s", e.Name())
		}
	}
}

func TestKillRestart(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, nil)
	addr := s.Addr()
	s.Kill()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("dial %s after Kill succeeded", addr)
	}
	if _, err := s.Do("PING"); err == nil {
		t.Error("Do(PING) after Kill: no error")
	}
	s.Kill() // no-op
	s.Stop() // no-op
	s.Restart()
	if s.Addr() != addr {
		t.Errorf("Addr() after Restart = %q, want %q", s.Addr(), addr)
	}
	if got := do(t, s, "PING"); got != "PONG" {
		t.Errorf("PING after Kill, Restart = %q, want PONG", got)
	}
}

func TestPause(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, nil)
	c := dialRaw(t, s.Addr(), nil)
	if _, err := c.cmd(time.Second, "PING"); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	s.Pause(200 * time.Millisecond)
	_, err := c.cmd(50*time.Millisecond, "PING")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("PING with a 50ms deadline while paused: error %v, want a timeout", err)
	}
	// The PING sent above is answered once the server resumes.
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := c.r.ReadString('\n')
	if err != nil || line != "+PONG\r\n" {
		t.Fatalf("reply after resume = %q, %v; want +PONG", line, err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("paused server answered after %v, want >= 200ms", d)
	}
	if got, err := c.cmd(time.Second, "PING"); err != nil || got != "PONG" {
		t.Errorf("PING after resume = %q, %v; want PONG", got, err)
	}

	// Pause without a timer lasts until Resume.
	s.Pause(0)
	if _, err := c.cmd(100*time.Millisecond, "PING"); err == nil {
		t.Fatal("PING answered while paused")
	}
	s.Resume()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if line, err := c.r.ReadString('\n'); err != nil || line != "+PONG\r\n" {
		t.Fatalf("reply after Resume = %q, %v; want +PONG", line, err)
	}
	s.Resume() // no-op

	// A paused server can still be stopped and restarted.
	s.Pause(time.Hour)
	s.Restart()
	if got := do(t, s, "PING"); got != "PONG" {
		t.Errorf("PING after Pause, Restart = %q, want PONG", got)
	}
}

// failure runs f with a TB that records a fatal failure instead of ending
// the test, and returns the failure message ("" if f did not fail).
func failure(f func(tb *redistest.TB)) (msg string) {
	tb := redistest.NewTB("failure")
	defer tb.Close()
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f(tb)
	return ""
}

func TestStartFailureShowsLog(t *testing.T) {
	t.Parallel()
	msg := failure(func(tb *redistest.TB) {
		redistest.Start(tb, &redistest.Options{Args: []string{"no-such-directive yes"}})
	})
	if !strings.Contains(msg, "no-such-directive") || !strings.Contains(msg, "Bad directive") ||
		!strings.Contains(msg, "redistest: start redis-server on 127.0.0.1:") {
		t.Errorf("failure message does not carry the server's complaint:\n%s", msg)
	}
}

func TestTBFatal(t *testing.T) {
	t.Parallel()
	tb := redistest.NewTB("fatal")
	defer tb.Close()
	msg := func() (msg string) {
		defer func() { msg = fmt.Sprint(recover()) }()
		tb.Log("first")
		tb.Fatalf("second %d", 2)
		return "Fatalf returned"
	}()
	if !strings.Contains(msg, "first\nsecond 2") {
		t.Errorf("Fatalf panicked with %q, want the messages logged", msg)
	}
	if !tb.Failed() {
		t.Error("Failed() after Fatalf = false")
	}
}

func TestMisuseFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    func(tb *redistest.TB)
		want string
	}{
		{"ACLUser without password", func(tb *redistest.TB) {
			redistest.Start(tb, &redistest.Options{ACLUser: "app"})
		}, "ACLPassword"},
		{"cluster with 2 masters", func(tb *redistest.TB) { redistest.StartCluster(tb, 2, 0) }, "at least 3 masters"},
		{"negative replicas", func(tb *redistest.TB) { redistest.StartSentinel(tb, -1) }, "negative"},
	}
	for _, tt := range tests {
		if msg := failure(tt.f); !strings.Contains(msg, tt.want) {
			t.Errorf("%s: failure %q, want it to mention %q", tt.name, msg, tt.want)
		}
	}
}

// Not parallel: it changes the environment.
func TestMissingBinaryFails(t *testing.T) {
	t.Setenv("REDISTEST_SERVER_BIN", filepath.Join(t.TempDir(), "no-redis-server"))
	msg := failure(func(tb *redistest.TB) { redistest.Start(tb, nil) })
	if !strings.Contains(msg, "apt-get install -y redis-server redis-tools redis-sentinel") ||
		!strings.Contains(msg, "make test") {
		t.Errorf("failure message does not name the install command:\n%s", msg)
	}
}

func TestNewTB(t *testing.T) {
	t.Parallel()
	tb := redistest.NewTB("tb")
	var order []int
	tb.Cleanup(func() { order = append(order, 1) })
	tb.Cleanup(func() { order = append(order, 2) })
	dir := tb.TempDir()
	if tb.Failed() {
		t.Error("Failed() before any failure")
	}
	ctx := tb.Context()
	tb.Close()
	tb.Close()
	if fmt.Sprint(order) != "[2 1]" {
		t.Errorf("cleanups ran in order %v, want [2 1]", order)
	}
	if ctx.Err() == nil {
		t.Error("Context not cancelled by Close")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("TempDir %s not removed: %v", dir, err)
	}
}

func TestCleanupRemovesServer(t *testing.T) {
	t.Parallel()
	tb := redistest.NewTB("cleanup")
	s := redistest.Start(tb, nil)
	addr, dir := s.Addr(), s.Dir()
	tb.Close()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("server %s still listening after cleanup", addr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("dir %s not removed after cleanup: %v", dir, err)
	}
}

func TestLaunch(t *testing.T) {
	srv, err := redistest.Launch(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := srv.Do("PING"); err != nil || got != "PONG" {
		t.Fatalf("PING = %q, %v", got, err)
	}
	srv.Close()
	if _, err := srv.Do("PING"); err == nil {
		t.Error("server still answers after Close")
	}
	srv.Close() // idempotent

	_, err = redistest.Launch(&redistest.Options{Args: []string{"no-such-directive yes"}})
	if err == nil || !strings.Contains(err.Error(), "no-such-directive") {
		t.Errorf("Launch with a bad directive = %v, want an error quoting the server log", err)
	}
}
