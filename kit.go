package redkit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"go.opentelemetry.io/otel/metric"

	"github.com/redkit-go/redkit/codec"
	"github.com/redkit-go/redkit/internal/kitx"
	"github.com/redkit-go/redkit/internal/telemetry"
)

func init() {
	kitx.Of = func(k any) *kitx.State { return k.(*Kit).x }
}

// Kit is a connection to Redis (one node, a Sentinel group or a Cluster)
// with the configuration every redkit package shares: key prefix, codec,
// timeouts, retry, circuit breaker and telemetry. A Kit is safe for
// concurrent use; make one per process and Close it on shutdown.
type Kit struct {
	cfg    Config
	format codec.Format
	x      *kitx.State
	log    *slog.Logger

	client atomic.Pointer[clientBox]
	dead   rueidis.Client // answers ErrClosing until connected
	lazy   *lazyClient
	brk    *breaker

	// calls and folded count commands: see enter and leave. calls is
	// written by every call from every core; the padding keeps it off
	// the cache line of the read-mostly fields every call loads (closed,
	// client...), which otherwise miss on each call (measured: 0.87x of
	// the bare engine at 128 goroutines without it).
	_      [64]byte
	calls  atomic.Int64
	_      [56]byte
	folded atomic.Int64
	errs   atomic.Int64
	direct atomic.Int64 // calls sent on the direct path

	health struct {
		sync.Mutex
		last HealthReport
	}

	closed    atomic.Bool
	closeCh   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
	reg       metric.Registration
}

// clientBox holds the engine clients: c, the pipeline, and d, the direct
// path for calls made while no other is in flight (nil when disabled;
// see direct.go).
type clientBox struct{ c, d rueidis.Client }

func (b *clientBox) close() {
	b.c.Close()
	if b.d != nil {
		b.d.Close()
	}
}

// Open validates cfg, connects and returns a Kit. With AbortOnConnectFail
// false (the default) and Redis unreachable, Open still returns a Kit that
// keeps connecting in the background; calls fail with ErrUnavailable until
// it does. Errors: a *ConfigError (joined) for invalid config; an *Error
// with Kind ErrUnavailable when Redis cannot be reached and
// AbortOnConnectFail is set; the server's reply (WRONGPASS, NOAUTH,
// NOPERM...) when it refuses the credentials; ctx's error if ctx ends.
func Open(ctx context.Context, cfg Config) (*Kit, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.normalize()
	tel := telemetry.New(cfg.Logger, cfg.MeterProvider, cfg.TracerProvider, cfg.MetricsPrefix)
	k := &Kit{
		cfg:     cfg,
		format:  codec.Format{Codec: cfg.Codec, Compression: cfg.Compression, CompressMin: cfg.CompressMin},
		x:       &kitx.State{Tel: tel},
		log:     tel.Logger,
		closeCh: make(chan struct{}),
	}
	k.lazy = &lazyClient{k: k}
	k.brk = newBreaker(cfg.Breaker, func(from, to BreakerState) {
		k.log.Warn("redkit: circuit breaker state changed", "from", string(from), "to", string(to))
	})
	dead, _ := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       []string{"not-connected:0"},
		ForceSingleClient: true,
		DisableCache:      true,
		DialCtxFn: func(context.Context, string, *net.Dialer, *tls.Config) (net.Conn, error) {
			return nil, errNotConnected
		},
	})
	if dead != nil {
		dead.Close()
	}
	k.dead = dead

	b, err := k.connect(ctx, cfg.ConnectRetry)
	switch {
	case err == nil:
		k.client.Store(b)
	case cfg.AbortOnConnectFail || isAuthError(err) || ctx.Err() != nil || errors.Is(err, errConfig):
		return nil, err
	default:
		k.log.Warn("redkit: redis unreachable, connecting in the background", telemetry.KeyError, err)
		k.wg.Add(1)
		go k.connectLoop(err)
	}
	if err := k.registerMetrics(); err != nil {
		k.Close()
		return nil, err
	}
	if cfg.HealthCheck.Enabled {
		k.wg.Add(1)
		go k.healthLoop()
	}
	return k, nil
}

var (
	errNotConnected = errors.New("redkit: not connected to redis yet")
	errConfig       = errors.New("redkit: configuration rejected")
)

func isAuthError(err error) bool {
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

func (k *Kit) clientOption() rueidis.ClientOption {
	c := k.cfg
	gap, wait := watchdog(c.CommandTimeout, c.KeepAlive)
	opt := rueidis.ClientOption{
		InitAddress:           c.Addrs,
		Username:              c.Username,
		Password:              c.Password,
		ClientName:            c.ClientName,
		SelectDB:              c.Database,
		TLSConfig:             c.TLS,
		Dialer:                net.Dialer{Timeout: c.ConnectTimeout, KeepAlive: gap},
		BlockingPoolSize:      c.PoolSize,
		DisableCache:          c.ClientCache.Disable,
		CacheSizeEachConn:     c.ClientCache.MaxBytes,
		OnInvalidations:       k.x.Invalidate,
		MaxFlushDelay:         c.Engine.MaxFlushDelay,
		PipelineMultiplex:     c.Engine.PipelineMultiplex,
		DisableAutoPipelining: c.Engine.DisableAutoPipelining,
		DisableRetry:          c.Retry.Retries == 0,
		RetryDelay:            retryDelay(c.Retry),
		ConnWriteTimeout:      wait,
	}
	if c.Sentinel.MasterName != "" {
		opt.InitAddress = c.Sentinel.Addrs
		opt.Sentinel = rueidis.SentinelOption{
			MasterSet:  c.Sentinel.MasterName,
			Username:   c.Sentinel.Username,
			Password:   c.Sentinel.Password,
			TLSConfig:  c.TLS,
			ClientName: c.ClientName,
			Dialer:     opt.Dialer,
		}
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

// connect tries to build the engine client, retrying with backoff.
func (k *Kit) connect(ctx context.Context, retries int) (*clientBox, error) {
	var lastErr error
	delay := 100 * time.Millisecond
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, errors.Join(lastErr, ctx.Err())
			case <-k.closeCh:
				t.Stop()
				return nil, ErrClosed
			case <-t.C:
			}
			delay = min(delay*2, 5*time.Second)
		}
		b, err := k.newClient()
		if err == nil {
			if k.cfg.Cluster.Enabled && b.c.Mode() != rueidis.ClientModeCluster {
				b.close()
				return nil, fmt.Errorf("%w: Cluster.Enabled is set but %v is not a cluster (mode %s)", errConfig, k.cfg.Addrs, b.c.Mode())
			}
			return b, nil
		}
		lastErr = err
		if isAuthError(err) {
			return nil, &Error{Op: "redkit: open", Err: fmt.Errorf("authentication failed for user %q: %w", userOrDefault(k.cfg.Username), err)}
		}
	}
	return nil, &Error{Op: "redkit: open", Kind: ErrUnavailable, Err: fmt.Errorf("cannot connect to %s: %w", k.target(), lastErr)}
}

func userOrDefault(u string) string {
	if u == "" {
		return "default"
	}
	return u
}

func (k *Kit) target() string {
	if k.cfg.Sentinel.MasterName != "" {
		return fmt.Sprintf("master %q via sentinels %v", k.cfg.Sentinel.MasterName, k.cfg.Sentinel.Addrs)
	}
	return strings.Join(k.cfg.Addrs, ",")
}

func (k *Kit) newClient() (*clientBox, error) {
	opt := k.clientOption()
	c, err := rueidis.NewClient(opt)
	if err != nil {
		if c != nil {
			c.Close()
		}
		return nil, err
	}
	b := &clientBox{c: c}
	if k.cfg.Engine.DisableDirect || k.cfg.Engine.DisableAutoPipelining {
		return b, nil
	}
	if b.d, err = rueidis.NewClient(directOption(opt, k.cfg.CommandTimeout, k.cfg.KeepAlive, k.cfg.ConnectTimeout)); err != nil {
		if b.d != nil {
			b.d.Close()
		}
		c.Close()
		return nil, err
	}
	return b, nil
}

// connectLoop keeps connecting until it succeeds or the Kit closes.
func (k *Kit) connectLoop(lastErr error) {
	defer k.wg.Done()
	delay := 250 * time.Millisecond
	for {
		t := time.NewTimer(delay)
		select {
		case <-k.closeCh:
			t.Stop()
			return
		case <-t.C:
		}
		b, err := k.newClient()
		if err == nil {
			if k.closed.Load() {
				b.close()
				return
			}
			k.client.Store(b)
			k.log.Info("redkit: connected to redis", "target", k.target())
			return
		}
		if err.Error() != lastErr.Error() {
			k.log.Warn("redkit: still connecting to redis", telemetry.KeyError, err)
		}
		lastErr = err
		delay = min(delay*2, 5*time.Second)
	}
}

// Close closes the connections and stops every background goroutine of
// the Kit. Values built on it (caches, locks...) must be closed first if
// they have a Close. Close is idempotent.
func (k *Kit) Close() error {
	k.closeOnce.Do(func() {
		k.closed.Store(true)
		close(k.closeCh)
		k.wg.Wait()
		if b := k.client.Load(); b != nil {
			b.close()
		}
		if k.reg != nil {
			_ = k.reg.Unregister()
		}
	})
	return nil
}

// Config returns the Kit's configuration with defaults applied.
func (k *Kit) Config() Config { return k.cfg }

// Format returns how the Kit encodes typed values: its codec and
// compression settings.
func (k *Kit) Format() codec.Format { return k.format }

// Client returns the engine client, for any command redkit does not wrap.
// Calls on it bypass the Kit's breaker, timeouts and statistics. Before the
// Kit has connected (AbortOnConnectFail false) its calls fail with
// rueidis.ErrClosing; the same value works once the Kit connects.
func (k *Kit) Client() rueidis.Client { return k.lazy }

// current returns the connected engine client or nil.
func (k *Kit) current() rueidis.Client {
	if b := k.client.Load(); b != nil {
		return b.c
	}
	return nil
}

// Connected reports whether the Kit has a connection to Redis (it may
// still be failing).
func (k *Kit) Connected() bool { return k.client.Load() != nil }

// Mode reports the topology: "standalone", "cluster" or "sentinel", or ""
// before the Kit connects.
func (k *Kit) Mode() string {
	if c := k.current(); c != nil {
		return string(c.Mode())
	}
	return ""
}

// B returns a command builder, as rueidis.Client.B does.
func (k *Kit) B() rueidis.Builder { return k.lazy.B() }

func (k *Kit) begin() (*clientBox, func(error), error) {
	if k.closed.Load() {
		return nil, nil, &Error{Op: "redkit: do", Kind: ErrClosed}
	}
	b := k.client.Load()
	if b == nil {
		return nil, nil, &Error{Op: "redkit: do", Kind: ErrUnavailable, Err: errNotConnected}
	}
	done, err := k.brk.allow()
	if err != nil {
		k.leave(k.enter(1))
		k.errs.Add(1)
		return nil, nil, err
	}
	return b, done, nil
}

// The Kit counts commands in one word, calls: the low inflightBits bits
// are commands in flight, the bits above commands finished. A call adds
// n when it starts, which also tells it whether it is alone (the direct
// path), and n<<inflightBits - n when it ends: one atomic add each, the
// least that counting both can cost: on 2 cores every shared cache line
// bounces between them, and in a profile at 128 goroutines an ops counter
// plus an in-flight gauge took 2.9% of the CPU, separate started and
// finished counters 1.8%. Finished commands are moved to folded every
// 2^38 so that calls never overflows.
const (
	inflightBits = 24
	inflightMask = 1<<inflightBits - 1
	foldAt       = 1 << 62
)

// enter counts n commands in flight and returns the number in flight,
// these included.
func (k *Kit) enter(n int64) int64 { return k.calls.Add(n) & inflightMask }

// leave moves n commands from in flight to finished.
func (k *Kit) leave(n int64) {
	if k.calls.Add(n<<inflightBits-n) >= foldAt {
		// Rare; concurrent folds are fine: each moves the same amount.
		k.folded.Add(foldAt >> inflightBits)
		k.calls.Add(-foldAt)
	}
}

// ops is the number of commands started.
func (k *Kit) ops() int64 {
	v := k.calls.Load()
	return k.folded.Load() + v>>inflightBits + v&inflightMask
}

// do sends cmd on the direct path when the call is alone and its ctx
// cannot be cancelled (see direct.go), else on the pipeline, which
// watches ctx.Done().
func (k *Kit) do(ctx context.Context, b *clientBox, cmd rueidis.Completed) rueidis.RedisResult {
	alone := k.enter(1) == 1
	defer k.leave(1)
	if !alone || b.d == nil || cmd.IsBlock() || ctx.Done() != nil {
		return b.c.Do(ctx, cmd)
	}
	k.direct.Add(1)
	r := b.d.Do(ctx, cmd)
	if errors.Is(r.Error(), errStaleConn) {
		// Not sent: the engine dropped that connection; the pipeline has
		// its own, watched by its reader.
		r = b.c.Do(ctx, cmd)
	}
	return r
}

// doMulti is do for a batch. On a cluster a batch spans nodes, and only
// the commands of a node whose connection was stale are resent.
func (k *Kit) doMulti(ctx context.Context, b *clientBox, cmds []rueidis.Completed) []rueidis.RedisResult {
	n := int64(len(cmds))
	alone := k.enter(n) == n
	defer k.leave(n)
	if !alone || b.d == nil || ctx.Done() != nil {
		return b.c.DoMulti(ctx, cmds...)
	}
	for i := range cmds {
		if cmds[i].IsBlock() {
			return b.c.DoMulti(ctx, cmds...)
		}
	}
	k.direct.Add(1)
	res := b.d.DoMulti(ctx, cmds...)
	var again []int
	for i := range res {
		if errors.Is(res[i].Error(), errStaleConn) {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		resend := make([]rueidis.Completed, len(again))
		for j, i := range again {
			resend[j] = cmds[i]
		}
		for j, r := range b.c.DoMulti(ctx, resend...) {
			res[again[j]] = r
		}
	}
	return res
}

// exec is do for a Lua script.
func (k *Kit) exec(ctx context.Context, b *clientBox, script *rueidis.Lua, keys, args []string) rueidis.RedisResult {
	alone := k.enter(1) == 1
	defer k.leave(1)
	if !alone || b.d == nil || ctx.Done() != nil {
		return script.Exec(ctx, b.c, keys, args)
	}
	k.direct.Add(1)
	r := script.Exec(ctx, b.d, keys, args)
	if errors.Is(r.Error(), errStaleConn) {
		r = script.Exec(ctx, b.c, keys, args)
	}
	return r
}

// finish records the outcome of a call for statistics and the breaker,
// and turns a transport failure into ErrUnavailable.
func (k *Kit) finish(ctx context.Context, done func(error), err error) error {
	if err == nil || rueidis.IsRedisNil(err) {
		k.brk.report(done, false, nil)
		return err
	}
	if _, isRedis := rueidis.IsRedisErr(err); isRedis {
		k.brk.report(done, false, nil)
		return err
	}
	k.errs.Add(1)
	if ctx.Err() != nil {
		// The caller gave up: not a sign of Redis health either way.
		if done != nil {
			done(nil)
		}
		return err
	}
	k.brk.report(done, true, err)
	if isTimeout(err) {
		// The engine's watchdog closed a connection that did not answer
		// (see watchdog); to the caller that is its CommandTimeout.
		return &Error{Op: "redkit: do", Kind: ErrUnavailable,
			Err: fmt.Errorf("no reply within CommandTimeout %s: %w (%w)", k.cfg.CommandTimeout, context.DeadlineExceeded, err)}
	}
	return &Error{Op: "redkit: do", Kind: ErrUnavailable, Err: err}
}

// Do runs one command through the Kit: the circuit breaker, CommandTimeout
// when ctx has no deadline, the engine's retry of idempotent commands,
// and statistics. A nil reply comes back as an error for which
// rueidis.IsRedisNil is true; other errors are the server's reply
// (*rueidis.RedisError) or an *Error with Kind ErrUnavailable or
// ErrClosed. Use Wrap to add the operation and key.
func (k *Kit) Do(ctx context.Context, cmd rueidis.Completed) (rueidis.RedisMessage, error) {
	b, done, err := k.begin()
	if err != nil {
		return rueidis.RedisMessage{}, err
	}
	msg, err := k.do(ctx, b, cmd).ToMessage()
	if err != nil {
		err = k.finish(ctx, done, err)
	} else {
		k.brk.report(done, false, nil)
	}
	return msg, err
}

// DoMulti pipelines cmds through the Kit (on a cluster the engine splits
// them per slot). The error is non-nil only when nothing was sent (breaker
// open, not connected, closed); each result carries its own error.
func (k *Kit) DoMulti(ctx context.Context, cmds ...rueidis.Completed) ([]rueidis.RedisResult, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	b, done, err := k.begin()
	if err != nil {
		return nil, err
	}
	res := k.doMulti(ctx, b, cmds)
	k.finishMulti(ctx, done, res)
	return res, nil
}

func (k *Kit) finishMulti(ctx context.Context, done func(error), res []rueidis.RedisResult) {
	var first error
	for _, r := range res {
		if err := r.NonRedisError(); err != nil {
			first = err
			break
		}
	}
	if first == nil {
		k.brk.report(done, false, nil)
		return
	}
	_ = k.finish(ctx, done, first)
}

// DoCache runs a cacheable read through the engine's server-assisted
// client-side cache (RESP3 client tracking), with ttl as the local cap.
// It behaves like Do otherwise.
func (k *Kit) DoCache(ctx context.Context, cmd rueidis.Cacheable, ttl time.Duration) (rueidis.RedisMessage, error) {
	b, done, err := k.begin()
	if err != nil {
		return rueidis.RedisMessage{}, err
	}
	k.enter(1)
	msg, err := b.c.DoCache(ctx, cmd, ttl).ToMessage()
	k.leave(1)
	if err != nil {
		err = k.finish(ctx, done, err)
	} else {
		k.brk.report(done, false, nil)
	}
	return msg, err
}

// DoMultiCache is DoCache for several reads at once.
func (k *Kit) DoMultiCache(ctx context.Context, cmds ...rueidis.CacheableTTL) ([]rueidis.RedisResult, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	b, done, err := k.begin()
	if err != nil {
		return nil, err
	}
	k.enter(int64(len(cmds)))
	res := b.c.DoMultiCache(ctx, cmds...)
	k.leave(int64(len(cmds)))
	k.finishMulti(ctx, done, res)
	return res, nil
}

// Exec runs a Lua script (EVALSHA, falling back to EVAL on NOSCRIPT) with
// the given keys and args, through the Kit like Do. On a cluster all keys
// must hash to one slot (see HashTag).
func (k *Kit) Exec(ctx context.Context, script *rueidis.Lua, keys, args []string) (rueidis.RedisMessage, error) {
	b, done, err := k.begin()
	if err != nil {
		return rueidis.RedisMessage{}, err
	}
	msg, err := k.exec(ctx, b, script, keys, args).ToMessage()
	if err != nil {
		err = k.finish(ctx, done, err)
	} else {
		k.brk.report(done, false, nil)
	}
	return msg, err
}

// Ping sends PING through the Kit and returns the round-trip time.
func (k *Kit) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	_, err := k.Do(ctx, k.B().Ping().Build())
	if err != nil {
		return 0, Wrap("redkit: ping", "", err)
	}
	return time.Since(start), nil
}

// Stats is a snapshot of a Kit's counters.
type Stats struct {
	Ops int64 // commands sent (or refused by the breaker)
	// Direct counts the calls (a command, a batch or a script) that went
	// on the direct path: alone, with a ctx that cannot be cancelled (see
	// EngineConfig.DisableDirect).
	Direct int64
	Errors int64 // commands that failed to get a reply
	// Hits and Misses are cache lookups summed over the Kit's caches.
	Hits, Misses int64
	HitRatio     float64 // Hits / (Hits + Misses); 0 when there were none
	Breaker      BreakerState
	BreakerOpens int64 // times the breaker opened
	Connected    bool
	Mode         string // standalone, cluster, sentinel; "" before connecting
	Nodes        int    // nodes the engine knows (masters and replicas)
	PoolSize     int    // dedicated-connection pool cap (0 = engine default)
}

// Stats returns a snapshot of the Kit's counters. It does no I/O.
func (k *Kit) Stats() Stats {
	s := Stats{
		Ops:       k.ops(),
		Errors:    k.errs.Load(),
		Direct:    k.direct.Load(),
		Hits:      k.x.Hits.Load(),
		Misses:    k.x.Misses.Load(),
		Breaker:   k.brk.state(),
		Connected: k.Connected(),
		PoolSize:  k.cfg.PoolSize,
	}
	if k.brk != nil {
		s.BreakerOpens = k.brk.opens.Load()
	}
	if n := s.Hits + s.Misses; n > 0 {
		s.HitRatio = float64(s.Hits) / float64(n)
	}
	if c := k.current(); c != nil {
		s.Mode = string(c.Mode())
		s.Nodes = len(c.Nodes())
	}
	return s
}

// HealthReport is the result of a health probe.
type HealthReport struct {
	Healthy   bool          `json:"healthy"`
	Latency   time.Duration `json:"latency_ns"`
	Error     string        `json:"error,omitempty"`
	Breaker   BreakerState  `json:"breaker"`
	Mode      string        `json:"mode,omitempty"`
	Nodes     int           `json:"nodes"`
	CheckedAt time.Time     `json:"checked_at"`
	// ConsecutiveFailures counts failed probes in a row (periodic checks).
	ConsecutiveFailures int `json:"consecutive_failures"`
}

// Health probes Redis now with PING, bypassing the circuit breaker (so it
// can tell when Redis is back), bounded by HealthCheck.Timeout when ctx has
// no earlier deadline.
func (k *Kit) Health(ctx context.Context) HealthReport {
	r := k.probe(ctx)
	k.health.Lock()
	if r.Healthy {
		r.ConsecutiveFailures = 0
	} else {
		r.ConsecutiveFailures = k.health.last.ConsecutiveFailures + 1
	}
	k.health.last = r
	k.health.Unlock()
	return r
}

// LastHealth returns the most recent probe's report (from Health or the
// periodic check), and false if there was none.
func (k *Kit) LastHealth() (HealthReport, bool) {
	k.health.Lock()
	defer k.health.Unlock()
	return k.health.last, !k.health.last.CheckedAt.IsZero()
}

func (k *Kit) probe(ctx context.Context) HealthReport {
	r := HealthReport{Breaker: k.brk.state(), CheckedAt: time.Now()}
	c := k.current()
	if c == nil {
		r.Error = errNotConnected.Error()
		if k.closed.Load() {
			r.Error = ErrClosed.Error()
		}
		return r
	}
	r.Mode = string(c.Mode())
	r.Nodes = len(c.Nodes())
	ctx, cancel := context.WithTimeout(ctx, k.cfg.HealthCheck.Timeout)
	defer cancel()
	start := time.Now()
	err := c.Do(ctx, c.B().Ping().Build()).Error()
	r.Latency = time.Since(start)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.Healthy = true
	return r
}

func (k *Kit) healthLoop() {
	defer k.wg.Done()
	t := time.NewTicker(k.cfg.HealthCheck.Interval)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-k.closeCh
		cancel()
	}()
	for {
		r := k.Health(ctx)
		if !r.Healthy && k.closed.Load() {
			return
		}
		if !r.Healthy && r.ConsecutiveFailures == 1 {
			k.log.Warn("redkit: health check failed", telemetry.KeyError, r.Error)
		}
		select {
		case <-k.closeCh:
			return
		case <-t.C:
		}
	}
}

// registerMetrics exposes the Kit's counters as asynchronous OpenTelemetry
// instruments, read at collection time: no cost on the command path.
func (k *Kit) registerMetrics() error {
	m := k.x.Tel.Meter
	t := k.x.Tel
	ops, err1 := m.Int64ObservableCounter(t.Name("commands"), metric.WithDescription("Commands sent to Redis"))
	errs, err2 := m.Int64ObservableCounter(t.Name("command.errors"), metric.WithDescription("Commands that got no reply"))
	state, err3 := m.Int64ObservableGauge(t.Name("breaker.open"), metric.WithDescription("1 while the circuit breaker is not closed"))
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("redkit: metrics: %w", err)
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(ops, k.ops())
		o.ObserveInt64(errs, k.errs.Load())
		open := int64(0)
		if s := k.brk.state(); s == BreakerOpen || s == BreakerHalfOpen {
			open = 1
		}
		o.ObserveInt64(state, open)
		return nil
	}, ops, errs, state)
	if err != nil {
		return fmt.Errorf("redkit: metrics: %w", err)
	}
	k.reg = reg
	return nil
}
