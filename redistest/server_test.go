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

	"go.uber.org/goleak"

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

func TestStartFailureShowsLog(t *testing.T) {
	t.Parallel()
	_, err := redistest.Launch(&redistest.Options{Args: []string{"no-such-directive yes"}})
	if err == nil {
		t.Fatal("Launch with a bad directive: no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "no-such-directive") || !strings.Contains(msg, "Bad directive") ||
		!strings.Contains(msg, "redistest: start redis-server on 127.0.0.1:") {
		t.Errorf("error does not carry the server's complaint:\n%s", msg)
	}
}

func TestStartCleanup(t *testing.T) {
	t.Parallel()
	var addr, dir string
	t.Run("test", func(t *testing.T) {
		s := redistest.Start(t, nil)
		addr, dir = s.Addr(), s.Dir()
	})
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("server %s still listening after its test ended", addr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("dir %s not removed after its test ended: %v", dir, err)
	}
}

func TestLaunch(t *testing.T) {
	t.Parallel()
	srv, err := redistest.Launch(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := srv.Do("PING"); err != nil || got != "PONG" {
		t.Fatalf("PING = %q, %v", got, err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatalf("Restart of a launched server: %v", err)
	}
	srv.Kill()
	if err := srv.Pause(0); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("Pause of a killed launched server = %v, want a not-running error", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := srv.Do("PING"); err == nil {
		t.Error("server still answers after Close")
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := srv.Restart(); err == nil || !strings.Contains(err.Error(), "after Close") {
		t.Errorf("Restart after Close = %v, want an error", err)
	}
}

// leftovers fails t if dir holds anything or a process runs in a directory
// inside dir (every process redistest starts runs in its server's
// directory; its command line is no clue, as redis-server rewrites it).
func leftovers(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in REDISTEST_DIR: %s", e.Name())
	}
	cwds, err := filepath.Glob("/proc/[0-9]*/cwd")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cwds {
		// A removed cwd reads as "/path (deleted)".
		if cwd, err := os.Readlink(p); err == nil && strings.HasPrefix(cwd, dir+"/") {
			cmd, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
			t.Errorf("process left behind: %s (%s) in %s", filepath.Dir(p), strings.ReplaceAll(string(cmd), "\x00", " "), cwd)
		}
	}
}

// launchDir points REDISTEST_DIR at a new directory and returns it. Tests
// that call it cannot be parallel (t.Setenv), so goleak.VerifyNone sees
// only their own goroutines.
func launchDir(t *testing.T) string {
	dir := t.TempDir()
	t.Setenv("REDISTEST_DIR", dir)
	return dir
}

func TestLaunchCloseLeavesNothing(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := launchDir(t)

	srv, err := redistest.Launch(&redistest.Options{TLS: true, Persistence: true})
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	srv.Do("SET", "k", "v")
	srv.Pause(time.Hour) // a pending resume timer
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still listening after Close", addr)
	}
	leftovers(t, dir)

	p, err := redistest.LaunchProxy(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Proxy.Close: %v", err)
	}

	cl, err := redistest.LaunchCluster(3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	leftovers(t, dir)

	sen, err := redistest.LaunchSentinel(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := sen.Close(); err != nil {
		t.Fatal(err)
	}
	leftovers(t, dir)
}

// Launch… fail with an error, never a panic, and leave nothing behind.
func TestLaunchErrors(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := launchDir(t)
	noBin := filepath.Join(t.TempDir(), "no-redis-server")
	emptyPath := t.TempDir()

	tests := []struct {
		name   string
		env    map[string]string
		launch func() error
		want   []string
	}{
		{"bad directive", nil, func() error {
			_, err := redistest.Launch(&redistest.Options{Args: []string{"no-such-directive yes"}})
			return err
		}, []string{"Bad directive", "no-such-directive"}},
		{"ACLUser without password", nil, func() error {
			_, err := redistest.Launch(&redistest.Options{ACLUser: "app"})
			return err
		}, []string{"ACLPassword"}},
		{"TLS with a bad directive", nil, func() error {
			_, err := redistest.Launch(&redistest.Options{TLS: true, Args: []string{"tls-protocols NOPE"}})
			return err
		}, []string{"redistest: start redis-server"}},
		{"cluster with 2 masters", nil, func() error {
			_, err := redistest.LaunchCluster(2, 0)
			return err
		}, []string{"at least 3 masters"}},
		{"negative replicas", nil, func() error {
			_, err := redistest.LaunchSentinel(-1)
			return err
		}, []string{"negative"}},
		{"REDISTEST_SERVER_BIN missing", map[string]string{"REDISTEST_SERVER_BIN": noBin}, func() error {
			_, err := redistest.Launch(nil)
			return err
		}, []string{noBin, "apt-get install -y redis-server redis-tools redis-sentinel", "make test"}},
		{"PATH without redis-server", map[string]string{"REDISTEST_SERVER_BIN": "", "PATH": emptyPath}, func() error {
			_, err := redistest.Launch(nil)
			return err
		}, []string{"redis-server not found", "apt-get install -y redis-server redis-tools redis-sentinel"}},
		{"sentinel without redis-server", map[string]string{"REDISTEST_SERVER_BIN": "", "PATH": emptyPath}, func() error {
			_, err := redistest.LaunchSentinel(1)
			return err
		}, []string{"redis-server not found", "apt-get install"}},
		// redis-cli fails after every node has started: they must go.
		{"redis-cli fails", map[string]string{"REDISTEST_CLI_BIN": "false"}, func() error {
			_, err := redistest.LaunchCluster(3, 0)
			return err
		}, []string{"--cluster create", "exit status 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panicked: %v", r)
					}
				}()
				err = tt.launch()
			}()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			leftovers(t, dir)
		})
	}
}
