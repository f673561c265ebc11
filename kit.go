package redkit

import (
	"context"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit/codec"
	"github.com/redkit-go/redkit/internal/engine"
	"github.com/redkit-go/redkit/internal/telemetry"
)

// Kit is a connection to Redis (one node, a Sentinel group or a Cluster)
// with the configuration every redkit package shares: key prefix, codec,
// timeouts, retry, circuit breaker and telemetry. A Kit is safe for
// concurrent use; make one per process and Close it on shutdown.
//
// Every call made through a Kit, by redkit's packages or by a user, takes
// one route to Redis (internal/engine): the breaker, the retry of
// idempotent commands, the classification of errors into *Error, the
// counters behind Stats and the metrics. Client returns that route as a
// rueidis.Client, for any command redkit does not wrap; Do, DoMulti,
// DoCache, DoMultiCache and Exec are shorthands on it that return the
// reply and the error apart.
type Kit struct {
	cfg    Config
	format codec.Format
	e      *engine.Engine
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
	e, err := engine.New(ctx, cfg.engineOptions())
	if err != nil {
		return nil, err
	}
	k := &Kit{
		cfg:    cfg,
		format: codec.Format{Codec: cfg.Codec, Compression: cfg.Compression, CompressMin: cfg.CompressMin},
		e:      e,
	}
	if hc := cfg.HealthCheck; hc.Enabled {
		log := cfg.Logger
		e.Watch(hc.Interval, hc.Timeout, func(r engine.Report) {
			if !r.Healthy && r.ConsecutiveFailures == 1 && log != nil {
				log.Warn("redkit: health check failed", telemetry.KeyError, r.Error)
			}
		})
	}
	return k, nil
}

// engineOptions copies what the engine needs from a normalised Config.
func (c Config) engineOptions() engine.Options {
	return engine.Options{
		Addrs:          c.Addrs,
		Username:       c.Username,
		Password:       c.Password,
		ClientName:     c.ClientName,
		Database:       c.Database,
		TLS:            c.TLS,
		RequireCluster: c.Cluster.Enabled,
		Sentinel: engine.SentinelOptions{
			MasterName: c.Sentinel.MasterName,
			Addrs:      c.Sentinel.Addrs,
			Username:   c.Sentinel.Username,
			Password:   c.Sentinel.Password,
		},
		ConnectTimeout:        c.ConnectTimeout,
		CommandTimeout:        c.CommandTimeout,
		KeepAlive:             c.KeepAlive,
		ConnectRetry:          c.ConnectRetry,
		AbortOnConnectFail:    c.AbortOnConnectFail,
		PoolSize:              c.PoolSize,
		ClientCacheBytes:      c.ClientCache.MaxBytes,
		DisableClientCache:    c.ClientCache.Disable,
		MaxFlushDelay:         c.Engine.MaxFlushDelay,
		PipelineMultiplex:     c.Engine.PipelineMultiplex,
		DisableAutoPipelining: c.Engine.DisableAutoPipelining,
		DisableDirect:         c.Engine.DisableDirect,
		Retry: engine.RetryPolicy{
			Retries:       c.Retry.Retries,
			Delay:         c.Retry.Delay,
			BackoffFactor: c.Retry.BackoffFactor,
			MaxDelay:      c.Retry.MaxDelay,
		},
		Breaker: engine.BreakerPolicy{
			Disabled:         c.Breaker.Disabled,
			FailureThreshold: c.Breaker.FailureThreshold,
			RecoveryTimeout:  c.Breaker.RecoveryTimeout,
			SuccessThreshold: c.Breaker.SuccessThreshold,
		},
		Telemetry: telemetry.New(c.Logger, c.MeterProvider, c.TracerProvider, c.MetricsPrefix),
	}
}

// Close closes the connections and stops every background goroutine of
// the Kit. Values built on it (caches, locks...) must be closed first if
// they have a Close. Close is idempotent and returns nil.
func (k *Kit) Close() error {
	k.e.Close()
	return nil
}

// Config returns the Kit's configuration with defaults applied.
func (k *Kit) Config() Config { return k.cfg }

// Format returns how the Kit encodes typed values: its codec and
// compression settings.
func (k *Kit) Format() codec.Format { return k.format }

// Client returns the Kit's route to Redis as a rueidis.Client, for any
// command redkit does not wrap. Its calls pass the Kit's circuit breaker,
// are counted in Stats and the metrics, and fail with an *Error (Kind
// ErrUnavailable or ErrClosed) when Redis cannot be reached; Redis's own
// error replies come back as *rueidis.RedisError. Before the Kit has
// connected (AbortOnConnectFail false) its calls fail with ErrUnavailable;
// the same value works once the Kit connects. Nodes returns per-node
// clients on the same route. Its Close does nothing: close the Kit.
func (k *Kit) Client() rueidis.Client { return k.e.Client() }

// B returns a command builder, as rueidis.Client.B does.
func (k *Kit) B() rueidis.Builder { return k.e.B() }

// Connected reports whether the Kit has a connection to Redis (it may
// still be failing).
func (k *Kit) Connected() bool { return k.e.Connected() }

// Mode reports the topology: "standalone", "cluster" or "sentinel", or ""
// before the Kit connects.
func (k *Kit) Mode() string { return k.e.Mode() }

// Do runs one command on the Kit's route: the circuit breaker,
// CommandTimeout, the engine's retry of idempotent commands, and
// statistics. A nil reply comes back as an error for which
// rueidis.IsRedisNil is true; other errors are the server's reply
// (*rueidis.RedisError), an *Error with Kind ErrUnavailable or ErrClosed,
// or ctx's error. Use Wrap to add the operation and key.
func (k *Kit) Do(ctx context.Context, cmd rueidis.Completed) (rueidis.RedisMessage, error) {
	return k.e.Do(ctx, cmd)
}

// DoMulti pipelines cmds on the Kit's route (on a cluster the engine
// splits them per slot). The error is non-nil only when nothing was sent
// (breaker open, not connected, closed); each result carries its own
// error, as Do's.
func (k *Kit) DoMulti(ctx context.Context, cmds ...rueidis.Completed) ([]rueidis.RedisResult, error) {
	return k.e.DoMulti(ctx, cmds...)
}

// DoCache runs a cacheable read through the engine's server-assisted
// client-side cache (RESP3 client tracking), with ttl as the local cap.
// It behaves like Do otherwise.
func (k *Kit) DoCache(ctx context.Context, cmd rueidis.Cacheable, ttl time.Duration) (rueidis.RedisMessage, error) {
	return k.e.DoCache(ctx, cmd, ttl)
}

// DoMultiCache is DoCache for several reads at once.
func (k *Kit) DoMultiCache(ctx context.Context, cmds ...rueidis.CacheableTTL) ([]rueidis.RedisResult, error) {
	return k.e.DoMultiCache(ctx, cmds...)
}

// Exec runs a Lua script (EVALSHA, falling back to EVAL on NOSCRIPT) with
// the given keys and args, on the Kit's route like Do. On a cluster all
// keys must hash to one slot (see HashTag).
func (k *Kit) Exec(ctx context.Context, script *rueidis.Lua, keys, args []string) (rueidis.RedisMessage, error) {
	return k.e.Exec(ctx, script, keys, args)
}

// Ping sends PING on the Kit's route and returns the round-trip time.
func (k *Kit) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	_, err := k.e.Do(ctx, k.e.B().Ping().Build())
	if err != nil {
		return 0, Wrap("redkit: ping", "", err)
	}
	return time.Since(start), nil
}
