package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
)

const doctorUsage = `
Usage: redkit doctor [flags]

Checks a Redis server (or cluster, or Sentinel group) for what redkit
needs, one line per check, and says what to change:

	connect      the server answers (credentials, TLS)
	version      Redis 7.0 or later (Valkey 7.2+)
	tracking     RESP3 client tracking, behind near caches and DoCache
	keyspace     notify-keyspace-events, when redkit needs them
	eviction     maxmemory-policy against locks, queues and sessions
	persistence  appendonly / save, for queues, streams and fences
	cluster      CLUSTER INFO state ok and all 16384 slots covered
	sentinel     every sentinel of a redis+sentinel:// URL answers

Statuses: ok, warn (works, with a risk to know about), fail (redkit will
not work as documented). --json prints a list of {check, status, detail,
advice}.

Exit status: 0 when no check failed (warnings allowed), 1 when one did,
2 usage error.
`

// Check statuses.
const (
	statusOK   = "ok"
	statusWarn = "warn"
	statusFail = "fail"
)

// check is one line of the doctor's report.
type check struct {
	Check  string `json:"check"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Advice string `json:"advice,omitempty"`
}

// What redkit needs of the server. Keep these in step with the code base:
//   - 7.0: lock scripts declare flags ("#!lua" shebang, lock/scripts.go);
//     cache tags use PEXPIRE NX/GT (cache/set.go, cache/tags.go); sharded
//     pub/sub (SPUBLISH) on a cluster.
//   - 6.2 would be enough for GETEX, XAUTOCLAIM and CLIENT TRACKING's
//     broadcast-free OPTIN mode, but not for the above.
//   - keyspaceEvents: the notify-keyspace-events classes redkit relies on;
//     none today (locks and queues wake waiters with their own pub/sub
//     messages and lists, not keyspace notifications).
var (
	minVersion     = [3]int{7, 0, 0}
	minVersionWhy  = "lock scripts declare flags, cache tags use PEXPIRE NX/GT, sharded pub/sub on a cluster"
	keyspaceEvents = ""
)

func runDoctor(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("doctor", doctorUsage)
	var c conn
	c.register(fs, 20*time.Second, "print a JSON list of {check, status, detail, advice}")
	if code := fs.parse(args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError(stderr, "unexpected argument %q", fs.Arg(0))
	}
	cfg, err := c.config()
	if err != nil {
		return fs.usageError(stderr, "%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()

	checks := diagnose(ctx, c, cfg)
	if c.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(checks)
	} else {
		fmt.Fprintf(stdout, "redkit doctor: %s\n", where(cfg))
		for _, ch := range checks {
			fmt.Fprintf(stdout, "%-4s  %-11s  %s\n", ch.Status, ch.Check, ch.Detail)
			if ch.Advice != "" {
				fmt.Fprintf(stdout, "%-4s  %-11s  → %s\n", "", "", ch.Advice)
			}
		}
	}
	for _, ch := range checks {
		if ch.Status == statusFail {
			return exitFail
		}
	}
	return exitOK
}

// diagnose runs every check; when the server cannot be reached it
// reports that (and the sentinels, if any) alone.
func diagnose(ctx context.Context, c conn, cfg redkit.Config) []check {
	var out []check
	k, err := c.open(ctx, cfg)
	if err != nil {
		out = append(out, check{Check: "connect", Status: statusFail, Detail: err.Error(),
			Advice: "check the URL (host, port, user, password, rediss:// for TLS) and that the server is running"})
		if cfg.Sentinel.MasterName != "" {
			out = append(out, checkSentinels(ctx, cfg))
		}
		return out
	}
	defer k.Close()
	nodes, err := masters(ctx, k, where(cfg))
	if err != nil {
		return append(out, check{Check: "connect", Status: statusFail, Detail: err.Error(),
			Advice: "check that every cluster node is reachable from here"})
	}
	out = append(out, check{Check: "connect", Status: statusOK,
		Detail: fmt.Sprintf("%s: %s, %d master(s)", k.Mode(), where(cfg), len(nodes))})
	out = append(out,
		perNode(ctx, nodes, checkVersion),
		checkTracking(ctx, k),
		perNode(ctx, nodes, checkKeyspace),
		perNode(ctx, nodes, checkEviction),
		perNode(ctx, nodes, checkPersistence),
		checkCluster(ctx, k, nodes),
	)
	if cfg.Sentinel.MasterName != "" {
		out = append(out, checkSentinels(ctx, k.Config()))
	} else {
		out = append(out, check{Check: "sentinel", Status: statusOK, Detail: "not a sentinel URL: nothing to check"})
	}
	return out
}

// node is one master to query.
type node struct {
	addr string
	c    rueidis.Client
}

// masters returns the masters to query: the Kit's client on one node or
// Sentinel, each master's on a cluster (replicas hold copies).
func masters(ctx context.Context, k *redkit.Kit, addr string) ([]node, error) {
	cl := k.Client()
	if k.Mode() != "cluster" {
		return []node{{addr: addr, c: cl}}, nil
	}
	var out []node
	for a, n := range cl.Nodes() {
		role, err := n.Do(ctx, n.B().Role().Build()).ToArray()
		if err != nil {
			return nil, fmt.Errorf("ROLE on %s: %w", a, err)
		}
		if len(role) > 0 {
			if r, _ := role[0].ToString(); strings.EqualFold(r, "master") {
				out = append(out, node{addr: a, c: n})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no master among the cluster's %d nodes", len(cl.Nodes()))
	}
	sortNodes(out)
	return out, nil
}

// perNode runs a check on every master and folds the results: the worst
// status; one detail when all agree, else one per node.
func perNode(ctx context.Context, nodes []node, f func(context.Context, node) check) check {
	var all []check
	for _, n := range nodes {
		all = append(all, f(ctx, n))
	}
	out := all[0]
	same := true
	for _, ch := range all[1:] {
		if rank(ch.Status) > rank(out.Status) {
			out.Status, out.Advice = ch.Status, ch.Advice
		}
		same = same && ch.Detail == all[0].Detail
	}
	if !same {
		parts := make([]string, len(all))
		for i, ch := range all {
			parts[i] = nodes[i].addr + ": " + ch.Detail
		}
		out.Detail = strings.Join(parts, "; ")
	}
	return out
}

func rank(status string) int {
	switch status {
	case statusFail:
		return 2
	case statusWarn:
		return 1
	}
	return 0
}

// info returns one INFO section as a map.
func info(ctx context.Context, n node, section string) (map[string]string, error) {
	s, err := n.c.Do(ctx, n.c.B().Info().Section(section).Build()).ToString()
	if err != nil {
		return nil, err
	}
	return parseInfo(s), nil
}

// parseInfo reads "field:value" lines (INFO, CLUSTER INFO); a RESP3
// verbatim string may still carry its "txt:" format.
func parseInfo(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimPrefix(s, "txt:"), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && !strings.HasPrefix(k, "#") {
			m[k] = v
		}
	}
	return m
}

// configGet reads one CONFIG parameter.
func configGet(ctx context.Context, n node, param string) (string, error) {
	m, err := n.c.Do(ctx, n.c.B().ConfigGet().Parameter(param).Build()).AsStrMap()
	if err != nil {
		return "", err
	}
	v, ok := m[param]
	if !ok {
		return "", fmt.Errorf("CONFIG GET %s: no such parameter", param)
	}
	return v, nil
}

// configUnreadable is the check when CONFIG GET is refused (renamed or
// not allowed by ACL on managed services).
func configUnreadable(name, param string, err error) check {
	return check{Check: name, Status: statusWarn,
		Detail: fmt.Sprintf("cannot read %s: %v", param, err),
		Advice: fmt.Sprintf("check %s in your provider's settings, or allow CONFIG GET for this user", param)}
}

func parseVersion(s string) ([3]int, bool) {
	var v [3]int
	parts := strings.SplitN(s, ".", 3)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return v, false
		}
		v[i] = n
	}
	return v, len(parts) >= 2
}

func versionLess(a, b [3]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func checkVersion(ctx context.Context, n node) check {
	m, err := info(ctx, n, "server")
	if err != nil {
		return check{Check: "version", Status: statusWarn, Detail: "INFO server: " + err.Error(),
			Advice: "make sure the server is Redis 7.0+ or Valkey 7.2+"}
	}
	name, ver := "Redis", m["redis_version"]
	if v := m["valkey_version"]; v != "" {
		name, ver = "Valkey", v
	} else if m["server_name"] != "" && m["server_name"] != "redis" {
		name = m["server_name"]
	}
	v, ok := parseVersion(ver)
	need := fmt.Sprintf("%d.%d", minVersion[0], minVersion[1])
	switch {
	case !ok:
		return check{Check: "version", Status: statusWarn, Detail: fmt.Sprintf("%s version %q not understood", name, ver),
			Advice: "make sure the server is Redis " + need + " or later"}
	case versionLess(v, minVersion):
		return check{Check: "version", Status: statusFail,
			Detail: fmt.Sprintf("%s %s: %s or later needed (%s)", name, ver, need, minVersionWhy),
			Advice: "upgrade to Redis " + need + " or later (or Valkey 7.2+)"}
	}
	return check{Check: "version", Status: statusOK, Detail: fmt.Sprintf("%s %s (%s+ needed)", name, ver, need)}
}

// checkTracking reads a key that does not exist twice with DoCache: the
// second read is served from the client's tracking cache only when the
// connection speaks RESP3 and CLIENT TRACKING is on.
func checkTracking(ctx context.Context, k *redkit.Kit) check {
	key := k.Key("redkit-doctor", strconv.FormatInt(time.Now().UnixNano(), 36))
	cmd := func() rueidis.Cacheable { return k.B().Get().Key(key).Cache() }
	var hit bool
	for range 2 {
		msg, err := k.DoCache(ctx, cmd(), time.Minute)
		if err != nil && !rueidis.IsRedisNil(err) {
			return check{Check: "tracking", Status: statusWarn, Detail: "client-side caching: " + err.Error(),
				Advice: "near caches need RESP3 (HELLO 3) and CLIENT TRACKING; check the server version and ACLs"}
		}
		hit = msg.IsCacheHit()
	}
	if !hit {
		return check{Check: "tracking", Status: statusWarn,
			Detail: "a repeated DoCache read was not served from the tracking cache",
			Advice: "near caches (cache.Options.NearCache) need RESP3 (HELLO 3) and CLIENT TRACKING; use Redis 6+ and a proxy that passes them"}
	}
	return check{Check: "tracking", Status: statusOK, Detail: "RESP3 and CLIENT TRACKING work (near caches are invalidated by the server)"}
}

func checkKeyspace(ctx context.Context, n node) check {
	v, err := configGet(ctx, n, "notify-keyspace-events")
	if err != nil {
		if keyspaceEvents == "" {
			return check{Check: "keyspace", Status: statusOK, Detail: "redkit needs no keyspace notifications"}
		}
		return configUnreadable("keyspace", "notify-keyspace-events", err)
	}
	if keyspaceEvents == "" {
		return check{Check: "keyspace", Status: statusOK,
			Detail: fmt.Sprintf("redkit needs no keyspace notifications (notify-keyspace-events is %q)", v)}
	}
	var missing []string
	for _, f := range keyspaceEvents {
		if !strings.ContainsRune(v, f) && !(strings.ContainsRune(v, 'A') && strings.ContainsRune("g$lshzxetd", f)) {
			missing = append(missing, string(f))
		}
	}
	if len(missing) > 0 {
		return check{Check: "keyspace", Status: statusFail,
			Detail: fmt.Sprintf("notify-keyspace-events is %q; redkit needs %q", v, keyspaceEvents),
			Advice: fmt.Sprintf("CONFIG SET notify-keyspace-events %s (and put it in redis.conf)", v+strings.Join(missing, ""))}
	}
	return check{Check: "keyspace", Status: statusOK, Detail: fmt.Sprintf("notify-keyspace-events %q has what redkit needs (%q)", v, keyspaceEvents)}
}

func checkEviction(ctx context.Context, n node) check {
	policy, err := configGet(ctx, n, "maxmemory-policy")
	if err != nil {
		return configUnreadable("eviction", "maxmemory-policy", err)
	}
	limit, err := configGet(ctx, n, "maxmemory")
	if err != nil {
		return configUnreadable("eviction", "maxmemory", err)
	}
	limit = humanBytes(limit)
	const keep = "set maxmemory-policy noeviction on the Redis that holds locks, queues, streams and sessions " +
		"(keep evictable caches on a separate Redis with allkeys-lru if you want them evicted), and size maxmemory so it is not reached"
	switch {
	case policy == "noeviction":
		return check{Check: "eviction", Status: statusOK,
			Detail: "maxmemory-policy noeviction: nothing is evicted; at maxmemory writes fail with OOM (redkit.ErrOOM)"}
	case limit == "0":
		d := fmt.Sprintf("maxmemory 0 (no limit): nothing is evicted; maxmemory-policy %s would apply once a limit is set", policy)
		ch := check{Check: "eviction", Status: statusOK, Detail: d}
		if strings.HasPrefix(policy, "allkeys-") {
			ch.Advice = "before setting maxmemory, " + keep
		}
		return ch
	case strings.HasPrefix(policy, "allkeys-"):
		return check{Check: "eviction", Status: statusWarn,
			Detail: fmt.Sprintf("maxmemory-policy %s (maxmemory %s) evicts any key: lock fence counters, queued jobs, streams and sessions can vanish at the limit", policy, limit),
			Advice: keep + "; volatile-* keeps keys without a TTL (jobs, fence counters, streams) but still evicts held locks"}
	case strings.HasPrefix(policy, "volatile-"):
		return check{Check: "eviction", Status: statusWarn,
			Detail: fmt.Sprintf("maxmemory-policy %s (maxmemory %s) evicts keys with a TTL: held locks and semaphore permits (their keys carry the lock's TTL), sessions and cache entries; an evicted lock is free before its holder is done (a store that checks fences still refuses the stale holder's writes)", policy, limit),
			Advice: keep}
	}
	return check{Check: "eviction", Status: statusWarn, Detail: fmt.Sprintf("maxmemory-policy %s (maxmemory %s) is not one redkit knows", policy, limit), Advice: keep}
}

func checkPersistence(ctx context.Context, n node) check {
	aof, err := configGet(ctx, n, "appendonly")
	if err != nil {
		return configUnreadable("persistence", "appendonly", err)
	}
	save, err := configGet(ctx, n, "save")
	if err != nil {
		return configUnreadable("persistence", "save", err)
	}
	const advice = "for queues, streams and sessions: appendonly yes with appendfsync everysec (fine to leave off on a cache-only Redis)"
	if aof == "yes" {
		fsync, err := configGet(ctx, n, "appendfsync")
		if err != nil {
			return configUnreadable("persistence", "appendfsync", err)
		}
		if fsync == "no" {
			return check{Check: "persistence", Status: statusWarn,
				Detail: "appendonly yes but appendfsync no: the OS decides when writes reach disk (up to ~30s of jobs lost on a crash)",
				Advice: "appendfsync everysec"}
		}
		return check{Check: "persistence", Status: statusOK, Detail: "appendonly yes, appendfsync " + fsync + ": queued jobs, streams and fence counters survive a restart"}
	}
	if strings.TrimSpace(save) != "" {
		return check{Check: "persistence", Status: statusWarn,
			Detail: fmt.Sprintf("RDB snapshots only (save %q): a crash loses the writes since the last snapshot: queued and acked jobs, stream entries, sessions (fences stay increasing, reseeded from the clock)", save),
			Advice: advice}
	}
	return check{Check: "persistence", Status: statusWarn,
		Detail: "no AOF and no RDB snapshots: a restart loses every queued job, stream, session and held lock (fences stay increasing, reseeded from the clock)",
		Advice: advice}
}

func checkCluster(ctx context.Context, k *redkit.Kit, nodes []node) check {
	if k.Mode() != "cluster" {
		return check{Check: "cluster", Status: statusOK, Detail: "not a cluster (" + k.Mode() + "): nothing to check"}
	}
	return perNode(ctx, nodes, func(ctx context.Context, n node) check {
		s, err := n.c.Do(ctx, n.c.B().ClusterInfo().Build()).ToString()
		if err != nil {
			return check{Check: "cluster", Status: statusFail, Detail: "CLUSTER INFO: " + err.Error(), Advice: "check the node is up and reachable"}
		}
		m := parseInfo(s)
		state, assigned, fail := m["cluster_state"], m["cluster_slots_assigned"], m["cluster_slots_fail"]
		d := fmt.Sprintf("state %s, %s/16384 slots assigned, %s failing, %s masters known", state, assigned, fail, m["cluster_size"])
		if state != "ok" || assigned != "16384" || (fail != "" && fail != "0") {
			return check{Check: "cluster", Status: statusFail, Detail: d,
				Advice: "assign every slot to a reachable master (redis-cli --cluster check / fix) so calls on any key succeed"}
		}
		return check{Check: "cluster", Status: statusOK, Detail: d}
	})
}

// checkSentinels asks each sentinel for the master: every one should
// answer and agree. The sentinels are queried directly (not through the
// Kit, which talks to the master they name).
func checkSentinels(ctx context.Context, cfg redkit.Config) check {
	addrs := cfg.Sentinel.Addrs
	if len(addrs) == 0 {
		addrs = cfg.Addrs
	}
	name := cfg.Sentinel.MasterName
	var ok, bad []string
	masters := map[string]bool{}
	for _, addr := range addrs {
		master, err := askSentinel(ctx, cfg, addr)
		if err != nil {
			bad = append(bad, addr+": "+err.Error())
			continue
		}
		ok = append(ok, addr)
		masters[master] = true
	}
	var seen []string
	for m := range masters {
		seen = append(seen, m)
	}
	switch {
	case len(ok) == 0:
		return check{Check: "sentinel", Status: statusFail,
			Detail: "no sentinel answered for " + strconv.Quote(name) + ": " + strings.Join(bad, "; "),
			Advice: "check the sentinel addresses and port (default 26379) and the master name in the URL path"}
	case len(seen) > 1:
		return check{Check: "sentinel", Status: statusWarn,
			Detail: fmt.Sprintf("sentinels disagree on the master of %q: %s (a failover in progress?)", name, strings.Join(seen, ", ")),
			Advice: "run doctor again; if it persists check the sentinels' quorum and network"}
	case len(bad) > 0:
		return check{Check: "sentinel", Status: statusWarn,
			Detail: fmt.Sprintf("%d of %d sentinels answered (master %s); unreachable: %s", len(ok), len(addrs), seen[0], strings.Join(bad, "; ")),
			Advice: "a failover needs a quorum of sentinels: bring the others back"}
	}
	return check{Check: "sentinel", Status: statusOK,
		Detail: fmt.Sprintf("%d/%d sentinels answered; master of %q is %s", len(ok), len(addrs), name, seen[0])}
}

// askSentinel returns the master address one sentinel names, after
// SENTINEL CKQUORUM.
func askSentinel(ctx context.Context, cfg redkit.Config, addr string) (string, error) {
	timeout := cfg.ConnectTimeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	cl, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       []string{addr},
		Username:          cfg.Sentinel.Username,
		Password:          cfg.Sentinel.Password,
		TLSConfig:         cfg.TLS,
		ForceSingleClient: true,
		DisableCache:      true,
		DisableRetry:      true,
		Dialer:            netDialer(timeout),
	})
	if err != nil {
		return "", err
	}
	defer cl.Close()
	arr, err := cl.Do(ctx, cl.B().Arbitrary("SENTINEL", "GET-MASTER-ADDR-BY-NAME").Args(cfg.Sentinel.MasterName).Build()).AsStrSlice()
	if err != nil {
		return "", err
	}
	if len(arr) != 2 {
		return "", fmt.Errorf("does not monitor %q", cfg.Sentinel.MasterName)
	}
	if err := cl.Do(ctx, cl.B().Arbitrary("SENTINEL", "CKQUORUM").Args(cfg.Sentinel.MasterName).Build()).Error(); err != nil {
		return "", err
	}
	return arr[0] + ":" + arr[1], nil
}

func netDialer(timeout time.Duration) net.Dialer { return net.Dialer{Timeout: timeout} }

func sortNodes(nodes []node) {
	slices.SortFunc(nodes, func(a, b node) int { return strings.Compare(a.addr, b.addr) })
}

// humanBytes writes a byte count from CONFIG GET maxmemory in MiB or GiB
// when it is a whole number of them.
func humanBytes(s string) string {
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil || n == 0:
		return s
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "gb"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "mb"
	}
	return s
}
