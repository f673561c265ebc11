package sentinel

import (
	"crypto/tls"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/redkit-go/redkit/redistest"
)

func TestTLSFor(t *testing.T) {
	if got := TLSFor(nil, "a:1"); got != nil {
		t.Errorf("TLSFor(nil) = %v, want nil", got)
	}
	pinned := &tls.Config{ServerName: "redis.example"}
	if got := TLSFor(pinned, "10.0.0.1:6379"); got != pinned {
		t.Errorf("TLSFor with ServerName set returned another config, want the same")
	}
	base := &tls.Config{MinVersion: tls.VersionTLS13}
	for addr, want := range map[string]string{
		"sentinel-1.internal:26379": "sentinel-1.internal",
		"10.0.0.2:6379":             "10.0.0.2",
		"[::1]:6379":                "::1",
	} {
		got := TLSFor(base, addr)
		if got == base || got.ServerName != want || got.MinVersion != tls.VersionTLS13 {
			t.Errorf("TLSFor(base, %q) = ServerName %q (same config: %v), want a clone with ServerName %q", addr, got.ServerName, got == base, want)
		}
	}
	if base.ServerName != "" {
		t.Errorf("TLSFor modified its argument: ServerName %q", base.ServerName)
	}
}

// TestTLSPerHost dials one TLS server under two names with one config that
// has no ServerName: each handshake verifies the name that was dialed
// (crypto/tls refuses to verify without one), and ROLE over TLS works. A
// config pinned to another host's name, as the first sentinel's host was,
// cannot verify the server.
func TestTLSPerHost(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{TLS: true})
	cfg := srv.TLSConfig()
	cfg.ServerName = ""
	d := dialer{d: &net.Dialer{}, tls: cfg}
	for _, host := range []string{"localhost", "127.0.0.1"} {
		addr := net.JoinHostPort(host, strconv.Itoa(srv.Port()))
		c, err := d.dial(t.Context(), addr)
		if err != nil {
			t.Fatalf("dial %s over TLS: %v", addr, err)
		}
		// crypto/tls reports the name it sent as SNI, which is never an IP.
		if got := c.nc.(*tls.Conn).ConnectionState().ServerName; host == "localhost" && got != host {
			t.Errorf("dial %s: TLS ServerName %q, want %q", addr, got, host)
		}
		c.close()
		w := &Watcher{opts: Options{Timeout: time.Second}, nodes: d}
		if role, err := w.role(t.Context(), addr); err != nil || role != "master" {
			t.Errorf("ROLE over TLS on %s = %q, %v; want master", addr, role, err)
		}
	}
	if cfg.ServerName != "" {
		t.Errorf("the given config was modified: ServerName %q", cfg.ServerName)
	}

	pinned := srv.TLSConfig()
	pinned.ServerName = "sentinel-1.internal"
	pd := dialer{d: &net.Dialer{}, tls: pinned}
	if c, err := pd.dial(t.Context(), srv.Addr()); err == nil {
		c.close()
		t.Errorf("dial %s with ServerName pinned to sentinel-1.internal succeeded, want a certificate error", srv.Addr())
	} else {
		t.Logf("pinned ServerName: %v", err)
	}
}
