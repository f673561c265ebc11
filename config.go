package redkit

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/redkit-go/redkit/codec"
)

// Defaults applied by Open to zero Config fields.
const (
	DefaultAddr           = "127.0.0.1:6379"
	DefaultConnectTimeout = 5 * time.Second
	DefaultCommandTimeout = 5 * time.Second
	DefaultConnectRetry   = 3
	DefaultKeepAlive      = 60 * time.Second
	DefaultExpiry         = 30 * time.Minute

	DefaultRetries       = 3
	DefaultRetryDelay    = 20 * time.Millisecond
	DefaultBackoffFactor = 2.0
	DefaultMaxRetryDelay = time.Second

	DefaultFailureThreshold = 10
	DefaultRecoveryTimeout  = 5 * time.Second
	DefaultSuccessThreshold = 2

	DefaultHealthInterval = 5 * time.Second
	DefaultHealthTimeout  = time.Second

	// DefaultMaxFlushDelay is how long the engine's write loop waits after
	// each flush to gather more pipelined commands. Measured on a 2-core
	// machine (bench/RESULTS.md): 20µs keeps single-goroutine latency
	// within a few percent of no delay and raises throughput at 128+
	// goroutines by well over 2x.
	DefaultMaxFlushDelay = 20 * time.Microsecond

	// DefaultMetricsPrefix prefixes every OpenTelemetry instrument name.
	DefaultMetricsPrefix = "redkit"
)

// Config configures a Kit. The zero value connects to DefaultAddr with
// every default below; Open fills zero fields with the Default constants.
// Set either URL or Addrs (or both, agreeing); URL fields fill the zero
// fields of the Config.
type Config struct {
	// URL is redis://, rediss:// (TLS) or redis+sentinel:// (see ParseURL).
	URL string
	// Addrs are seed addresses: one node, a cluster's nodes (the topology
	// is detected), or the sentinels when Sentinel.MasterName is set.
	Addrs []string

	Username, Password string
	// Database is the logical database (SELECT); must be 0 on a cluster.
	Database int
	// KeyPrefix, such as "myapp:", is prepended to every key redkit writes.
	KeyPrefix string
	// ClientName is sent with CLIENT SETNAME on each connection.
	ClientName string

	// ConnectTimeout bounds each dial; default 5s.
	ConnectTimeout time.Duration
	// CommandTimeout is how long Redis may leave a connection without a
	// reply before the connection is closed and the calls waiting on it
	// fail with ErrUnavailable wrapping context.DeadlineExceeded; default
	// 5s. It bounds every call, including one whose ctx has no deadline
	// (at most 1.5x CommandTimeout), and a command that takes less than
	// CommandTimeout is never cut short; one that takes longer needs a
	// larger CommandTimeout, whatever its ctx. A ctx that ends sooner ends
	// the call sooner. Blocking commands (BLPOP, XREADGROUP BLOCK...) are
	// left to their ctx. Idle connections are PINGed every
	// CommandTimeout/4 (at most every KeepAlive).
	CommandTimeout time.Duration
	// ConnectRetry is how many more times Open tries to connect, with
	// backoff, before giving up (or going on in the background); default 3.
	// A negative value means no retry.
	ConnectRetry int
	// AbortOnConnectFail makes Open fail when Redis cannot be reached.
	// When false (the default) Open returns a Kit that keeps connecting in
	// the background; until it does, calls fail with ErrUnavailable.
	// Authentication errors fail Open either way.
	AbortOnConnectFail bool
	// KeepAlive is the TCP keep-alive period; default 60s.
	KeepAlive time.Duration
	// DefaultExpiry is the TTL used where a TTL of 0 is given; default 30m.
	DefaultExpiry time.Duration
	// PoolSize caps the dedicated connections used for blocking commands
	// and transactions; 0 = the engine's default (1024).
	PoolSize int

	// Codec encodes typed values; default codec.JSON.
	Codec codec.Codec
	// Compression compresses encoded values of CompressMin bytes or more;
	// default codec.None. Reads detect compressed values whatever this is.
	Compression codec.Compression
	// CompressMin is the smallest encoded size that is compressed; 0 means
	// codec.DefaultCompressMin.
	CompressMin int

	// TLS enables TLS with this configuration (rediss:// sets it too).
	TLS      *tls.Config
	Cluster  ClusterConfig
	Sentinel SentinelConfig
	Retry    RetryPolicy
	Breaker  BreakerPolicy
	// HealthCheck makes the Kit PING Redis periodically in the background;
	// Kit.Health reports the result. health.Checker uses its Interval and
	// Timeout as defaults.
	HealthCheck HealthCheckConfig
	// ClientCache sizes the engine's per-connection tracking cache, used
	// by DoCache (and so by the cache package's near cache).
	ClientCache ClientCacheConfig
	// Engine tunes the rueidis client; zero fields are measured defaults.
	Engine EngineConfig

	// Logger receives the Kit's logs (reconnects, breaker changes); nil
	// discards them.
	Logger *slog.Logger
	// MeterProvider and TracerProvider are OpenTelemetry providers; nil
	// means the global ones.
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
	// MetricsPrefix prefixes instrument names; default "redkit".
	MetricsPrefix string
}

// ClusterConfig configures Redis Cluster. A cluster is also detected
// without it, from the seed addresses.
type ClusterConfig struct {
	// Enabled requires a cluster: Open fails if the seeds are not one.
	Enabled bool
	// Endpoints are seed nodes; Addrs are used when empty.
	Endpoints []string
}

// SentinelConfig configures Redis Sentinel: the sentinels are asked for
// the current master of MasterName and followed across failovers.
type SentinelConfig struct {
	MasterName string
	// Addrs are the sentinels; Config.Addrs are used when empty.
	Addrs              []string
	Username, Password string // the sentinels' own credentials
}

// RetryPolicy retries idempotent (read-only) commands that failed to reach
// Redis, with exponential backoff and full jitter. Writes are not retried.
type RetryPolicy struct {
	// Retries after the first attempt; default 3; negative disables retry.
	Retries int
	// Delay before the first retry; default 20ms.
	Delay time.Duration
	// BackoffFactor multiplies the delay after each retry; default 2.
	BackoffFactor float64
	// MaxDelay caps a single delay; default 1s.
	MaxDelay time.Duration
}

// BreakerPolicy configures the circuit breaker in front of Redis. It opens
// after FailureThreshold consecutive transport failures (errors answered by
// Redis do not count); while open, calls fail at once with ErrUnavailable;
// after RecoveryTimeout it lets probes through and closes after
// SuccessThreshold successes.
type BreakerPolicy struct {
	Disabled         bool
	FailureThreshold int           // default 10
	RecoveryTimeout  time.Duration // default 5s
	SuccessThreshold int           // default 2
}

// HealthCheckConfig configures periodic PINGs.
type HealthCheckConfig struct {
	Enabled  bool
	Interval time.Duration // default 5s
	Timeout  time.Duration // default 1s
}

// ClientCacheConfig configures the engine's server-assisted client-side
// cache (RESP3 CLIENT TRACKING), one per connection.
type ClientCacheConfig struct {
	// MaxBytes per connection; 0 = the engine's default (128 MiB).
	MaxBytes int
	// Disable turns tracking off: DoCache then always asks the server and
	// near caches are not invalidated by Redis, so the cache package
	// refuses NearCache options.
	Disable bool
}

// EngineConfig tunes the rueidis client. Defaults come from measurements
// (see the README's performance section and bench/RESULTS.md).
type EngineConfig struct {
	// MaxFlushDelay: see DefaultMaxFlushDelay. Negative means none.
	MaxFlushDelay time.Duration
	// PipelineMultiplex: 2^n pipelined connections per node; -1 means one
	// connection. 0 means one connection when GOMAXPROCS is 4 or less
	// (measured best on 2 cores: fuller pipelines), else the engine's
	// default (log2(GOMAXPROCS), at most 2).
	PipelineMultiplex int
	// DisableAutoPipelining sends every command on a pooled connection:
	// measured ~1.5x the throughput of the pipeline for one sequential
	// caller, and far below it once callers overlap (bench -suite tune).
	// The default gets both: see DisableDirect.
	DisableAutoPipelining bool
	// DisableDirect keeps every call on the pipeline. By default a call
	// that starts while no other call of the Kit is in flight is written
	// and read on the caller's goroutine over a pooled connection (one per
	// node in practice), skipping the pipeline's hand-off between
	// goroutines: about 1.3x less CPU per call for sequential callers, no
	// change under concurrency. Its ctx's deadline becomes the
	// connection's (capped at CommandTimeout), and a cancelled ctx breaks
	// the read: the connection is then discarded, never reused
	// mid-reply. A pooled connection is checked before it is written to,
	// so one that the server closed while idle (a restart) is dropped and
	// the call goes on the pipeline instead of failing. Reads through
	// DoCache (client-side caching), blocking commands and (un)subscribe
	// commands always use the pipeline or their own connections.
	DisableDirect bool
}

// ConfigError names the Config field that is wrong.
type ConfigError struct {
	Field string
	Msg   string
}

func (e *ConfigError) Error() string { return "redkit: config: " + e.Field + ": " + e.Msg }

// Validate checks c and returns every problem found, each a *ConfigError
// naming the field, joined with errors.Join. It does not connect.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ConfigError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if c.URL != "" {
		u, err := ParseURL(c.URL)
		if err != nil {
			errs = append(errs, err)
		} else {
			if len(c.Addrs) > 0 && !sameAddrs(u.Addrs, c.Addrs) {
				bad("Addrs", "%v disagrees with URL hosts %v: set one of them", c.Addrs, u.Addrs)
			}
			if c.Database != 0 && u.Database != 0 && c.Database != u.Database {
				bad("Database", "%d disagrees with URL database %d", c.Database, u.Database)
			}
			c = mergeURL(c, u)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ConnectTimeout", c.ConnectTimeout}, {"CommandTimeout", c.CommandTimeout},
		{"KeepAlive", c.KeepAlive}, {"DefaultExpiry", c.DefaultExpiry},
		{"Retry.Delay", c.Retry.Delay}, {"Retry.MaxDelay", c.Retry.MaxDelay},
		{"Breaker.RecoveryTimeout", c.Breaker.RecoveryTimeout},
		{"HealthCheck.Interval", c.HealthCheck.Interval}, {"HealthCheck.Timeout", c.HealthCheck.Timeout},
	} {
		if d.v < 0 {
			bad(d.name, "must not be negative (got %s)", d.v)
		}
	}
	if c.Database < 0 {
		bad("Database", "must not be negative (got %d)", c.Database)
	}
	if c.PoolSize < 0 {
		bad("PoolSize", "must not be negative (got %d)", c.PoolSize)
	}
	if c.CompressMin < 0 {
		bad("CompressMin", "must not be negative (got %d)", c.CompressMin)
	}
	if c.Compression > codec.S2 {
		bad("Compression", "unknown compression %d", c.Compression)
	}
	if c.Retry.BackoffFactor != 0 && c.Retry.BackoffFactor < 1 {
		bad("Retry.BackoffFactor", "must be at least 1 (got %g)", c.Retry.BackoffFactor)
	}
	if c.Breaker.FailureThreshold < 0 {
		bad("Breaker.FailureThreshold", "must not be negative (got %d)", c.Breaker.FailureThreshold)
	}
	if c.Breaker.SuccessThreshold < 0 {
		bad("Breaker.SuccessThreshold", "must not be negative (got %d)", c.Breaker.SuccessThreshold)
	}
	if c.ClientCache.MaxBytes < 0 {
		bad("ClientCache.MaxBytes", "must not be negative (got %d)", c.ClientCache.MaxBytes)
	}
	if c.Engine.PipelineMultiplex < -1 || c.Engine.PipelineMultiplex > 8 {
		bad("Engine.PipelineMultiplex", "must be between -1 and 8 (got %d)", c.Engine.PipelineMultiplex)
	}
	if len(c.Sentinel.Addrs) > 0 && c.Sentinel.MasterName == "" {
		bad("Sentinel.MasterName", "required when Sentinel.Addrs is set")
	}
	if c.Sentinel.MasterName != "" {
		if c.Cluster.Enabled {
			bad("Cluster.Enabled", "cannot be combined with Sentinel.MasterName")
		}
		if len(c.Sentinel.Addrs) == 0 && len(c.Addrs) == 0 {
			bad("Sentinel.Addrs", "required with Sentinel.MasterName (or set Addrs to the sentinels)")
		}
	}
	if c.Cluster.Enabled && c.Database != 0 {
		bad("Database", "must be 0 on a cluster (got %d): Redis Cluster has only database 0", c.Database)
	}
	for _, f := range []struct {
		name  string
		addrs []string
	}{{"Addrs", c.Addrs}, {"Cluster.Endpoints", c.Cluster.Endpoints}, {"Sentinel.Addrs", c.Sentinel.Addrs}} {
		for i, a := range f.addrs {
			if err := checkAddr(a); err != nil {
				bad(f.name, "address %d %q: %v", i, a, err)
			}
		}
	}
	return errors.Join(errs...)
}

func sameAddrs(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// mergeURL fills zero fields of c from the parsed URL config u.
func mergeURL(c, u Config) Config {
	if len(c.Addrs) == 0 {
		c.Addrs = u.Addrs
	}
	setStr := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	setStr(&c.Username, u.Username)
	setStr(&c.Password, u.Password)
	setStr(&c.KeyPrefix, u.KeyPrefix)
	setStr(&c.ClientName, u.ClientName)
	setStr(&c.Sentinel.MasterName, u.Sentinel.MasterName)
	setStr(&c.Sentinel.Username, u.Sentinel.Username)
	setStr(&c.Sentinel.Password, u.Sentinel.Password)
	if c.Database == 0 {
		c.Database = u.Database
	}
	if c.TLS == nil {
		c.TLS = u.TLS
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = u.ConnectTimeout
	}
	if c.CommandTimeout == 0 {
		c.CommandTimeout = u.CommandTimeout
	}
	if c.PoolSize == 0 {
		c.PoolSize = u.PoolSize
	}
	if c.ConnectRetry == 0 {
		c.ConnectRetry = u.ConnectRetry
	}
	if c.Compression == codec.None {
		c.Compression = u.Compression
	}
	if c.CompressMin == 0 {
		c.CompressMin = u.CompressMin
	}
	if c.DefaultExpiry == 0 {
		c.DefaultExpiry = u.DefaultExpiry
	}
	c.Cluster.Enabled = c.Cluster.Enabled || u.Cluster.Enabled
	return c
}

// normalize merges the URL and applies defaults. It assumes Validate passed.
func (c Config) normalize() Config {
	if c.URL != "" {
		if u, err := ParseURL(c.URL); err == nil {
			c = mergeURL(c, u)
		}
	}
	c.Addrs = slices.Clone(c.Addrs)
	if c.Sentinel.MasterName != "" && len(c.Sentinel.Addrs) == 0 {
		c.Sentinel.Addrs = c.Addrs
	}
	if len(c.Cluster.Endpoints) > 0 && len(c.Addrs) == 0 {
		c.Addrs = slices.Clone(c.Cluster.Endpoints)
	}
	if len(c.Addrs) == 0 && c.Sentinel.MasterName == "" {
		c.Addrs = []string{DefaultAddr}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ConnectTimeout, DefaultConnectTimeout)
	def(&c.CommandTimeout, DefaultCommandTimeout)
	def(&c.KeepAlive, DefaultKeepAlive)
	def(&c.DefaultExpiry, DefaultExpiry)
	def(&c.Retry.Delay, DefaultRetryDelay)
	def(&c.Retry.MaxDelay, DefaultMaxRetryDelay)
	def(&c.Breaker.RecoveryTimeout, DefaultRecoveryTimeout)
	def(&c.HealthCheck.Interval, DefaultHealthInterval)
	def(&c.HealthCheck.Timeout, DefaultHealthTimeout)
	def(&c.Engine.MaxFlushDelay, DefaultMaxFlushDelay)
	if c.Engine.MaxFlushDelay < 0 {
		c.Engine.MaxFlushDelay = 0
	}
	if c.Engine.PipelineMultiplex == 0 && runtime.GOMAXPROCS(0) <= 4 {
		c.Engine.PipelineMultiplex = -1
	}
	switch {
	case c.ConnectRetry == 0:
		c.ConnectRetry = DefaultConnectRetry
	case c.ConnectRetry < 0:
		c.ConnectRetry = 0
	}
	switch {
	case c.Retry.Retries == 0:
		c.Retry.Retries = DefaultRetries
	case c.Retry.Retries < 0:
		c.Retry.Retries = 0
	}
	if c.Retry.BackoffFactor == 0 {
		c.Retry.BackoffFactor = DefaultBackoffFactor
	}
	if c.Breaker.FailureThreshold == 0 {
		c.Breaker.FailureThreshold = DefaultFailureThreshold
	}
	if c.Breaker.SuccessThreshold == 0 {
		c.Breaker.SuccessThreshold = DefaultSuccessThreshold
	}
	if c.Codec == nil {
		c.Codec = codec.JSON
	}
	if c.CompressMin == 0 {
		c.CompressMin = codec.DefaultCompressMin
	}
	if c.MetricsPrefix == "" {
		c.MetricsPrefix = DefaultMetricsPrefix
	}
	return c
}
