package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit/internal/telemetry"
)

var (
	// errNotConnected is the cause of ErrUnavailable before the first
	// connection succeeds.
	errNotConnected = errors.New("redkit: not connected to redis yet")

	// ErrConfig marks a connection refused for a configuration reason
	// (not a cluster while one is required): Open fails at once.
	ErrConfig = errors.New("redkit: configuration rejected")
)

// clients holds the engine clients: c, the pipeline, and d, the direct
// path for calls made while no other is in flight (nil when disabled;
// see direct.go).
type clients struct{ c, d rueidis.Client }

func (b *clients) close() {
	b.c.Close()
	if b.d != nil {
		b.d.Close()
	}
}

// newPlaceholder returns a closed client whose B is the builder handed
// out before the engine connects.
func newPlaceholder() rueidis.Client {
	c, _ := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       []string{"not-connected:0"},
		ForceSingleClient: true,
		DisableCache:      true,
		DialCtxFn: func(context.Context, string, *net.Dialer, *tls.Config) (net.Conn, error) {
			return nil, errNotConnected
		},
	})
	if c != nil {
		c.Close()
	}
	return c
}

// isConfigError reports whether err, from connecting, is the server (or
// the address) refusing the configuration: no retry helps, so Open fails
// whatever AbortOnConnectFail says. A reply such as "ERR DB index is out
// of range" is; LOADING, BUSY and the cluster's transient refusals are not.
func isConfigError(err error) bool {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return true
	}
	var re *rueidis.RedisError
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	for _, p := range []string{"LOADING", "BUSY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY"} {
		if strings.HasPrefix(msg, p) {
			return false
		}
	}
	return true
}

// notConnected is the cause of ErrUnavailable before the first connection:
// it says why the last attempt failed.
func (e *Engine) notConnected() error {
	if p := e.lastErr.Load(); p != nil {
		return fmt.Errorf("%w (last attempt: %w)", errNotConnected, *p)
	}
	return errNotConnected
}

// IsAuthError reports whether err is the server refusing the credentials.
func IsAuthError(err error) bool {
	var re *rueidis.RedisError
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	for _, p := range []string{"WRONGPASS", "NOAUTH", "NOPERM", "ERR AUTH", "ERR invalid password", "ERR Client sent AUTH"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func (e *Engine) clientOption() rueidis.ClientOption {
	o := e.opt
	gap, wait := watchdog(o.CommandTimeout, o.KeepAlive)
	opt := rueidis.ClientOption{
		InitAddress:           o.Addrs,
		Username:              o.Username,
		Password:              o.Password,
		ClientName:            o.ClientName,
		SelectDB:              o.Database,
		TLSConfig:             o.TLS,
		Dialer:                net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: gap},
		BlockingPoolSize:      o.PoolSize,
		DisableCache:          o.DisableClientCache,
		CacheSizeEachConn:     o.ClientCacheBytes,
		OnInvalidations:       e.hooks.invalidate,
		MaxFlushDelay:         o.MaxFlushDelay,
		PipelineMultiplex:     o.PipelineMultiplex,
		DisableAutoPipelining: o.DisableAutoPipelining,
		DisableRetry:          o.Retry.Retries == 0,
		RetryDelay:            retryDelay(o.Retry),
		ConnWriteTimeout:      wait,
	}
	return opt
}

// watchdog returns the engine's ping gap (its Dialer.KeepAlive) and
// ConnWriteTimeout that implement CommandTimeout.
//
// CommandTimeout is not a per-call context. In a pipeline a call that
// gives up waiting frees nothing: its reply still has to be read before
// the next one, so a stalled server stalls the whole connection whatever
// each caller's deadline. What frees callers is closing that connection,
// and the engine's watchdog does that: every gap, on a connection that
// got no reply during the last gap, it sends PING behind the commands in
// flight and closes the connection if no reply comes within wait. Every
// call waiting on it then fails (ErrUnavailable wrapping
// context.DeadlineExceeded) and the next call dials again.
//
// With wait = CommandTimeout, calls fail only once the server has left a
// PING unanswered for CommandTimeout (a command that takes less never
// fails this way), and at most CommandTimeout + 2*gap after they start:
// 1.5x CommandTimeout with gap = CommandTimeout/4. The bound holds
// whatever the caller's ctx, so a command slower than CommandTimeout
// needs a larger CommandTimeout, not a longer ctx deadline. Idle
// connections get a PING every gap (the engine's own default is every
// second). The direct path (direct.go) gets the same bound from a
// connection deadline.
//
// A context per call (context.WithTimeout, or one deadline shared by the
// calls of a short window) did the same for the caller and cost 10-20%
// of throughput at 128 goroutines on 2 cores (the engine then waits in a
// select on the reply and ctx.Done(), which locks both channels twice),
// plus 5 allocations per call when ctx was cancellable.
func watchdog(commandTimeout, keepAlive time.Duration) (gap, wait time.Duration) {
	return min(keepAlive, commandTimeout/4), commandTimeout
}

// retryDelay turns a RetryPolicy into the engine's retry hook. The engine
// retries only read-only (idempotent) commands, and commands marked with
// rueidis's ToRetryable; negative means stop.
func retryDelay(p RetryPolicy) rueidis.RetryDelayFn {
	return func(attempts int, _ rueidis.Completed, err error) time.Duration {
		if attempts > p.Retries || isTimeout(err) {
			// A server that did not answer within CommandTimeout (or a
			// dial that timed out) is not helped by asking again at once;
			// the call would only wait CommandTimeout more.
			return -1
		}
		d := float64(p.Delay)
		for i := 1; i < attempts; i++ {
			d *= p.BackoffFactor
			if d >= float64(p.MaxDelay) {
				break
			}
		}
		d = min(d, float64(p.MaxDelay))
		// Full jitter: a random delay in [d/2, d), so that many clients
		// retrying after one failure do not arrive together.
		return time.Duration(d/2 + rand.Float64()*d/2)
	}
}

// connect tries to build the engine clients, retrying with backoff.
func (e *Engine) connect(ctx context.Context, retries int) (*clients, error) {
	var lastErr error
	delay := 100 * time.Millisecond
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, errors.Join(lastErr, ctx.Err())
			case <-e.closeCh:
				t.Stop()
				return nil, ErrClosed
			case <-t.C:
			}
			delay = min(delay*2, 5*time.Second)
		}
		b, err := e.newClients(ctx)
		if err == nil {
			if e.opt.RequireCluster && b.c.Mode() != rueidis.ClientModeCluster {
				b.close()
				return nil, fmt.Errorf("%w: Cluster.Enabled is set but %v is not a cluster (mode %s)", ErrConfig, e.opt.Addrs, b.c.Mode())
			}
			return b, nil
		}
		lastErr = err
		e.lastErr.Store(&err)
		if IsAuthError(err) {
			return nil, &Error{Op: "redkit: open", Err: fmt.Errorf("authentication failed for user %q: %w", userOrDefault(e.opt.Username), err)}
		}
		if isConfigError(err) {
			return nil, &Error{Op: "redkit: open", Err: fmt.Errorf("%w: %s: %w", ErrConfig, e.target(), err)}
		}
	}
	return nil, &Error{Op: "redkit: open", Kind: ErrUnavailable, Err: fmt.Errorf("cannot connect to %s: %w", e.target(), lastErr)}
}

func userOrDefault(u string) string {
	if u == "" {
		return "default"
	}
	return u
}

func (e *Engine) target() string {
	if e.opt.Sentinel.MasterName != "" {
		return fmt.Sprintf("master %q via sentinels %v", e.opt.Sentinel.MasterName, e.opt.Sentinel.Addrs)
	}
	return strings.Join(e.opt.Addrs, ",")
}

// newClients builds the engine clients: for the seeds, or in Sentinel mode
// for the master the sentinels name (starting to follow it the first time).
func (e *Engine) newClients(ctx context.Context) (*clients, error) {
	if e.opt.Sentinel.MasterName == "" {
		return e.newClientsWith(e.clientOption())
	}
	if e.watcher == nil {
		w, err := e.startSentinel(ctx)
		if err != nil {
			return nil, err
		}
		e.watcher = w
		e.wg.Add(1)
		go e.followMaster(w)
	}
	return e.newClientsAt(e.watcher.Master())
}

// newClientsAt builds the engine clients for the master at addr.
func (e *Engine) newClientsAt(addr string) (*clients, error) {
	return e.newClientsWith(e.masterOption(e.clientOption(), addr))
}

func (e *Engine) newClientsWith(opt rueidis.ClientOption) (*clients, error) {
	c, err := rueidis.NewClient(opt)
	if err != nil {
		if c != nil {
			c.Close()
		}
		return nil, err
	}
	b := &clients{c: c}
	if e.opt.DisableDirect || e.opt.DisableAutoPipelining {
		return b, nil
	}
	if b.d, err = rueidis.NewClient(e.directOption(opt)); err != nil {
		if b.d != nil {
			b.d.Close()
		}
		c.Close()
		return nil, err
	}
	return b, nil
}

// connectLoop keeps connecting until it succeeds or the engine closes.
func (e *Engine) connectLoop(lastErr error) {
	defer e.wg.Done()
	delay := 250 * time.Millisecond
	for {
		t := time.NewTimer(delay)
		select {
		case <-e.closeCh:
			t.Stop()
			return
		case <-t.C:
		}
		b, err := e.newClients(e.ctx)
		if err == nil {
			if e.closed.Load() || !e.clients.CompareAndSwap(nil, b) {
				b.close()
				return
			}
			e.log.Info("redkit: connected to redis", "target", e.target())
			return
		}
		e.lastErr.Store(&err)
		if err.Error() != lastErr.Error() {
			e.log.Warn("redkit: still connecting to redis", telemetry.KeyError, err)
		}
		lastErr = err
		delay = min(delay*2, 5*time.Second)
	}
}
