package redkit_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/redkit-go/redkit/internal/leaktest"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/redistest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func open(t *testing.T, cfg redkit.Config) *redkit.Kit {
	t.Helper()
	k, err := redkit.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

func setGet(t *testing.T, k *redkit.Kit, key, val string) {
	t.Helper()
	ctx := t.Context()
	if _, err := k.Do(ctx, k.B().Set().Key(key).Value(val).Build()); err != nil {
		t.Fatalf("SET %s: %v", key, err)
	}
	m, err := k.Do(ctx, k.B().Get().Key(key).Build())
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	if got, _ := m.ToString(); got != val {
		t.Fatalf("GET %s = %q, want %q", key, got, val)
	}
}

func TestOpenSingleNode(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	k := open(t, redkit.Config{URL: srv.URL(), KeyPrefix: "t:", ClientName: "kit-test"})
	if d, err := k.Ping(t.Context()); err != nil || d <= 0 {
		t.Fatalf("Ping = %v, %v", d, err)
	}
	setGet(t, k, k.Key("a"), "1")
	if got, _ := srv.Do("GET", "t:a"); got != "1" {
		t.Errorf("server sees t:a = %q, want 1 (prefix applied)", got)
	}
	if s := k.Stats(); s.Ops < 3 || s.Mode != "standalone" || !s.Connected || s.Breaker != redkit.BreakerClosed {
		t.Errorf("Stats = %+v", s)
	}
	if list, _ := srv.Do("CLIENT", "LIST"); !strings.Contains(list, "name=kit-test") {
		t.Errorf("CLIENT LIST lacks name=kit-test: %s", list)
	}
}

func TestOpenCluster(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3, 1)
	k := open(t, redkit.Config{Addrs: cl.Addrs()[:1]})
	if k.Mode() != "cluster" {
		t.Fatalf("Mode = %q, want cluster (auto-detected)", k.Mode())
	}
	for i := range 30 {
		setGet(t, k, "key"+strconv.Itoa(i), strconv.Itoa(i))
	}
	for _, m := range cl.Masters() {
		if n, _ := m.Do("DBSIZE"); n == "0" {
			t.Errorf("master %s holds no keys: writes not spread over the cluster", m.Addr())
		}
	}
	// The direct path (a lone caller, a ctx that cannot be cancelled)
	// routes by slot too, for single commands and for batches over
	// several nodes.
	bg := context.Background()
	var batch []rueidis.Completed
	for i := range 30 {
		key := "key" + strconv.Itoa(i)
		m, err := k.Do(bg, k.B().Get().Key(key).Build())
		if got, _ := m.ToString(); err != nil || got != strconv.Itoa(i) {
			t.Fatalf("direct GET %s = %q, %v", key, got, err)
		}
		batch = append(batch, k.B().Incr().Key("n"+key).Build())
	}
	res, err := k.DoMulti(bg, batch...)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if n, err := r.AsInt64(); err != nil || n != 1 {
			t.Fatalf("direct batch over the cluster, INCR #%d = %d, %v", i, n, err)
		}
	}
	if k.Stats().Direct < 31 {
		t.Errorf("Stats.Direct = %d after 31 lone calls with context.Background()", k.Stats().Direct)
	}
	// Cross-slot commands are classified.
	_, err = k.Do(t.Context(), k.B().Mget().Key("{a}x", "{a}y").Build())
	if err != nil {
		t.Fatalf("MGET one slot: %v", err)
	}
	err = k.CheckSameSlot("test: mset", "a", "b")
	if !errors.Is(err, redkit.ErrCrossSlot) || !strings.Contains(err.Error(), "hash tag") {
		t.Errorf("CheckSameSlot(a, b) = %v, want ErrCrossSlot explaining hash tags", err)
	}
	if err := k.CheckSameSlot("test: mset", "{u1}a", "{u1}b"); err != nil {
		t.Errorf("CheckSameSlot with one hash tag = %v", err)
	}
	// A real CROSSSLOT reply from a node is classified too.
	node := k.Client().Nodes()[cl.Masters()[0].Addr()]
	err = node.Do(t.Context(), node.B().Arbitrary("MSET").Args("a", "1", "b", "2").Build()).Error()
	if !errors.Is(redkit.Wrap("test: mset", "a", err), redkit.ErrCrossSlot) {
		t.Errorf("MSET over two slots = %v, want ErrCrossSlot", err)
	}
	if s := k.Stats(); s.Nodes != 6 {
		t.Errorf("Stats.Nodes = %d, want 6", s.Nodes)
	}
	// Cluster.Enabled against a single node is a clear error.
	single := redistest.Start(t, nil)
	_, err = redkit.Open(t.Context(), redkit.Config{Addrs: []string{single.Addr()}, Cluster: redkit.ClusterConfig{Enabled: true}, ConnectRetry: -1})
	if err == nil || !strings.Contains(err.Error(), "not a cluster") {
		t.Errorf("Open(Cluster.Enabled) on a single node = %v, want 'not a cluster'", err)
	}
}

func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	s := redistest.StartSentinel(t, 2)
	k := open(t, redkit.Config{URL: s.URL(), CommandTimeout: time.Second})
	if k.Mode() != "sentinel" {
		t.Fatalf("Mode = %q, want sentinel", k.Mode())
	}
	setGet(t, k, "before", "1")
	// Replication is asynchronous: make sure the replicas have the key
	// before the failover, or losing it would be Redis's doing, not ours.
	if _, err := k.Do(t.Context(), k.B().Wait().Numreplicas(2).Timeout(5000).Build()); err != nil {
		t.Fatalf("WAIT: %v", err)
	}
	old := s.Master()
	newMaster := s.Failover(t)
	if newMaster.Addr() == old.Addr() {
		t.Fatalf("failover kept master %s", old.Addr())
	}
	// Writes sent while the old master is being demoted may land on it and
	// be discarded (Redis replicates asynchronously); what must hold is
	// that the Kit moves to the new master without being reopened.
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		v := strconv.Itoa(i)
		// context.Background(): the direct path must follow the new
		// master as the pipeline does.
		_, err := k.Do(context.Background(), k.B().Set().Key("after").Value(v).Build())
		if err == nil {
			if got, _ := newMaster.Do("GET", "after"); got == v {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("30s after failover the Kit's writes do not reach the new master %s (last error %v)", newMaster.Addr(), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got, _ := newMaster.Do("GET", "before"); got != "1" {
		t.Errorf("data written before failover lost: %q", got)
	}
	if k.Stats().Direct == 0 {
		t.Error("the writes after the failover did not take the direct path")
	}
}

func TestTLSAndACL(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, &redistest.Options{TLS: true, ACLUser: "app", ACLPassword: "s3cret"})
	k := open(t, redkit.Config{Addrs: []string{srv.Addr()}, TLS: srv.TLSConfig(), Username: "app", Password: "s3cret"})
	setGet(t, k, "tls", "ok")
	// The direct path dials its own connections: TLS and ACL there too,
	// and across a restart (the peek before a write sees TLS's socket).
	for round := range 2 {
		m, err := k.Do(context.Background(), k.B().Get().Key("tls").Build())
		if got, _ := m.ToString(); err != nil || got != "ok" {
			t.Fatalf("round %d: direct GET over TLS = %q, %v", round, got, err)
		}
		if k.Stats().Direct == 0 {
			t.Fatalf("round %d: a lone call with context.Background() did not take the direct path", round)
		}
		if round == 0 {
			srv.Restart()
			if _, err := k.Do(context.Background(), k.B().Set().Key("tls").Value("ok").Build()); err != nil {
				t.Fatalf("first SET over TLS after a restart: %v", err)
			}
		}
	}

	_, err := redkit.Open(t.Context(), redkit.Config{Addrs: []string{srv.Addr()}, TLS: srv.TLSConfig(), Username: "app", Password: "wrong"})
	if err == nil {
		t.Fatal("Open with a wrong password succeeded")
	}
	var re *rueidis.RedisError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "authentication failed") {
		t.Errorf("wrong password error = %v; want an authentication error wrapping the server reply", err)
	}
}

func TestPasswordURL(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, &redistest.Options{Password: "pw"})
	k := open(t, redkit.Config{URL: srv.URL()})
	setGet(t, k, "p", "1")
	_, err := redkit.Open(t.Context(), redkit.Config{Addrs: []string{srv.Addr()}})
	if err == nil || !strings.Contains(err.Error(), "NOAUTH") && !strings.Contains(err.Error(), "authentication") {
		t.Errorf("Open without password = %v, want an auth error", err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestAbortOnConnectFail(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	_, err := redkit.Open(t.Context(), redkit.Config{Addrs: []string{addr}, AbortOnConnectFail: true, ConnectRetry: 1})
	if !errors.Is(err, redkit.ErrUnavailable) {
		t.Fatalf("Open(AbortOnConnectFail) = %v, want ErrUnavailable", err)
	}
}

func TestConnectsInTheBackground(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	addr := srv.Addr()
	srv.Kill()
	k := open(t, redkit.Config{Addrs: []string{addr}, ConnectRetry: -1})
	if k.Connected() {
		t.Fatal("Connected before the server runs")
	}
	_, err := k.Do(t.Context(), k.B().Ping().Build())
	if !errors.Is(err, redkit.ErrUnavailable) {
		t.Fatalf("Do before connecting = %v, want ErrUnavailable", err)
	}
	raw := k.Client() // taken before the connection exists, used after
	srv.Restart()
	deadline := time.Now().Add(20 * time.Second)
	for !k.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("Kit did not connect in the background within 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	setGet(t, k, "late", "1")
	if err := raw.Do(t.Context(), raw.B().Ping().Build()).Error(); err != nil {
		t.Errorf("Client() taken before connecting: %v", err)
	}
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	k := open(t, redkit.Config{
		URL:            srv.URL(),
		CommandTimeout: 300 * time.Millisecond,
		Retry:          redkit.RetryPolicy{Retries: -1},
		Breaker:        redkit.BreakerPolicy{FailureThreshold: 3, RecoveryTimeout: 300 * time.Millisecond, SuccessThreshold: 1},
	})
	setGet(t, k, "b", "1")
	srv.Kill()
	for i := 0; i < 10 && k.Stats().Breaker == redkit.BreakerClosed; i++ {
		_, err := k.Do(t.Context(), k.B().Get().Key("b").Build())
		if !errors.Is(err, redkit.ErrUnavailable) {
			t.Fatalf("GET on a killed server = %v, want ErrUnavailable", err)
		}
	}
	if st := k.Stats().Breaker; st != redkit.BreakerOpen {
		t.Fatalf("breaker = %s after repeated failures, want open", st)
	}
	start := time.Now()
	_, err := k.Do(t.Context(), k.B().Get().Key("b").Build())
	if !errors.Is(err, redkit.ErrUnavailable) || !strings.Contains(err.Error(), "circuit breaker") {
		t.Fatalf("GET with the breaker open = %v, want a fast ErrUnavailable from the breaker", err)
	}
	// Fast: no dial, no CommandTimeout (the bound is below it, 300ms,
	// and leaves room for a loaded machine's scheduling).
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("open breaker took %v to refuse; want it to fail fast", d)
	}
	srv.Restart()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := k.Do(t.Context(), k.B().Get().Key("b").Build())
		if err == nil || rueidis.IsRedisNil(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing 20s after restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := k.Stats().Breaker; st != redkit.BreakerClosed {
		t.Errorf("breaker = %s after recovery, want closed", st)
	}
	if k.Stats().BreakerOpens < 1 {
		t.Error("BreakerOpens not counted")
	}
}

func TestCommandTimeout(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	// Long enough that a loaded machine's scheduling delays fit under it
	// beside the busy script below.
	const timeout = time.Second
	k := open(t, redkit.Config{URL: srv.URL(), CommandTimeout: timeout, Retry: redkit.RetryPolicy{Retries: -1}})
	setGet(t, k, "x", "1")

	// A command slower than nothing but faster than CommandTimeout is not
	// cut short: a Lua busy loop of a fifth of it.
	busy := rueidis.NewLuaScript(`local t = redis.call('TIME'); local start = t[1]*1000000 + t[2]
while true do t = redis.call('TIME'); if t[1]*1000000 + t[2] - start > tonumber(ARGV[1]) then return 1 end end`)
	if _, err := k.Exec(t.Context(), busy, nil, []string{strconv.Itoa(int(timeout.Microseconds() / 5))}); err != nil {
		t.Fatalf("a command of CommandTimeout/5: %v", err)
	}

	srv.Pause(0)
	paused := time.Now()
	// Whatever the ctx (never cancelled, cancellable, or with a deadline
	// beyond CommandTimeout), a call fails once the server has been silent
	// for CommandTimeout, not before, and at most 1.5x CommandTimeout
	// after it started (plus scheduling slack).
	cctx, ccancel := context.WithCancel(context.Background())
	defer ccancel()
	dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
	defer dcancel()
	for name, ctx := range map[string]context.Context{"background": context.Background(), "cancellable": cctx, "long deadline": dctx} {
		start := time.Now()
		_, err := k.Do(ctx, k.B().Set().Key("x").Value("2").Build())
		elapsed := time.Since(start)
		if !errors.Is(err, redkit.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: SET on a paused server = %v, want ErrUnavailable wrapping DeadlineExceeded", name, err)
		}
		if silent := time.Since(paused); silent < timeout {
			t.Errorf("%s: failed %v after the server paused, before CommandTimeout (%v)", name, silent, timeout)
		}
		if elapsed > 5*timeout {
			t.Errorf("%s: timed out after %v, want at most about 1.5x CommandTimeout (%v)", name, elapsed, timeout)
		}
	}
	srv.Resume()
	// The caller's own cancellation is reported as the caller's.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := k.Do(ctx, k.B().Get().Key("x").Build())
	if !errors.Is(err, context.Canceled) || errors.Is(err, redkit.ErrUnavailable) {
		t.Errorf("cancelled ctx: %v, want context.Canceled and not ErrUnavailable", err)
	}
	// And the Kit works again once the server answers.
	setGet(t, k, "x", "3")
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, &redistest.Options{Args: []string{"lua-time-limit 50"}})
	k := open(t, redkit.Config{URL: srv.URL()})
	ctx := t.Context()
	if _, err := k.Do(ctx, k.B().Set().Key("s").Value("v").Build()); err != nil {
		t.Fatal(err)
	}
	_, err := k.Do(ctx, k.B().Lpush().Key("s").Element("x").Build())
	err = redkit.Wrap("test: lpush", "s", err)
	if !errors.Is(err, redkit.ErrWrongType) {
		t.Errorf("LPUSH on a string = %v, want ErrWrongType", err)
	}
	var re *rueidis.RedisError
	if !errors.As(err, &re) {
		t.Errorf("%v does not unwrap to *rueidis.RedisError", err)
	}
	if want := `test: lpush "s": `; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q lacks op and key prefix %q", err, want)
	}
	_, err = k.Do(ctx, k.B().Evalsha().Sha1("0000000000000000000000000000000000000000").Numkeys(0).Build())
	if !errors.Is(redkit.Wrap("t", "", err), redkit.ErrNoScript) {
		t.Errorf("EVALSHA unknown = %v, want ErrNoScript", err)
	}
	// Redis sends the other replies only in states that are slow to stage
	// (loading a dataset, read-only replica, maxmemory); a script can send
	// the same error replies, and the classification is by reply.
	for word, want := range map[string]error{
		"LOADING Redis is loading the dataset in memory":          redkit.ErrLoading,
		"READONLY You can't write against a read only replica.":   redkit.ErrReadOnly,
		"OOM command not allowed when used memory > 'maxmemory'.": redkit.ErrOOM,
		"BUSY Redis is busy running a script.":                    redkit.ErrBusy,
		"CLUSTERDOWN The cluster is down":                         redkit.ErrUnavailable,
	} {
		_, err := k.Do(ctx, k.B().Eval().Script("return redis.error_reply(ARGV[1])").Numkeys(0).Arg(word).Build())
		if !errors.Is(redkit.Wrap("t", "", err), want) {
			t.Errorf("reply %q classified as %v, want %v", word, redkit.Classify(err), want)
		}
	}
	// A real OOM from a server at maxmemory with noeviction.
	oom := redistest.Start(t, &redistest.Options{Args: []string{"maxmemory 1mb", "maxmemory-policy noeviction"}})
	ko := open(t, redkit.Config{URL: oom.URL()})
	big := strings.Repeat("x", 64<<10)
	var lastErr error
	for i := 0; i < 100 && lastErr == nil; i++ {
		_, lastErr = ko.Do(ctx, ko.B().Set().Key("k"+strconv.Itoa(i)).Value(big).Build())
	}
	if !errors.Is(redkit.Wrap("t", "", lastErr), redkit.ErrOOM) {
		t.Errorf("writes past maxmemory = %v, want ErrOOM", lastErr)
	}
	// A real READONLY from a replica.
	replica := redistest.Start(t, &redistest.Options{Args: []string{"replicaof " + strings.Replace(srv.Addr(), ":", " ", 1)}})
	kr := open(t, redkit.Config{URL: replica.URL()})
	_, err = kr.Do(ctx, kr.B().Set().Key("r").Value("1").Build())
	if !errors.Is(redkit.Wrap("t", "r", err), redkit.ErrReadOnly) {
		t.Errorf("write to a replica = %v, want ErrReadOnly", err)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	k := open(t, redkit.Config{URL: srv.URL(), HealthCheck: redkit.HealthCheckConfig{Timeout: 300 * time.Millisecond}})
	r := k.Health(t.Context())
	if !r.Healthy || r.Latency <= 0 || r.Mode != "standalone" {
		t.Fatalf("Health = %+v", r)
	}
	srv.Kill()
	r = k.Health(t.Context())
	if r.Healthy || r.Error == "" || r.ConsecutiveFailures != 1 {
		t.Fatalf("Health on a killed server = %+v", r)
	}
	if r = k.Health(t.Context()); r.ConsecutiveFailures != 2 {
		t.Errorf("ConsecutiveFailures = %d, want 2", r.ConsecutiveFailures)
	}
	srv.Restart()
	deadline := time.Now().Add(20 * time.Second)
	for !k.Health(t.Context()).Healthy {
		if time.Now().After(deadline) {
			t.Fatal("not healthy 20s after restart")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestClosedKit(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	k, err := redkit.Open(t.Context(), redkit.Config{URL: srv.URL(), HealthCheck: redkit.HealthCheckConfig{Enabled: true, Interval: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if _, ok := k.LastHealth(); !ok {
		t.Error("periodic health check did not run")
	}
	k.Close()
	k.Close()
	if _, err := k.Do(t.Context(), k.B().Ping().Build()); !errors.Is(err, redkit.ErrClosed) {
		t.Errorf("Do after Close = %v, want ErrClosed", err)
	}
}

func TestInvalidConfigFailsOpen(t *testing.T) {
	_, err := redkit.Open(t.Context(), redkit.Config{CommandTimeout: -1})
	var ce *redkit.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Open(bad config) = %v, want *ConfigError", err)
	}
}

// A command built before the Kit connected carries no cluster slot; used
// after the Kit connected to a cluster it is refused with an error. It
// used to reach the engine's slot table and panic (index out of range).
func TestBuilderBeforeClusterConnect(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3, 0)
	p := redistest.NewProxy(t, cl.Addrs()[0])
	p.Blackhole(true)
	k := open(t, redkit.Config{Addrs: []string{p.Addr()}, ConnectRetry: -1,
		ConnectTimeout: 300 * time.Millisecond, CommandTimeout: 300 * time.Millisecond})
	if k.Connected() {
		t.Fatal("connected through a blackholed proxy")
	}
	early := k.B().Get().Key("user:42").Build()
	earlyBatch := k.B().Get().Key("user:43").Build()
	p.Blackhole(false)
	deadline := time.Now().Add(20 * time.Second)
	for k.Mode() != "cluster" {
		if time.Now().After(deadline) {
			t.Fatal("Kit did not connect to the cluster within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := k.Do(t.Context(), early); err == nil || !errors.Is(err, redkit.ErrUnavailable) {
		t.Fatalf("Do of a command built before connecting = %v, want ErrUnavailable asking to build it again", err)
	}
	if _, err := k.DoMulti(t.Context(), earlyBatch); err == nil {
		t.Fatal("DoMulti of a command built before connecting: no error")
	}
	setGet(t, k, "user:42", "ok") // commands built now carry their slot
}

// Health uses a ctx deadline as given: a probe may wait longer than
// HealthCheck.Timeout when its caller allows it (health.Checker's own
// Timeout), and HealthCheck.Timeout bounds a ctx without a deadline.
func TestHealthTimeoutFromContext(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	k := open(t, redkit.Config{URL: srv.URL(), CommandTimeout: 10 * time.Second,
		HealthCheck: redkit.HealthCheckConfig{Timeout: 100 * time.Millisecond}})
	srv.Pause(400 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if r := k.Health(ctx); !r.Healthy {
		t.Fatalf("Health with a 5s deadline across a 400ms pause = %+v, want healthy (capped at HealthCheck.Timeout?)", r)
	}
	srv.Pause(400 * time.Millisecond)
	if r := k.Health(context.Background()); r.Healthy {
		t.Fatalf("Health without a deadline across a 400ms pause: healthy, want a failure after HealthCheck.Timeout (100ms)")
	}
	time.Sleep(500 * time.Millisecond)
}

// A blocking command whose reply a partition ate returns once its wait
// plus CommandTimeout has passed, even with a ctx that has no deadline
// (a worker loop's), and the Kit recovers by itself when the network
// heals. It used to wait forever.
func TestBlockingCallBounded(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	p := redistest.NewProxy(t, srv.Addr())
	k := open(t, redkit.Config{Addrs: []string{p.Addr()}, CommandTimeout: 300 * time.Millisecond})
	bg := context.Background()
	if _, err := k.Do(bg, k.B().Blpop().Key("jobs").Timeout(0.05).Build()); !rueidis.IsRedisNil(err) {
		t.Fatalf("BLPOP on an empty list = %v, want a nil reply", err)
	}
	p.Blackhole(true)
	done := make(chan error, 1)
	go func() {
		_, err := k.Do(bg, k.B().Blpop().Key("jobs").Timeout(0.2).Build())
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, redkit.ErrUnavailable) {
			t.Fatalf("BLPOP across a partition = %v, want ErrUnavailable", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("BLPOP across a partition did not return: a blocking call is unbounded")
	}
	p.Blackhole(false)
	if _, err := srv.Do("RPUSH", "jobs", "j1"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		m, err := k.Do(bg, k.B().Blpop().Key("jobs").Timeout(1).Build())
		if err == nil {
			if a, _ := m.AsStrSlice(); len(a) != 2 || a[1] != "j1" {
				t.Fatalf("BLPOP after healing = %v", a)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("BLPOP still fails 20s after the network healed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A database the server does not have fails Open, even with
// AbortOnConnectFail false (retrying in the background would repeat the
// refusal forever), and says the server's reason.
func TestOpenFailsOnRefusedConfig(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	_, err := redkit.Open(t.Context(), redkit.Config{URL: srv.URL(), Database: 99})
	if err == nil || !strings.Contains(err.Error(), "DB index is out of range") {
		t.Fatalf("Open with database 99 = %v, want an error with the server's reason", err)
	}
}

// While the Kit connects in the background, calls and Health say why the
// last attempt failed, not only that it is not connected.
func TestNotConnectedSaysWhy(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	addr := srv.Addr()
	srv.Kill()
	k := open(t, redkit.Config{Addrs: []string{addr}, ConnectRetry: -1})
	_, err := k.Do(t.Context(), k.B().Ping().Build())
	if !errors.Is(err, redkit.ErrUnavailable) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Do before connecting = %v, want ErrUnavailable with the dial error", err)
	}
	if r := k.Health(t.Context()); !strings.Contains(r.Error, "refused") {
		t.Errorf("Health before connecting: %q, want the dial error", r.Error)
	}
}

// A value above the server's proto-max-bulk-len is refused on the route,
// for every kind of call, before it is sent: Redis would drop the
// connection and fail the small calls pipelined beside it.
func TestOversizedValueRefused(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	if _, err := srv.Do("CONFIG", "SET", "proto-max-bulk-len", "1048576"); err != nil {
		t.Fatal(err)
	}
	k := open(t, redkit.Config{URL: srv.URL()})
	ctx := t.Context()
	big := strings.Repeat("x", 2<<20)
	stop := make(chan struct{})
	var small sync.WaitGroup
	var smallErr atomic.Value
	small.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := k.Do(ctx, k.B().Incr().Key("n").Build()); err != nil {
				smallErr.Store(err)
				return
			}
		}
	})
	script := rueidis.NewLuaScript("return redis.call('SET', KEYS[1], ARGV[1])")
	for name, call := range map[string]func() error{
		"Do": func() error { _, err := k.Do(ctx, k.B().Set().Key("big").Value(big).Build()); return err },
		"DoMulti": func() error {
			_, err := k.DoMulti(ctx, k.B().Get().Key("n").Build(), k.B().Hset().Key("h").FieldValue().FieldValue("f", big).Build())
			return err
		},
		"Exec":   func() error { _, err := k.Exec(ctx, script, []string{"big"}, []string{big}); return err },
		"Client": func() error { c := k.Client(); return c.Do(ctx, c.B().Rpush().Key("l").Element(big).Build()).Error() },
	} {
		if err := call(); !errors.Is(err, redkit.ErrValueTooLarge) {
			t.Errorf("%s with a 2 MiB value, limit 1 MiB = %v, want ErrValueTooLarge", name, err)
		}
	}
	close(stop)
	small.Wait()
	if err := smallErr.Load(); err != nil {
		t.Fatalf("a small call beside the oversized ones failed: %v", err)
	}
	if n, _ := srv.Do("EXISTS", "big", "h", "l"); n != "0" {
		t.Errorf("EXISTS big h l = %s: an oversized value was written", n)
	}
}
