package redistest_test

import (
	"bufio"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redkit-go/redkit/redistest"
)

func TestProxy(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, nil)
	p := redistest.NewProxy(t, s.Addr())
	if p.Addr() == s.Addr() {
		t.Fatal("proxy listens on the server's address")
	}
	c := dialRaw(t, p.Addr(), nil)
	ping := func(c *rawConn, timeout time.Duration) (time.Duration, error) {
		start := time.Now()
		got, err := c.cmd(timeout, "PING")
		if err == nil && got != "PONG" {
			err = errors.New("PING answered " + got)
		}
		return time.Since(start), err
	}
	if _, err := ping(c, time.Second); err != nil {
		t.Fatalf("PING through the proxy: %v", err)
	}

	t.Run("latency", func(t *testing.T) {
		p.SetLatency(100 * time.Millisecond)
		d, err := ping(c, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if d < 190*time.Millisecond {
			t.Errorf("round trip with 100ms each way took %v, want >= 200ms", d)
		}
		p.SetLatency(0)
		if d, err := ping(c, time.Second); err != nil || d >= 190*time.Millisecond {
			t.Errorf("round trip without latency: %v, %v", d, err)
		}
	})

	t.Run("blackhole", func(t *testing.T) {
		bc := dialRaw(t, p.Addr(), nil)
		if _, err := ping(bc, time.Second); err != nil {
			t.Fatal(err)
		}
		p.Blackhole(true)
		_, err := ping(bc, 200*time.Millisecond)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("PING through a blackhole: error %v, want a timeout", err)
		}
		nc := dialRaw(t, p.Addr(), nil) // still accepted
		if _, err := ping(nc, 200*time.Millisecond); err == nil {
			t.Error("PING on a new connection through a blackhole answered")
		}
		p.Blackhole(false)
		if _, err := ping(dialRaw(t, p.Addr(), nil), time.Second); err != nil {
			t.Errorf("PING on a new connection after the blackhole: %v", err)
		}
	})

	t.Run("reset", func(t *testing.T) {
		rc := dialRaw(t, p.Addr(), nil)
		if _, err := ping(rc, time.Second); err != nil {
			t.Fatal(err)
		}
		p.ResetAll()
		if _, err := ping(rc, time.Second); err == nil {
			t.Error("PING on a reset connection answered")
		} else if isTimeout(err) {
			t.Errorf("PING on a reset connection timed out instead of failing")
		}
		if _, err := ping(dialRaw(t, p.Addr(), nil), time.Second); err != nil {
			t.Errorf("PING on a new connection after ResetAll: %v", err)
		}
	})

	t.Run("close", func(t *testing.T) {
		cc := dialRaw(t, p.Addr(), nil)
		if _, err := ping(cc, time.Second); err != nil {
			t.Fatal(err)
		}
		if err := p.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
		if err := p.Close(); err != nil {
			t.Errorf("second Close() = %v", err)
		}
		if _, err := ping(cc, time.Second); err == nil {
			t.Error("PING on a connection of a closed proxy answered")
		}
		// (Whether its port refuses connections is not checked: a test
		// running in parallel may already have been given it.)
	})
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestProxyTargetDown(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, nil)
	p := redistest.NewProxy(t, s.Addr())
	s.Kill()
	// The proxy accepts, fails to reach the server and resets the
	// connection: the dial itself or the first command fails.
	if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		rc := &rawConn{Conn: c, r: bufio.NewReader(c)}
		if got, err := rc.cmd(time.Second, "PING"); err == nil {
			t.Errorf("PING through a proxy to a dead server answered %q", got)
		} else if isTimeout(err) {
			t.Errorf("PING through a proxy to a dead server timed out instead of failing")
		}
		c.Close()
	}
	s.Restart()
	if got, err := dialRaw(t, p.Addr(), nil).cmd(time.Second, "PING"); err != nil || got != "PONG" {
		t.Errorf("PING after the server came back = %q, %v", got, err)
	}
}
