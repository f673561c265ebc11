package redkit

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redkit-go/redkit/codec"
)

// ParseURL parses a Redis URL into a Config:
//
//	redis://[user[:password]@]host[:port][,host[:port]...][/db][?param=value...]
//	rediss://...                    the same over TLS (certificates verified)
//	redis+sentinel://[user[:password]@]host[:port][,host[:port]...]/master[/db][?...]
//	rediss+sentinel://...           sentinel over TLS
//
// Several hosts are cluster seeds (or sentinels). The port defaults to
// 6379 (26379 for sentinels). Query parameters: connect_timeout,
// command_timeout (alias timeout), client_name, key_prefix, db, pool_size,
// connect_retry, cluster (true), master (the sentinel master name, instead
// of the path), sentinel_username, sentinel_password, compression
// (none, gzip, deflate, brotli, zstd, s2), compress_min, default_expiry.
// Durations use time.ParseDuration ("250ms") or plain seconds ("5").
// Unknown parameters are errors, so a typo never goes unnoticed.
func ParseURL(rawURL string) (Config, error) {
	var c Config
	fail := func(format string, args ...any) (Config, error) {
		return Config{}, &ConfigError{Field: "URL", Msg: fmt.Sprintf(format, args...)}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fail("%v", redactURLErr(err))
	}
	sentinel := false
	switch u.Scheme {
	case "redis":
	case "rediss":
		c.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	case "redis+sentinel", "redis-sentinel":
		sentinel = true
	case "rediss+sentinel", "rediss-sentinel":
		sentinel = true
		c.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	default:
		return fail("unsupported scheme %q: use redis://, rediss:// or redis+sentinel://", u.Scheme)
	}
	if u.Opaque != "" {
		return fail("expected scheme://host, got %q", u.Scheme+":"+u.Opaque)
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
		if _, hasPass := u.User.Password(); !hasPass {
			// redis://secret@host is the historical form: a password alone.
			c.Username, c.Password = "", c.Username
		}
	}
	defPort := "6379"
	if sentinel {
		defPort = "26379"
	}
	for _, h := range strings.Split(u.Host, ",") {
		if h == "" {
			continue
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			host, port = strings.Trim(h, "[]"), defPort
		}
		if host == "" {
			host = "127.0.0.1"
		}
		c.Addrs = append(c.Addrs, net.JoinHostPort(host, port))
	}
	if len(c.Addrs) == 0 {
		return fail("no host in %q", redact(u))
	}
	// TLS.ServerName stays empty: each host (a cluster's nodes, the
	// sentinels, the master they name) is verified against its own name.
	// Pinning it to the first host made a rediss+sentinel:// Kit check the
	// master's certificate against a sentinel's name.
	segs := strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' })
	if sentinel {
		if len(segs) > 0 {
			c.Sentinel.MasterName = segs[0]
			segs = segs[1:]
		}
	}
	if len(segs) > 1 {
		return fail("unexpected path %q", u.Path)
	}
	if len(segs) == 1 {
		db, err := strconv.Atoi(segs[0])
		if err != nil || db < 0 {
			return fail("database %q is not a non-negative number", segs[0])
		}
		c.Database = db
	}
	for name, vals := range u.Query() {
		v := vals[len(vals)-1]
		var err error
		switch name {
		case "connect_timeout", "dial_timeout":
			c.ConnectTimeout, err = parseDur(v)
		case "command_timeout", "timeout", "read_timeout":
			c.CommandTimeout, err = parseDur(v)
		case "default_expiry":
			c.DefaultExpiry, err = parseDur(v)
		case "client_name":
			c.ClientName = v
		case "key_prefix":
			c.KeyPrefix = v
		case "db":
			c.Database, err = strconv.Atoi(v)
		case "pool_size":
			c.PoolSize, err = strconv.Atoi(v)
		case "connect_retry":
			c.ConnectRetry, err = strconv.Atoi(v)
		case "compress_min":
			c.CompressMin, err = strconv.Atoi(v)
		case "cluster":
			c.Cluster.Enabled, err = strconv.ParseBool(v)
		case "master", "master_name":
			c.Sentinel.MasterName = v
		case "sentinel_username":
			c.Sentinel.Username = v
		case "sentinel_password":
			c.Sentinel.Password = v
		case "compression":
			c.Compression, err = codec.ParseCompression(v)
		default:
			return fail("unknown query parameter %q", name)
		}
		if err != nil {
			return fail("query parameter %s=%q: %v", name, v, err)
		}
	}
	if sentinel && c.Sentinel.MasterName == "" {
		return fail("redis+sentinel:// needs the master name as the path (…/mymaster) or ?master=")
	}
	if sentinel {
		c.Sentinel.Addrs = c.Addrs
	}
	return c, nil
}

func parseDur(s string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}

// redact hides the password of u for error messages.
func redact(u *url.URL) string { return u.Redacted() }

func redactURLErr(err error) error {
	if ue, ok := err.(*url.Error); ok {
		if pu, perr := url.Parse(ue.URL); perr == nil {
			ue.URL = pu.Redacted()
		} else {
			ue.URL = "<invalid url>"
		}
		return ue
	}
	return err
}

// ConfigFromEnv builds a Config from environment variables:
//
//	REDIS_URL              see ParseURL; default redis://127.0.0.1:6379
//	REDIS_KEY_PREFIX       Config.KeyPrefix
//	REDIS_USERNAME, REDIS_PASSWORD   override the URL's credentials
//	REDIS_CLIENT_NAME      Config.ClientName
//	REDIS_SENTINEL_MASTER  Config.Sentinel.MasterName (REDIS_URL then lists the sentinels)
//	REDIS_CLUSTER          "true" requires a cluster
//	REDIS_TLS_CA_FILE      PEM CA bundle to verify the server (enables TLS)
//	REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE   client certificate (enables TLS)
//	REDIS_TLS_SERVER_NAME  server name to verify, when it differs from the host
//
// It returns the Config validated.
func ConfigFromEnv() (Config, error) {
	var c Config
	if raw := os.Getenv("REDIS_URL"); raw != "" {
		var err error
		if c, err = ParseURL(raw); err != nil {
			return Config{}, err
		}
	}
	if v := os.Getenv("REDIS_KEY_PREFIX"); v != "" {
		c.KeyPrefix = v
	}
	if v := os.Getenv("REDIS_USERNAME"); v != "" {
		c.Username = v
	}
	if v := os.Getenv("REDIS_PASSWORD"); v != "" {
		c.Password = v
	}
	if v := os.Getenv("REDIS_CLIENT_NAME"); v != "" {
		c.ClientName = v
	}
	if v := os.Getenv("REDIS_SENTINEL_MASTER"); v != "" {
		c.Sentinel.MasterName = v
		if len(c.Sentinel.Addrs) == 0 {
			c.Sentinel.Addrs = c.Addrs
		}
	}
	if v := os.Getenv("REDIS_CLUSTER"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, &ConfigError{Field: "REDIS_CLUSTER", Msg: fmt.Sprintf("%q is not a boolean", v)}
		}
		c.Cluster.Enabled = on
	}
	caFile, certFile, keyFile := os.Getenv("REDIS_TLS_CA_FILE"), os.Getenv("REDIS_TLS_CERT_FILE"), os.Getenv("REDIS_TLS_KEY_FILE")
	if caFile != "" || certFile != "" || keyFile != "" {
		if c.TLS == nil {
			c.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if caFile != "" {
			pem, err := os.ReadFile(caFile)
			if err != nil {
				return Config{}, &ConfigError{Field: "REDIS_TLS_CA_FILE", Msg: err.Error()}
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return Config{}, &ConfigError{Field: "REDIS_TLS_CA_FILE", Msg: "no PEM certificates in " + caFile}
			}
			c.TLS.RootCAs = pool
		}
		if (certFile == "") != (keyFile == "") {
			return Config{}, &ConfigError{Field: "REDIS_TLS_CERT_FILE", Msg: "REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together"}
		}
		if certFile != "" {
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return Config{}, &ConfigError{Field: "REDIS_TLS_CERT_FILE", Msg: err.Error()}
			}
			c.TLS.Certificates = []tls.Certificate{cert}
		}
	}
	if v := os.Getenv("REDIS_TLS_SERVER_NAME"); v != "" && c.TLS != nil {
		c.TLS.ServerName = v
	}
	return c, c.Validate()
}
