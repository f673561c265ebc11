package redistest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// installHint is appended to every "binary not found" failure.
const installHint = "install Redis with `apt-get install -y redis-server redis-tools redis-sentinel` " +
	"(`make test` installs it), or point REDISTEST_SERVER_BIN at a redis-server binary"

// serverBin finds redis-server: $REDISTEST_SERVER_BIN, else PATH.
func serverBin() (string, error) {
	if p := os.Getenv("REDISTEST_SERVER_BIN"); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("redistest: REDISTEST_SERVER_BIN=%q is not usable: %w; %s", p, err, installHint)
		}
		return path, nil
	}
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("redistest: redis-server not found: %w; %s", err, installHint)
	}
	return path, nil
}

// cliBin finds redis-cli: $REDISTEST_CLI_BIN, else PATH, else next to the
// redis-server binary.
func cliBin() (string, error) {
	if p := os.Getenv("REDISTEST_CLI_BIN"); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("redistest: REDISTEST_CLI_BIN=%q is not usable: %w; %s", p, err, installHint)
		}
		return path, nil
	}
	if path, err := exec.LookPath("redis-cli"); err == nil {
		return path, nil
	}
	server, err := serverBin()
	if err != nil {
		return "", err
	}
	sibling := filepath.Join(filepath.Dir(server), "redis-cli")
	path, err := exec.LookPath(sibling)
	if err != nil {
		return "", fmt.Errorf("redistest: redis-cli not found in PATH nor at %s; %s", sibling, installHint)
	}
	return path, nil
}

// ports remembers every port handed out in this process, so two servers
// started at the same moment never get the same one from the kernel.
var ports struct {
	sync.Mutex
	used map[int]bool
}

// maxClusterPort keeps the cluster bus port (port+10000) a valid port.
const maxClusterPort = 55535

// freePort asks the kernel for a free loopback port. For a cluster node the
// bus port, port+10000, must be free too. A port is free only at the moment
// it is checked: callers retry when redis-server then fails to bind.
func freePort(cluster bool) (int, error) {
	ports.Lock()
	defer ports.Unlock()
	var lastErr error
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			lastErr = err
			continue
		}
		port := l.Addr().(*net.TCPAddr).Port
		ok := !ports.used[port]
		if ok && cluster {
			ok = port < maxClusterPort && !ports.used[port+10000]
			if ok {
				bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
				if err == nil {
					bus.Close()
				}
				ok = err == nil
			}
		}
		l.Close()
		if !ok {
			continue
		}
		if ports.used == nil {
			ports.used = make(map[int]bool)
		}
		ports.used[port] = true
		if cluster {
			ports.used[port+10000] = true
		}
		return port, nil
	}
	if lastErr == nil {
		lastErr = errors.New("no suitable port after 100 tries")
	}
	return 0, fmt.Errorf("redistest: find a free port: %w", lastErr)
}

// tail returns the last n lines of the file at path, indented, or "" when
// the file is missing or empty.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	b = bytes.TrimRight(b, "\n")
	if len(b) == 0 {
		return ""
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\n    " + strings.Join(lines, "\n    ")
}

// confQuote quotes a redis.conf argument (paths, passwords).
func confQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
