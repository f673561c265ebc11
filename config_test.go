package redkit

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redkit-go/redkit/codec"
)

func TestValidateNamesTheField(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"negative command timeout", Config{CommandTimeout: -time.Second}, "CommandTimeout"},
		{"negative connect timeout", Config{ConnectTimeout: -1}, "ConnectTimeout"},
		{"negative keepalive", Config{KeepAlive: -1}, "KeepAlive"},
		{"negative default expiry", Config{DefaultExpiry: -time.Minute}, "DefaultExpiry"},
		{"negative database", Config{Database: -1}, "Database"},
		{"negative pool", Config{PoolSize: -1}, "PoolSize"},
		{"negative compress min", Config{CompressMin: -1}, "CompressMin"},
		{"unknown compression", Config{Compression: codec.Compression(99)}, "Compression"},
		{"backoff below one", Config{Retry: RetryPolicy{BackoffFactor: 0.5}}, "Retry.BackoffFactor"},
		{"negative retry delay", Config{Retry: RetryPolicy{Delay: -1}}, "Retry.Delay"},
		{"negative breaker threshold", Config{Breaker: BreakerPolicy{FailureThreshold: -1}}, "Breaker.FailureThreshold"},
		{"negative recovery", Config{Breaker: BreakerPolicy{RecoveryTimeout: -1}}, "Breaker.RecoveryTimeout"},
		{"negative health interval", Config{HealthCheck: HealthCheckConfig{Interval: -1}}, "HealthCheck.Interval"},
		{"sentinel without master", Config{Sentinel: SentinelConfig{Addrs: []string{"127.0.0.1:26379"}}}, "Sentinel.MasterName"},
		{"master without sentinels", Config{Sentinel: SentinelConfig{MasterName: "m"}}, "Sentinel.Addrs"},
		{"cluster and sentinel", Config{Addrs: []string{"a:1"}, Cluster: ClusterConfig{Enabled: true}, Sentinel: SentinelConfig{MasterName: "m"}}, "Cluster.Enabled"},
		{"database on cluster", Config{Cluster: ClusterConfig{Enabled: true}, Database: 2}, "Database"},
		{"database on cluster url", Config{URL: "redis://a:1/3?cluster=true"}, "Database"},
		{"url and addrs disagree", Config{URL: "redis://a:1", Addrs: []string{"b:2"}}, "Addrs"},
		{"bad url", Config{URL: "http://a:1"}, "URL"},
		{"empty addr", Config{Addrs: []string{""}}, "Addrs"},
		{"multiplex too big", Config{Engine: EngineConfig{PipelineMultiplex: 9}}, "Engine.PipelineMultiplex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want an error naming %s", tt.field)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Validate() = %v (%T), want a *ConfigError", err, err)
			}
			if !strings.Contains(err.Error(), tt.field+":") {
				t.Fatalf("Validate() = %q, want it to name field %s", err, tt.field)
			}
		})
	}
}

func TestValidateAcceptsGoodConfigs(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{URL: "redis://127.0.0.1:6379/2"},
		{URL: "redis://a:1", Addrs: []string{"a:1"}},
		{URL: "redis+sentinel://s1:26379,s2:26379/mymaster"},
		{Addrs: []string{"a:1", "b:2"}, Cluster: ClusterConfig{Enabled: true}},
		{Sentinel: SentinelConfig{MasterName: "m", Addrs: []string{"s:1"}}},
	} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", cfg, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	c := Config{}.normalize()
	if c.ConnectTimeout != 5*time.Second || c.CommandTimeout != 5*time.Second {
		t.Errorf("timeouts = %v, %v; want 5s, 5s", c.ConnectTimeout, c.CommandTimeout)
	}
	if c.ConnectRetry != 3 || c.KeepAlive != 60*time.Second || c.DefaultExpiry != 30*time.Minute {
		t.Errorf("ConnectRetry, KeepAlive, DefaultExpiry = %d, %v, %v", c.ConnectRetry, c.KeepAlive, c.DefaultExpiry)
	}
	if c.Codec != codec.JSON || c.Compression != codec.None {
		t.Errorf("codec = %v, compression = %v; want JSON, none", c.Codec.Name(), c.Compression)
	}
	if !slices.Equal(c.Addrs, []string{DefaultAddr}) {
		t.Errorf("Addrs = %v, want [%s]", c.Addrs, DefaultAddr)
	}
	if c.Retry.Retries != 3 || c.Breaker.FailureThreshold != 10 || c.MetricsPrefix != "redkit" {
		t.Errorf("retry/breaker/prefix defaults wrong: %+v %+v %q", c.Retry, c.Breaker, c.MetricsPrefix)
	}
	if n := (Config{ConnectRetry: -1, Retry: RetryPolicy{Retries: -1}}).normalize(); n.ConnectRetry != 0 || n.Retry.Retries != 0 {
		t.Errorf("negative retries should mean none, got %d, %d", n.ConnectRetry, n.Retry.Retries)
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		url   string
		check func(t *testing.T, c Config)
	}{
		{"redis://localhost", func(t *testing.T, c Config) {
			if !slices.Equal(c.Addrs, []string{"localhost:6379"}) || c.TLS != nil {
				t.Errorf("got %v tls=%v", c.Addrs, c.TLS)
			}
		}},
		{"redis://u:p%40ss@10.0.0.1:7000/3?client_name=api&key_prefix=app:&command_timeout=250ms&connect_timeout=2&pool_size=9&connect_retry=5", func(t *testing.T, c Config) {
			if c.Username != "u" || c.Password != "p@ss" || c.Database != 3 {
				t.Errorf("user/pass/db = %q %q %d", c.Username, c.Password, c.Database)
			}
			if c.ClientName != "api" || c.KeyPrefix != "app:" || c.CommandTimeout != 250*time.Millisecond || c.ConnectTimeout != 2*time.Second {
				t.Errorf("params: %q %q %v %v", c.ClientName, c.KeyPrefix, c.CommandTimeout, c.ConnectTimeout)
			}
			if c.PoolSize != 9 || c.ConnectRetry != 5 {
				t.Errorf("pool/retry = %d %d", c.PoolSize, c.ConnectRetry)
			}
		}},
		{"redis://secret@h:1", func(t *testing.T, c Config) {
			if c.Username != "" || c.Password != "secret" {
				t.Errorf("password-only form: user %q pass %q", c.Username, c.Password)
			}
		}},
		{"rediss://cache.example:6380", func(t *testing.T, c Config) {
			if c.TLS == nil || c.TLS.ServerName != "" || c.TLS.MinVersion != tls.VersionTLS12 {
				t.Errorf("TLS = %+v", c.TLS)
			}
		}},
		{"redis://a:1,b:2,c:3?cluster=true", func(t *testing.T, c Config) {
			if len(c.Addrs) != 3 || !c.Cluster.Enabled {
				t.Errorf("addrs %v cluster %v", c.Addrs, c.Cluster.Enabled)
			}
		}},
		{"redis+sentinel://:spass@s1,s2:26380/mymaster/2?sentinel_password=sp", func(t *testing.T, c Config) {
			if c.Sentinel.MasterName != "mymaster" || c.Database != 2 || c.Password != "spass" || c.Sentinel.Password != "sp" {
				t.Errorf("sentinel: %+v db=%d pass=%q", c.Sentinel, c.Database, c.Password)
			}
			if !slices.Equal(c.Sentinel.Addrs, []string{"s1:26379", "s2:26380"}) {
				t.Errorf("sentinel addrs = %v", c.Sentinel.Addrs)
			}
		}},
		{"redis+sentinel://s1?master=m", func(t *testing.T, c Config) {
			if c.Sentinel.MasterName != "m" {
				t.Errorf("master = %q", c.Sentinel.MasterName)
			}
		}},
		{"redis://h?compression=zstd&compress_min=64", func(t *testing.T, c Config) {
			if c.Compression != codec.Zstd || c.CompressMin != 64 {
				t.Errorf("compression %v min %d", c.Compression, c.CompressMin)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := ParseURL(tt.url)
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, u := range []string{
		"http://h", "redis://h?bogus=1", "redis://h/abc", "redis://h/1/2",
		"redis+sentinel://s1", "redis://h?command_timeout=soon", "redis://", "redis://h?compression=lz4",
	} {
		_, err := ParseURL(u)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "URL" {
			t.Errorf("ParseURL(%q) = %v, want a *ConfigError for URL", u, err)
		}
	}
	_, err := ParseURL("redis://user:hunter2@h?bogus=1")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v must not contain the password", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("REDIS_URL", "redis://h:7/1")
	t.Setenv("REDIS_KEY_PREFIX", "svc:")
	t.Setenv("REDIS_PASSWORD", "pw")
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Addrs, []string{"h:7"}) || c.Database != 1 || c.KeyPrefix != "svc:" || c.Password != "pw" {
		t.Errorf("ConfigFromEnv = %+v", c)
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(bad, []byte("not a pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REDIS_TLS_CA_FILE", bad)
	if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "REDIS_TLS_CA_FILE") {
		t.Errorf("bad CA file: err = %v, want one naming REDIS_TLS_CA_FILE", err)
	}
	t.Setenv("REDIS_TLS_CA_FILE", filepath.Join(dir, "missing.pem"))
	if _, err := ConfigFromEnv(); err == nil {
		t.Error("missing CA file: want an error")
	}
	t.Setenv("REDIS_TLS_CA_FILE", "")
	t.Setenv("REDIS_URL", "ftp://x")
	if _, err := ConfigFromEnv(); err == nil {
		t.Error("bad REDIS_URL: want an error")
	}
}

func TestKeys(t *testing.T) {
	k := &Kit{cfg: Config{KeyPrefix: "app:"}}
	if got := k.Key("user", "42"); got != "app:user:42" {
		t.Errorf("Key = %q", got)
	}
	if got := HashTag("a{b}c"); got != "{a%7Bb%7Dc}" {
		t.Errorf("HashTag = %q", got)
	}
	if !HasHashTag("x:{u1}:y") || HasHashTag("x:{}:y") || HasHashTag("plain") {
		t.Error("HasHashTag wrong")
	}
	for in, want := range map[string]string{
		"plain": "plain", "a*b": `a\*b`, "q?": `q\?`, "[x]": `\[x\]`, `back\slash`: `back\\slash`,
	} {
		if got := EscapePattern(in); got != want {
			t.Errorf("EscapePattern(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSlot(t *testing.T) {
	// Values from CLUSTER KEYSLOT on Redis 7.
	for key, want := range map[string]uint16{"foo": 12182, "bar": 5061, "{user1000}.following": 3443, "{user1000}.followers": 3443, "": 0} {
		if got := Slot(key); got != want {
			t.Errorf("Slot(%q) = %d, want %d", key, got, want)
		}
	}
}

func TestClassifyLocalErrors(t *testing.T) {
	// A value that cannot be encoded is the caller's problem, not Redis's.
	err := Wrap("cache: set", "k", errors.New("json: unsupported value: +Inf"))
	if errors.Is(err, ErrUnavailable) {
		t.Errorf("encode error classified as ErrUnavailable: %v", err)
	}
	if !errors.Is(Wrap("x", "k", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), ErrUnavailable) {
		t.Error("connection refused is not ErrUnavailable")
	}
	if !errors.Is(Wrap("x", "k", io.EOF), ErrUnavailable) {
		t.Error("EOF is not ErrUnavailable")
	}
}

func TestParseURLHosts(t *testing.T) {
	tests := []struct {
		url  string
		want []string
	}{
		{"redis://127.0.0.1:7000,127.0.0.2", []string{"127.0.0.1:7000", "127.0.0.2:6379"}},
		{"redis://127.0.0.2,127.0.0.1:7000", []string{"127.0.0.2:6379", "127.0.0.1:7000"}},
		{"redis://[::1]:7000,[::1]:7001", []string{"[::1]:7000", "[::1]:7001"}},
		{"redis://[::1]", []string{"[::1]:6379"}},
		{"redis://[fe80::1%25eth0]:7000", []string{"[fe80::1%eth0]:7000"}},
		{"redis://[::1]:7000,10.0.0.1,cache-1.example.com:65535/2", []string{"[::1]:7000", "10.0.0.1:6379", "cache-1.example.com:65535"}},
		{"redis://:7000", []string{"127.0.0.1:7000"}},
		{"redis://u:p@a:1,b", []string{"a:1", "b:6379"}},
		{"redis://u:pa/ss@a:1", []string{"a:1"}},
		{"redis+sentinel://s1,[::1]/m", []string{"s1:26379", "[::1]:26379"}},
		{"redis://redis_node:1", []string{"redis_node:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := ParseURL(tt.url)
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			if !slices.Equal(c.Addrs, tt.want) {
				t.Errorf("Addrs = %q, want %q", c.Addrs, tt.want)
			}
		})
	}
	if c, err := ParseURL("redis://u:pa/ss@a:1"); err != nil || c.Password != "pa/ss" {
		t.Errorf("password with '/': %q, %v; want %q", c.Password, err, "pa/ss")
	}
	if c, err := ParseURL("redis://h/3?db=3"); err != nil || c.Database != 3 {
		t.Errorf("path and query agreeing: db %d, %v; want 3, nil", c.Database, err)
	}
}

func TestParseURLRejectsBadHosts(t *testing.T) {
	tests := []struct {
		url  string
		want string // a part the error must name
	}{
		{"redis://127.0.0.1:abc,127.0.0.1:6379", `"127.0.0.1:abc"`},
		{"redis://127.0.0.1:6379,127.0.0.1:abc", `"abc"`},
		{"redis://h:99999", "99999"},
		{"redis://h:0", "port 0"},
		{"redis://h:65536", "65536"},
		{"redis://h:-1", `"-1"`},
		{"redis://h:+1", `"+1"`},
		{"redis://h:", "empty port"},
		{"redis://a:1,,b:2", "host 1"},
		{"redis://a:1,", "host 1"},
		{"redis://::1:7000", "brackets"},
		{"redis://[::1:7000", "']'"},
		{"redis://[::1]x", `"x"`},
		{"redis://[zz]:1", `"zz"`},
		{"redis://[10.0.0.1]:1", "IPv6"},
		{"redis://ho$t:1", `'$'`},
		{"redis://a..b:1", "empty label"},
		{"redis://h/3?db=4", "disagrees"},
		{"redis://h?db=-1", "negative"},
		{"redis:h", "scheme://"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := ParseURL(tt.url)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != "URL" {
				t.Fatalf("ParseURL(%q) = %v, want a *ConfigError for URL", tt.url, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseURL(%q) = %q, want it to name %s", tt.url, err, tt.want)
			}
		})
	}
	// Every bad host is reported, not only the first.
	_, err := ParseURL("redis://a:x,b:1,c:0")
	if err == nil || !strings.Contains(err.Error(), `"a:x"`) || !strings.Contains(err.Error(), `"c:0"`) {
		t.Errorf("two bad hosts: err = %v, want both named", err)
	}
}

func TestParseURLRedactsOnlyThePassword(t *testing.T) {
	tests := []struct {
		url, want, secret string
	}{
		{"redis://user:hunter2@h:abc", `"h:abc"`, "hunter2"},
		{"redis://user:hunter2@h?bogus=1", "", "hunter2"},
		{"redis://user:hunter2@h/x", "", "hunter2"},
		{"redis://hunter2@h?bogus=1", "", "hunter2"},
		{"redis://user:hun%zzter2@h", "redis://user:xxxxx@h", "hun"},
		{"redis://h/%zz", "redis://h/%zz", ""},
		{"redis+sentinel://s/m?sentinel_password=hunter2&db=x", "", "hunter2"},
		{"redis://u:p@w/1/2", "/1/2", "p@w"},
	}
	for _, tt := range tests {
		_, err := ParseURL(tt.url)
		if err == nil {
			t.Errorf("ParseURL(%q) = nil error, want one", tt.url)
			continue
		}
		if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
			t.Errorf("ParseURL(%q) = %q: shows the password", tt.url, err)
		}
		if strings.Contains(err.Error(), "<invalid url>") {
			t.Errorf("ParseURL(%q) = %q: hides the whole URL", tt.url, err)
		}
		if tt.want != "" && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseURL(%q) = %q, want it to contain %q", tt.url, err, tt.want)
		}
	}
	if got, want := redactRaw("redis://u:p@h,[::1]:7/2?sentinel_password=s&db=2"), "redis://u:xxxxx@h,[::1]:7/2?sentinel_password=xxxxx&db=2"; got != want {
		t.Errorf("redactRaw = %q, want %q", got, want)
	}
}

func TestValidateChecksEveryAddress(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
		part  string
	}{
		{"no port", Config{Addrs: []string{"no-port-here"}}, "Addrs", `"no-port-here"`},
		{"second bad", Config{Addrs: []string{"a:1", "b:x"}}, "Addrs", `address 1 "b:x"`},
		{"port too big", Config{Addrs: []string{"a:99999"}}, "Addrs", "99999"},
		{"port zero", Config{Addrs: []string{"a:0"}}, "Addrs", "port 0"},
		{"empty host", Config{Addrs: []string{":6379"}}, "Addrs", "empty host"},
		{"bad host", Config{Addrs: []string{"a b:1"}}, "Addrs", `"a b"`},
		{"bare ipv6", Config{Addrs: []string{"::1:6379"}}, "Addrs", "::1:6379"},
		{"cluster endpoint", Config{Cluster: ClusterConfig{Endpoints: []string{"a:1", "x"}}}, "Cluster.Endpoints", `address 1 "x"`},
		{"sentinel addr", Config{Sentinel: SentinelConfig{MasterName: "m", Addrs: []string{"s:70000"}}}, "Sentinel.Addrs", "70000"},
		{"url host", Config{URL: "redis://127.0.0.1:abc,127.0.0.1:6379"}, "URL", `"127.0.0.1:abc"`},
		{"url db disagrees", Config{URL: "redis://h/1?db=2"}, "URL", "db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Validate() = %v, want a *ConfigError", err)
			}
			if !strings.Contains(err.Error(), tt.field+":") || !strings.Contains(err.Error(), tt.part) {
				t.Errorf("Validate() = %q, want it to name field %s and %s", err, tt.field, tt.part)
			}
		})
	}
	for _, addrs := range [][]string{
		{"127.0.0.1:1", "[::1]:65535", "redis.example.com:6379", "redis_1:7000", "[fe80::1%eth0]:7000"},
	} {
		if err := (Config{Addrs: addrs}).Validate(); err != nil {
			t.Errorf("Validate(Addrs: %q) = %v, want nil", addrs, err)
		}
	}
}
