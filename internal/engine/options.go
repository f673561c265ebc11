package engine

import (
	"crypto/tls"
	"time"

	"github.com/redkit-go/redkit/internal/telemetry"
)

// Options is what the engine needs to connect and call, copied in by
// redkit.Open from a normalised Config (every default already applied):
// the engine never imports the root package.
type Options struct {
	Addrs              []string
	Username, Password string
	ClientName         string
	Database           int
	TLS                *tls.Config
	// RequireCluster fails the connection when the seeds are not a cluster.
	RequireCluster bool
	Sentinel       SentinelOptions

	ConnectTimeout     time.Duration
	CommandTimeout     time.Duration
	KeepAlive          time.Duration
	ConnectRetry       int
	AbortOnConnectFail bool
	PoolSize           int

	ClientCacheBytes   int
	DisableClientCache bool

	MaxFlushDelay         time.Duration
	PipelineMultiplex     int
	DisableAutoPipelining bool
	DisableDirect         bool

	Retry   RetryPolicy
	Breaker BreakerPolicy

	Telemetry *telemetry.T
}

// SentinelOptions names the master set and the sentinels to ask for it.
type SentinelOptions struct {
	MasterName         string
	Addrs              []string
	Username, Password string
}

// RetryPolicy is redkit.RetryPolicy with its defaults applied.
type RetryPolicy struct {
	Retries       int
	Delay         time.Duration
	BackoffFactor float64
	MaxDelay      time.Duration
}

// BreakerPolicy is redkit.BreakerPolicy with its defaults applied.
type BreakerPolicy struct {
	Disabled         bool
	FailureThreshold int
	RecoveryTimeout  time.Duration
	SuccessThreshold int
}
