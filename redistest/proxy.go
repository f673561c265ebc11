package redistest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// proxyDialTimeout bounds the proxy's connection to its target.
const proxyDialTimeout = 5 * time.Second

// Proxy is a TCP proxy that injects network faults between a client and a
// server: latency, a blackhole that silently drops traffic, and connection
// resets. Point the client at Addr instead of the server.
//
// Each accepted connection gets its own connection to the target and two
// goroutines, one per direction; Close stops them all. A Proxy is safe for
// concurrent use.
type Proxy struct {
	target    string
	ln        net.Listener
	ctx       context.Context // cancelled by Close, for dials in flight
	cancel    context.CancelFunc
	latency   atomic.Int64 // time.Duration
	blackhole atomic.Bool

	mu     sync.Mutex
	links  map[*proxyLink]struct{}
	closed bool

	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// proxyLink is one proxied connection: the client's and the target's side.
type proxyLink struct {
	p              *Proxy
	client, server net.Conn
	done           chan struct{} // closed by close
	once           sync.Once
	pending        atomic.Int32 // directions still copying
}

// NewProxy starts a proxy listening on a free port of 127.0.0.1 and
// forwarding every connection to target. It is closed when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := newProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// LaunchProxy is NewProxy for code without a testing.TB: it returns the
// error instead of failing a test, and the caller calls Close.
func LaunchProxy(target string) (*Proxy, error) {
	return newProxy(target)
}

// newProxy is the core of NewProxy and LaunchProxy.
func newProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("redistest: NewProxy: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{target: target, ln: ln, ctx: ctx, cancel: cancel, links: map[*proxyLink]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the address clients should connect to, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// SetLatency delays every chunk of data forwarded, in each direction, by d
// (0, the default, forwards at once). It applies to current and future
// connections.
func (p *Proxy) SetLatency(d time.Duration) { p.latency.Store(int64(d)) }

// Blackhole turns the blackhole on or off. While on, connections are still
// accepted (and opened to the target) but every byte read, in either
// direction, is dropped: to both sides the network has gone silent. Bytes
// dropped are not replayed when it is turned off, so a connection that lost
// data is out of step and should be abandoned by the client (as clients do
// after a timeout); connections opened afterwards work normally.
func (p *Proxy) Blackhole(on bool) { p.blackhole.Store(on) }

// ResetAll closes every current connection, on both sides, with an RST
// (SO_LINGER 0), as a crashed middlebox or a reset network would. The proxy
// keeps accepting new connections.
func (p *Proxy) ResetAll() {
	for _, l := range p.snapshot() {
		l.reset()
	}
}

// Close stops accepting, closes every connection and waits for all of the
// proxy's goroutines to finish. It returns the error from closing the
// listener; calling it again returns the same error.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.cancel()
		p.closeErr = p.ln.Close()
		for _, l := range p.snapshot() {
			l.close()
		}
		p.wg.Wait()
	})
	return p.closeErr
}

func (p *Proxy) snapshot() []*proxyLink {
	p.mu.Lock()
	defer p.mu.Unlock()
	links := make([]*proxyLink, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	return links
}

// accept runs until the listener is closed.
func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient error such as EMFILE: back off a little.
			select {
			case <-p.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(c)
	}
}

// serve connects c to the target and starts the two copying goroutines.
func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	d := net.Dialer{Timeout: proxyDialTimeout}
	up, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		// The target is down: refuse the client the way it would.
		abort(c)
		return
	}
	l := &proxyLink{p: p, client: c, server: up, done: make(chan struct{})}
	l.pending.Store(2)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.links[l] = struct{}{}
	p.wg.Add(2)
	p.mu.Unlock()
	go l.pipe(c, up)
	go l.pipe(up, c)
}

// pipe copies src to dst, applying latency and the blackhole. On EOF it
// half-closes dst so the other direction can finish; on any other error the
// whole link is closed.
func (l *proxyLink) pipe(src, dst net.Conn) {
	defer l.p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !l.p.blackhole.Load() {
			if d := time.Duration(l.p.latency.Load()); d > 0 {
				timer := time.NewTimer(d)
				select {
				case <-timer.C:
				case <-l.done:
					timer.Stop()
					return
				}
			}
			if !l.p.blackhole.Load() {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					l.close()
					return
				}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
				}
				if l.pending.Add(-1) == 0 {
					l.close()
				}
				return
			}
			l.close()
			return
		}
	}
}

// close closes both sides and forgets the link.
func (l *proxyLink) close() {
	l.once.Do(func() {
		close(l.done)
		l.client.Close()
		l.server.Close()
		l.p.mu.Lock()
		delete(l.p.links, l)
		l.p.mu.Unlock()
	})
}

// reset closes both sides with an RST.
func (l *proxyLink) reset() {
	for _, c := range []net.Conn{l.client, l.server} {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
	}
	l.close()
}

// abort closes c with an RST.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
