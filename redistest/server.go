package redistest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeouts. They are generous because test machines are often small and
// busy; a healthy local redis-server answers in milliseconds.
const (
	// readyTimeout bounds the wait for the first PONG after a start.
	readyTimeout = 15 * time.Second
	// stopTimeout bounds a graceful Stop before the process is killed.
	stopTimeout = 15 * time.Second
	// doTimeout is the deadline of one Server.Do call.
	doTimeout = 10 * time.Second
	// startAttempts is how often a start is retried when the port turns out
	// to be taken (the kernel handed it out, someone else bound it first).
	startAttempts = 5
)

// File names inside a server's Dir.
const (
	confFile   = "redis.conf"
	logFile    = "redis.log"
	stdoutFile = "stdout.log"
)

// errAddrInUse marks a start that failed because the port was taken.
var errAddrInUse = errors.New("address already in use")

// Options configures a server started by Start. The zero value (or a nil
// *Options) is a plain server: no password, no TLS, no persistence.
type Options struct {
	// Password is the default user's password (requirepass). Empty means
	// no password.
	Password string

	// ACLUser and ACLPassword, when ACLUser is set, create an ACL user
	// with every right (ACL SETUSER name on >pass ~* &* +@all). The
	// default user is left as Password configures it.
	ACLUser, ACLPassword string

	// TLS makes the server listen with TLS only. A self-signed CA and a
	// server certificate for 127.0.0.1 and localhost are generated at
	// start; clients trust them through Server.TLSConfig.
	TLS bool

	// Persistence turns on the append-only file (appendfsync everysec) and
	// RDB snapshots, so data survives Stop and Restart (and Kill, up to
	// the last second of writes). When false (the default) the server
	// writes nothing to disk on its own: save "" and appendonly no.
	Persistence bool

	// Args are extra redis.conf directives, one per element, such as
	// "maxmemory 2mb". They come last, so they override the defaults.
	Args []string
}

// serverKind says what a process is.
type serverKind int

const (
	kindPlain serverKind = iota
	kindClusterNode
	kindSentinel
)

// serverConfig is everything start needs; Options is its public part.
type serverConfig struct {
	opts      Options
	kind      serverKind
	replicaOf int                   // master port for a replica, or 0
	sentinel  func(port int) string // sentinel directives, for kindSentinel
}

// Server is a redis-server (or redis-sentinel) process on a free port of
// 127.0.0.1, with its own directory. Close kills it and removes the
// directory; for a server from Start, the test's cleanup does so.
//
// Its methods are safe for concurrent use. Those that can fail return the
// error; for a server from Start they also fail its test (Restart with
// t.Fatal, Pause with t.Error), so a test need not check, and, like
// testing.T's FailNow, they must then be called from the goroutine running
// that test.
type Server struct {
	t    testing.TB // the test that started it; nil from Launch, LaunchCluster...
	cfg  serverConfig
	bin  string
	dir  string
	port int
	tls  *tls.Config // client config, nil without TLS

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when cmd has exited and been waited for
	paused bool
	timer  *time.Timer // pending automatic Resume
	gen    int         // bumped on every Pause, Resume, Stop and start
	closed bool        // Close has run
}

// Start starts a redis-server on a free loopback port and returns when it
// answers PING. A nil opts means the zero Options. The server is killed and
// its directory removed when t and its subtests complete; if t has failed
// by then, the end of the server's log is logged first.
//
// Start fails the test (never skips it) when redis-server is not installed;
// the message names the install command. REDISTEST_SERVER_BIN overrides the
// redis-server binary found in PATH.
func Start(t testing.TB, opts *Options) *Server {
	t.Helper()
	s, err := launch(opts)
	if err != nil {
		t.Fatal(err)
	}
	adopt(t, s.Close, s)
	return s
}

// Launch is Start for code without a testing.TB — a runnable example, a
// demo program, a TestMain sharing one server between tests: it returns the
// error instead of failing a test, and the caller calls Close. A missing
// redis-server is an error naming the install command.
func Launch(opts *Options) (*Server, error) {
	return launch(opts)
}

// launch is the core of Start and Launch: it validates opts and starts the
// server.
func launch(opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
		o.Args = slices.Clone(o.Args)
	}
	if o.ACLUser != "" && o.ACLPassword == "" {
		return nil, fmt.Errorf("redistest: Options.ACLUser %q needs an ACLPassword", o.ACLUser)
	}
	return startServer(serverConfig{opts: o})
}

// adopt ties servers started by the core to test t: their failing methods
// fail t from now on, and at t's end closeAll runs (it stops them all), after
// the servers' log tails are logged if t has failed.
func adopt(t testing.TB, closeAll func() error, servers ...*Server) {
	for _, s := range servers {
		s.t = t
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, s := range servers {
				t.Logf("redistest: %s, end of its logs:%s", s.what(), s.logTail())
			}
		}
		if err := closeAll(); err != nil {
			t.Log(err)
		}
	})
}

// startServer creates the directory, picks a port, writes the configuration
// and starts the process, retrying with another port when the chosen one is
// taken. On error nothing is left behind.
func startServer(cfg serverConfig) (*Server, error) {
	bin, err := serverBin()
	if err != nil {
		return nil, err
	}
	dir, err := makeDir()
	if err != nil {
		return nil, fmt.Errorf("redistest: create server directory: %w", err)
	}
	s := &Server{cfg: cfg, bin: bin, dir: dir}
	if err := s.boot(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// boot generates the TLS files if needed and runs the server on a free
// port.
func (s *Server) boot() error {
	if s.cfg.opts.TLS {
		var err error
		if s.tls, err = generateTLS(s.dir); err != nil {
			return fmt.Errorf("redistest: generate TLS certificates: %w", err)
		}
	}
	for attempt := 1; ; attempt++ {
		port, err := freePort(s.cfg.kind == kindClusterNode)
		if err != nil {
			return err
		}
		s.port = port
		if err := os.WriteFile(filepath.Join(s.dir, confFile), []byte(s.conf()), 0o644); err != nil {
			return fmt.Errorf("redistest: write %s: %w", confFile, err)
		}
		err = s.run()
		if err == nil {
			return nil
		}
		if !errors.Is(err, errAddrInUse) || attempt == startAttempts {
			return fmt.Errorf("redistest: start %s: %w", s.what(), err)
		}
		// Start the next attempt with clean logs.
		os.Remove(filepath.Join(s.dir, logFile))
		os.Remove(filepath.Join(s.dir, stdoutFile))
	}
}

// makeDir creates a server's directory in $REDISTEST_DIR if set, else in
// /dev/shm when it exists with at least 256 MiB free, else in os.TempDir().
// A tmpfs matters: redis fsyncs its files (the cluster's nodes.conf and the
// sentinel's config on every change, the AOF every second), and one fsync
// stalled for 2s by a busy disk puts a sentinel into TILT mode, where it
// does nothing for 30s.
func makeDir() (string, error) {
	if d := os.Getenv("REDISTEST_DIR"); d != "" {
		return os.MkdirTemp(d, "redistest-")
	}
	var st syscall.Statfs_t
	if syscall.Statfs(shmDir, &st) == nil && uint64(st.Bavail)*uint64(st.Bsize) >= 256<<20 {
		if dir, err := os.MkdirTemp(shmDir, "redistest-"); err == nil {
			return dir, nil
		}
	}
	return os.MkdirTemp("", "redistest-")
}

// shmDir is the usual tmpfs of Linux.
const shmDir = "/dev/shm"

// what names the server in messages.
func (s *Server) what() string {
	kind := "redis-server"
	switch s.cfg.kind {
	case kindClusterNode:
		kind = "cluster node"
	case kindSentinel:
		kind = "sentinel"
	}
	return fmt.Sprintf("%s on %s (dir %s)", kind, s.Addr(), s.dir)
}

// conf renders redis.conf.
func (s *Server) conf() string {
	var b strings.Builder
	line := func(parts ...string) {
		b.WriteString(strings.Join(parts, " "))
		b.WriteByte('\n')
	}
	port := strconv.Itoa(s.port)
	o := s.cfg.opts
	line("# Written by redistest. Restart reuses this file.")
	line("bind 127.0.0.1")
	line("protected-mode no")
	line("daemonize no")
	line("dir", confQuote(s.dir))
	line("logfile", confQuote(filepath.Join(s.dir, logFile)))
	if o.TLS {
		line("port 0")
		line("tls-port", port)
		line("tls-cert-file", confQuote(filepath.Join(s.dir, serverCertFile)))
		line("tls-key-file", confQuote(filepath.Join(s.dir, serverKeyFile)))
		line("tls-ca-cert-file", confQuote(filepath.Join(s.dir, caCertFile)))
		line("tls-auth-clients no")
	} else {
		line("port", port)
	}
	if s.cfg.kind == kindSentinel {
		b.WriteString(s.cfg.sentinel(s.port))
		return b.String()
	}
	if o.Persistence {
		line("appendonly yes")
		line("appendfsync everysec")
		line("save 3600 1 300 100 60 10000")
	} else {
		line(`save ""`)
		line("appendonly no")
	}
	// Replicas of a test server sync at once, not after the default 5s.
	line("repl-diskless-sync-delay 0")
	// A SIGTERM waits at most this long for lagging replicas.
	line("shutdown-timeout 2")
	if o.Password != "" {
		line("requirepass", confQuote(o.Password))
		line("masterauth", confQuote(o.Password))
	}
	if o.ACLUser != "" {
		line("user", confQuote(o.ACLUser), "on", confQuote(">"+o.ACLPassword), "~*", "&*", "+@all")
	}
	if s.cfg.replicaOf != 0 {
		line("replicaof 127.0.0.1", strconv.Itoa(s.cfg.replicaOf))
		line("replica-announce-ip 127.0.0.1")
	}
	if s.cfg.kind == kindClusterNode {
		line("cluster-enabled yes")
		line("cluster-config-file nodes.conf")
		line("cluster-node-timeout", strconv.Itoa(int(clusterNodeTimeout/time.Millisecond)))
		line("cluster-announce-ip 127.0.0.1")
		// Any replica may take over, however long its master was away.
		line("cluster-replica-validity-factor 0")
		// CLUSTER SLOTS lists a replica only once its replication offset
		// is not 0; on an idle master that takes the first replication
		// PING, which is sent every 10s by default.
		line("repl-ping-replica-period 1")
	}
	for _, a := range o.Args {
		line(a)
	}
	return b.String()
}

// run starts the process and waits until it answers PING. On failure the
// process is gone and the error carries the tail of its logs.
func (s *Server) run() error {
	out, err := os.OpenFile(filepath.Join(s.dir, stdoutFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := []string{filepath.Join(s.dir, confFile)}
	if s.cfg.kind == kindSentinel {
		args = append(args, "--sentinel")
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	// An *os.File needs no copying goroutine: the child writes to it.
	cmd.Stdout, cmd.Stderr = out, out
	// Pdeathsig: nothing outlives the test binary, even if it is killed.
	// Setpgid: signals go to the server and its fork children (BGSAVE).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	err = cmd.Start()
	out.Close()
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return errors.New("server closed")
	}
	s.cmd, s.done, s.paused = cmd, done, false
	s.gen++
	s.mu.Unlock()

	if err := s.waitReady(done); err != nil {
		s.mu.Lock()
		s.stopLocked(true)
		s.mu.Unlock()
		return err
	}
	if s.cfg.kind == kindSentinel {
		// Runtime-only settings, so they are applied on every start.
		// Best effort: SENTINEL DEBUG appeared in Redis 7.0.
		s.do(probeTimeout, sentinelDebug...)
	}
	return nil
}

// waitReady polls PING until it answers PONG (not LOADING), the process
// exits, or readyTimeout passes.
func (s *Server) waitReady(done <-chan struct{}) error {
	deadline := time.Now().Add(readyTimeout)
	interval := 5 * time.Millisecond
	var last error
	for {
		select {
		case <-done:
			logs := s.logTail()
			err := fmt.Errorf("process exited before answering PING; logs:%s", logs)
			if strings.Contains(logs, "Address already in use") {
				err = fmt.Errorf("%w: %w", errAddrInUse, err)
			}
			return err
		default:
		}
		v, err := s.do(time.Second, "PING")
		if err == nil && v == "PONG" {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("PING answered %q", formatReply(v))
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG after %v (last: %v); logs:%s", readyTimeout, last, s.logTail())
		}
		time.Sleep(interval)
		interval = min(interval*2, 100*time.Millisecond)
	}
}

// logTail returns the end of the server's log and of its stdout/stderr.
func (s *Server) logTail() string {
	var b strings.Builder
	if l := tail(filepath.Join(s.dir, logFile), 20); l != "" {
		b.WriteString("\n  " + logFile + ":" + l)
	}
	if l := tail(filepath.Join(s.dir, stdoutFile), 10); l != "" {
		b.WriteString("\n  " + stdoutFile + ":" + l)
	}
	if b.Len() == 0 {
		return " (none)"
	}
	return b.String()
}

// Close kills the server (SIGKILL, like Kill) and removes its directory.
// After Close, Restart fails and the other methods do nothing. For a server
// from Start, the test's cleanup calls Close; calling it earlier is fine.
// Close returns the error from removing the directory; calling it again
// returns nil.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.stopLocked(true)
	s.mu.Unlock()
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("redistest: remove %s: %w", s.dir, err)
	}
	return nil
}

// logf logs to the server's test, if it has one.
func (s *Server) logf(format string, args ...any) {
	if s.t != nil {
		s.t.Logf(format, args...)
	}
}

// runningLocked reports whether the process is up (possibly paused).
func (s *Server) runningLocked() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// alive reports whether the process is running and not paused: whether it
// can be expected to answer.
func (s *Server) alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runningLocked() && !s.paused
}

// stopLocked ends the process (SIGKILL, or SIGTERM with a bounded wait) and
// waits for it. s.mu must be held.
func (s *Server) stopLocked(kill bool) {
	s.gen++
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if s.cmd == nil {
		return
	}
	pid, done := s.cmd.Process.Pid, s.done
	s.cmd, s.done, s.paused = nil, nil, false
	select {
	case <-done:
		return
	default:
	}
	if kill {
		// The process is not reaped until done is closed, so the group
		// still exists and is ours.
		syscall.Kill(-pid, syscall.SIGKILL)
		<-done
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	syscall.Kill(-pid, syscall.SIGCONT) // a paused server must run to exit
	select {
	case <-done:
		// Catch a fork child (BGSAVE) the server did not reap.
		syscall.Kill(-pid, syscall.SIGKILL)
	case <-time.After(stopTimeout):
		s.logf("redistest: %s did not stop within %v of SIGTERM; killing it", s.what(), stopTimeout)
		syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
}

// Addr returns the server's address, "127.0.0.1:port".
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Port returns the server's TCP port (the TLS port when Options.TLS).
func (s *Server) Port() int { return s.port }

// Dir returns the server's working directory: redis.conf, redis.log,
// data files and, with TLS, the certificates (ca.crt, server.crt,
// server.key). Close removes it.
func (s *Server) Dir() string { return s.dir }

// URL returns a connection URL: redis://127.0.0.1:port, or rediss:// with
// TLS, with the ACL user and password when Options.ACLUser is set, else with
// the default user's password when Options.Password is set.
func (s *Server) URL() string {
	u := url.URL{Scheme: "redis", Host: s.Addr()}
	o := s.cfg.opts
	if o.TLS {
		u.Scheme = "rediss"
	}
	switch {
	case o.ACLUser != "":
		u.User = url.UserPassword(o.ACLUser, o.ACLPassword)
	case o.Password != "":
		u.User = url.UserPassword("", o.Password)
	}
	return u.String()
}

// TLSConfig returns a new client TLS configuration that trusts the server's
// generated CA (ServerName 127.0.0.1), or nil when the server has no TLS.
func (s *Server) TLSConfig() *tls.Config {
	if s.tls == nil {
		return nil
	}
	return s.tls.Clone()
}

// Stop shuts the server down gracefully: SIGTERM, then a wait (the server
// saves its data first when Options.Persistence). A server that has not
// exited after 15s is killed. Stop on a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(false)
}

// Kill kills the server with SIGKILL and waits for it to exit, like a crash:
// nothing is saved. Kill on a stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(true)
}

// Restart stops the server gracefully if it is running and starts it again
// with the same port, configuration and directory, returning when it
// answers PING (so any data has been loaded). Data survives only with
// Options.Persistence (or, for a replica, by resyncing). Restart returns an
// error, and fails the server's test if it has one, when the server does
// not come back or has been closed.
func (s *Server) Restart() error {
	if s.t != nil {
		s.t.Helper()
	}
	err := s.restart()
	if err != nil && s.t != nil {
		s.t.Fatal(err)
	}
	return err
}

// restart is Restart without the test.
func (s *Server) restart() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("redistest: Restart of %s after Close", s.what())
	}
	s.stopLocked(false)
	s.mu.Unlock()
	var err error
	for range startAttempts * 2 {
		if err = s.run(); err == nil || !errors.Is(err, errAddrInUse) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("redistest: restart %s: %w", s.what(), err)
	}
	return nil
}

// Pause freezes the server with SIGSTOP: connections stay open, nothing is
// answered. When d > 0 the server is resumed after d (the timer is the
// Server's and is stopped by Resume, Stop, Kill, Restart and Close). Pause
// on a server that is not running returns an error, and reports it to the
// server's test (t.Error) if it has one.
func (s *Server) Pause(d time.Duration) error {
	if s.t != nil {
		s.t.Helper()
	}
	err := s.pause(d)
	if err != nil && s.t != nil {
		s.t.Error(err)
	}
	return err
}

// pause is Pause without the test.
func (s *Server) pause(d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.runningLocked() {
		return fmt.Errorf("redistest: Pause: %s is not running", s.what())
	}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.gen++
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGSTOP)
	s.paused = true
	if d > 0 {
		gen := s.gen
		s.timer = time.AfterFunc(d, func() { s.resume(gen) })
	}
	return nil
}

// Resume continues a paused server (SIGCONT). Resume on a server that is not
// paused does nothing.
func (s *Server) Resume() { s.resume(-1) }

// resume continues the server; gen >= 0 makes it conditional on no Pause,
// Resume or stop having happened since the timer was set.
func (s *Server) resume(gen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen >= 0 && gen != s.gen {
		return
	}
	s.gen++
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if s.runningLocked() && s.paused {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGCONT)
	}
	s.paused = false
}

// Do runs one command on the server over a fresh connection (authenticated
// as the default user when Options.Password is set, over TLS when
// Options.TLS) and returns the reply in a readable form: simple and bulk
// strings as they are, integers in decimal, a null reply as "", arrays as
// "[a b c]" with nested arrays bracketed and null elements as "(nil)". An
// error reply is returned as an error whose text is the reply (such as
// "WRONGPASS invalid username-password pair ..."). The call has a 10s
// deadline, so it is meant for quick setup and inspection commands, not
// blocking ones. Commands that depend on their connection (WAIT, MULTI,
// CLIENT ...) see a new one each time.
func (s *Server) Do(args ...string) (string, error) {
	if len(args) == 0 {
		return "", errors.New("redistest: Do: no command")
	}
	v, err := s.do(doTimeout, args...)
	if err != nil {
		return "", err
	}
	return formatReply(v), nil
}

// do runs one command and returns the raw reply.
func (s *Server) do(timeout time.Duration, args ...string) (any, error) {
	c, err := dialRESP(s.Addr(), s.tls, "", s.cfg.opts.Password, timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.do(args...)
}
