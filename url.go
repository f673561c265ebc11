package redkit

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
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
// Several hosts are cluster seeds (or sentinels). Each host is a name, an
// IPv4 address or an IPv6 address in brackets ([::1]:7000), with a port
// from 1 to 65535; a host without a port gets the default, 6379 (26379
// for sentinels): redis://10.0.0.1:7000,10.0.0.2 is 10.0.0.1:7000 and
// 10.0.0.2:6379. The database is the path (/3) or ?db=3; both must agree
// when both are given. Query parameters: connect_timeout,
// command_timeout (alias timeout), client_name, key_prefix, db, pool_size,
// connect_retry, cluster (true), master (the sentinel master name, instead
// of the path), sentinel_username, sentinel_password, compression
// (none, gzip, deflate, brotli, zstd, s2), compress_min, default_expiry.
// Durations use time.ParseDuration ("250ms") or plain seconds ("5").
// Unknown parameters are errors, so a typo never goes unnoticed.
func ParseURL(rawURL string) (Config, error) {
	var c Config
	// Error messages show the URL with its password (and any
	// sentinel_password) replaced by "xxxxx", never the URL as given.
	shown := redactRaw(rawURL)
	fail := func(format string, args ...any) (Config, error) {
		return Config{}, &ConfigError{Field: "URL", Msg: fmt.Sprintf(format, args...)}
	}
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return fail("expected scheme://host, got %q", shown)
	}
	sentinel := false
	switch scheme {
	case "redis":
	case "rediss":
		c.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	case "redis+sentinel", "redis-sentinel":
		sentinel = true
	case "rediss+sentinel", "rediss-sentinel":
		sentinel = true
		c.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	default:
		return fail("unsupported scheme %q: use redis://, rediss:// or redis+sentinel://", scheme)
	}
	userinfo, hostList, tail := splitAuthority(rest)
	if userinfo != "" {
		user, pass, hasPass := strings.Cut(userinfo, ":")
		var err error
		if c.Username, err = url.PathUnescape(user); err != nil {
			if hasPass {
				return fail("user name in %q is not valid percent-encoding", shown)
			}
			// redis://secret@host: the part before '@' is the password.
			return fail("password in %q is not valid percent-encoding", shown)
		}
		if hasPass {
			if c.Password, err = url.PathUnescape(pass); err != nil {
				return fail("password in %q is not valid percent-encoding", shown)
			}
		} else {
			// redis://secret@host is the historical form: a password alone.
			c.Username, c.Password = "", c.Username
		}
	}
	defPort := "6379"
	if sentinel {
		defPort = "26379"
	}
	var hostErrs []error
	for i, h := range strings.Split(hostList, ",") {
		addr, err := parseURLHost(h, defPort)
		if err != nil {
			if hostList == "" {
				return fail("no host in %q", shown)
			}
			hostErrs = append(hostErrs, &ConfigError{Field: "URL", Msg: fmt.Sprintf("host %d %q: %v", i, h, err)})
			continue
		}
		c.Addrs = append(c.Addrs, addr)
	}
	if len(hostErrs) > 0 {
		return Config{}, errors.Join(hostErrs...)
	}
	// The rest (path and query) is parsed by net/url behind a placeholder
	// host: net/url cannot parse a host list, nor IPv6 hosts in one.
	u, err := url.Parse("redis://h" + tail)
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		return fail("%q: %v", shown, err)
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
	pathDB := -1
	if len(segs) == 1 {
		db, err := strconv.Atoi(segs[0])
		if err != nil || db < 0 {
			return fail("database %q is not a non-negative number", segs[0])
		}
		c.Database, pathDB = db, db
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail("query of %q: %v", shown, err)
	}
	for name, vals := range query {
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
			if err == nil && c.Database < 0 {
				err = errors.New("must not be negative")
			}
			if err == nil && pathDB >= 0 && c.Database != pathDB {
				err = fmt.Errorf("disagrees with database %d in the path", pathDB)
			}
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
			v = "xxxxx" // never shown in an error
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

// splitAuthority splits what follows "scheme://" into the user info, the
// host list and the tail (path, query, fragment). The user info ends at
// the last '@' before any query, so a password holding an unescaped '/'
// or '@' is still taken as a password, never shown as a host.
func splitAuthority(rest string) (userinfo, hosts, tail string) {
	pre := rest
	if i := strings.IndexAny(pre, "?#"); i >= 0 {
		pre = pre[:i]
	}
	if at := strings.LastIndexByte(pre, '@'); at >= 0 {
		userinfo, rest = rest[:at], rest[at+1:]
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		return userinfo, rest[:i], rest[i:]
	}
	return userinfo, rest, ""
}

// parseURLHost checks one entry of a URL's host list, host[:port] or
// [ipv6][:port], and returns it as host:port, with defPort when it has no
// port and 127.0.0.1 when it has no host (redis://:6380).
func parseURLHost(h, defPort string) (string, error) {
	if h == "" {
		return "", errors.New("empty host")
	}
	var host, port string
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", errors.New("IPv6 address without closing ']'")
		}
		// A zone is percent-encoded in a URL: [fe80::1%25eth0].
		var err error
		if host, err = url.PathUnescape(h[1:end]); err != nil {
			return "", fmt.Errorf("IPv6 address: %v", err)
		}
		switch after := h[end+1:]; {
		case after == "":
			port = defPort
		case after[0] == ':':
			port = after[1:]
		default:
			return "", fmt.Errorf("unexpected %q after the IPv6 address", after)
		}
		if !isIPv6(host) {
			return "", fmt.Errorf("%q is not an IPv6 address", host)
		}
	} else {
		switch strings.Count(h, ":") {
		case 0:
			host, port = h, defPort
		case 1:
			host, port, _ = strings.Cut(h, ":")
		default:
			return "", errors.New("an IPv6 address must be in brackets: [::1]:6379")
		}
		if host == "" {
			host = "127.0.0.1"
		}
	}
	if err := checkHost(host); err != nil {
		return "", err
	}
	if err := checkPort(port); err != nil {
		return "", err
	}
	return net.JoinHostPort(host, port), nil
}

// checkAddr checks a host:port address as given in Config.Addrs.
func checkAddr(addr string) error {
	if addr == "" {
		return errors.New("empty")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if ae, ok := err.(*net.AddrError); ok {
			return errors.New(ae.Err + ": want host:port")
		}
		return err
	}
	if strings.Contains(host, ":") && !isIPv6(host) {
		return fmt.Errorf("%q is not an IPv6 address", host)
	}
	if err := checkHost(host); err != nil {
		return err
	}
	return checkPort(port)
}

func isIPv6(s string) bool {
	s, _, _ = strings.Cut(s, "%") // a zone, as in fe80::1%eth0
	ip := net.ParseIP(s)
	return ip != nil && strings.Contains(s, ":")
}

// checkHost accepts an IP address or a host name made of letters, digits,
// '-', '_' and '.' (underscores appear in container names).
func checkHost(host string) error {
	if host == "" {
		return errors.New("empty host")
	}
	if isIPv6(host) || net.ParseIP(host) != nil {
		return nil
	}
	if len(host) > 253 {
		return fmt.Errorf("host name %.20q... is longer than 253 bytes", host)
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if label == "" {
			return fmt.Errorf("host %q has an empty label", host)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("host %q: character %q is not allowed in a host name", host, c)
			}
		}
	}
	return nil
}

// checkPort accepts a decimal port from 1 to 65535.
func checkPort(port string) error {
	if port == "" {
		return errors.New("empty port")
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return fmt.Errorf("port %q is not a number", port)
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %s is out of range 1-65535", port)
	}
	return nil
}

func parseDur(s string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	return time.ParseDuration(s)
}

// redactRaw returns rawURL with its password replaced by "xxxxx" (the
// part before '@' when it has no ':', as in redis://secret@host, since
// that is the password), and the value of a sentinel_password parameter
// too. It works on any string, parseable or not.
func redactRaw(rawURL string) string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		scheme, rest = "", rawURL
	} else {
		scheme += "://"
	}
	userinfo, hosts, tail := splitAuthority(rest)
	var b strings.Builder
	b.WriteString(scheme)
	if userinfo != "" {
		if user, _, hasPass := strings.Cut(userinfo, ":"); hasPass {
			b.WriteString(user + ":xxxxx@")
		} else {
			b.WriteString("xxxxx@")
		}
	}
	b.WriteString(hosts)
	path, query, hasQuery := strings.Cut(tail, "?")
	b.WriteString(path)
	if hasQuery {
		params := strings.Split(query, "&")
		for i, p := range params {
			if name, _, _ := strings.Cut(p, "="); name == "sentinel_password" {
				params[i] = name + "=xxxxx"
			}
		}
		b.WriteString("?" + strings.Join(params, "&"))
	}
	return b.String()
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
