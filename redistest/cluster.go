package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clusterNodeTimeout is cluster-node-timeout: how long a node may be
// unreachable before it is flagged as failing (and its replica takes over).
const clusterNodeTimeout = 2 * time.Second

// clusterCreateTimeout bounds redis-cli --cluster create and the first
// convergence.
const clusterCreateTimeout = 60 * time.Second

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// Cluster is a Redis Cluster of redis-server processes started by
// StartCluster or LaunchCluster. Nodes are never added or removed, but their
// roles change with failovers, so Masters and Replicas ask the nodes.
//
// Its methods are safe for concurrent use. A method that fails reports to
// the testing.TB it is given, else to the test that started the cluster
// (with t.Fatal, so it must then be called from that test's goroutine); a
// method returning an error also returns it. For a cluster from
// LaunchCluster, with no test to fail, the lookups return nil.
type Cluster struct {
	t        testing.TB // the test from StartCluster, nil from LaunchCluster
	masters  int
	replicas int // per master
	nodes    []*Server
}

// StartCluster starts masters*(1+replicasPerMaster) cluster-enabled
// redis-servers, joins them with redis-cli --cluster create (slots spread
// evenly over the masters, replicasPerMaster replicas each) and returns
// once every node reports cluster_state:ok, all nodes agree on the slot map
// and every replica is in sync. Cluster nodes have no password, TLS or
// persistence; cluster-node-timeout is 2s and any replica may be promoted
// (cluster-replica-validity-factor 0). The nodes are killed and their
// directories removed when t completes.
//
// masters must be at least 3, as redis-cli requires. StartCluster needs
// redis-cli as well as redis-server (REDISTEST_CLI_BIN overrides the one in
// PATH); a missing binary fails the test with the install command. On a
// small machine StartCluster(t, 3, 1) takes about 3-5 seconds, most of
// it in redis-cli and in gossip.
func StartCluster(t testing.TB, masters, replicasPerMaster int) *Cluster {
	t.Helper()
	c, err := launchCluster(masters, replicasPerMaster)
	if err != nil {
		t.Fatal(err)
	}
	c.t = t
	adopt(t, c.Close, c.nodes...)
	return c
}

// LaunchCluster is StartCluster for code without a testing.TB: it returns
// the error instead of failing a test, and the caller calls Close.
func LaunchCluster(masters, replicasPerMaster int) (*Cluster, error) {
	return launchCluster(masters, replicasPerMaster)
}

// launchCluster is the core of StartCluster and LaunchCluster. On error
// every node it started is closed.
func launchCluster(masters, replicasPerMaster int) (_ *Cluster, err error) {
	if masters < 3 {
		return nil, fmt.Errorf("redistest: StartCluster: a cluster needs at least 3 masters, got %d", masters)
	}
	if replicasPerMaster < 0 {
		return nil, fmt.Errorf("redistest: StartCluster: replicasPerMaster must not be negative, got %d", replicasPerMaster)
	}
	cli, err := cliBin()
	if err != nil {
		return nil, err
	}
	c := &Cluster{masters: masters, replicas: replicasPerMaster}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	for range masters * (1 + replicasPerMaster) {
		n, err := startServer(serverConfig{kind: kindClusterNode})
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, n)
	}

	args := []string{"--cluster", "create"}
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicasPerMaster), "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), clusterCreateTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redistest: %s %s: %w\n%s", cli, strings.Join(args, " "), err, out)
	}
	if err := waitFor(clusterCreateTimeout, "cluster creation", c.converged, c.nodes...); err != nil {
		return nil, err
	}
	return c, nil
}

// Close kills every node and removes their directories. For a cluster from
// StartCluster, the test's cleanup calls it. It returns the errors from
// removing the directories.
func (c *Cluster) Close() error {
	var errs []error
	for _, n := range c.nodes {
		errs = append(errs, n.Close())
	}
	return errors.Join(errs...)
}

// report hands err to t, else to the test that started the cluster, with
// t.Fatal; without either it does nothing.
func (c *Cluster) report(t testing.TB, err error) {
	if t == nil {
		t = c.t
	}
	if t != nil {
		t.Helper()
		t.Fatal(err)
	}
}

// Addrs returns the addresses of all nodes, masters and replicas, in start
// order: seeds for a cluster client.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// Nodes returns every node, in start order, whatever its role or state.
func (c *Cluster) Nodes() []*Server { return slices.Clone(c.nodes) }

// Masters returns the current masters that own slots, in slot order, as
// seen by the first running node (CLUSTER NODES). Nodes flagged as failing
// are left out.
func (c *Cluster) Masters() []*Server {
	if c.t != nil {
		c.t.Helper()
	}
	masters, _, err := c.roles()
	if err != nil {
		c.report(nil, err)
	}
	return masters
}

// Replicas returns the current replicas, grouped by master in slot order,
// as seen by the first running node (CLUSTER NODES). Nodes flagged as
// failing are left out.
func (c *Cluster) Replicas() []*Server {
	if c.t != nil {
		c.t.Helper()
	}
	_, replicas, err := c.roles()
	if err != nil {
		c.report(nil, err)
	}
	return replicas
}

// MasterFor returns the master that owns key's hash slot (CLUSTER KEYSLOT,
// then CLUSTER SLOTS, asked of the first running node).
func (c *Cluster) MasterFor(key string) *Server {
	if c.t != nil {
		c.t.Helper()
	}
	m, err := c.masterFor(key)
	if err != nil {
		c.report(nil, err)
	}
	return m
}

// masterFor is MasterFor without the test.
func (c *Cluster) masterFor(key string) (*Server, error) {
	n, err := c.anyLive()
	if err != nil {
		return nil, err
	}
	v, err := n.do(probeTimeout, "CLUSTER", "KEYSLOT", key)
	if err != nil {
		return nil, fmt.Errorf("redistest: CLUSTER KEYSLOT %q on %s: %w", key, n.Addr(), err)
	}
	slot, _ := v.(int64)
	v, err = n.do(probeTimeout, "CLUSTER", "SLOTS")
	if err != nil {
		return nil, fmt.Errorf("redistest: CLUSTER SLOTS on %s: %w", n.Addr(), err)
	}
	for _, r := range parseSlots(v) {
		if int(slot) >= r.start && int(slot) <= r.end {
			if m := serverByPort(c.nodes, r.master); m != nil {
				return m, nil
			}
			return nil, fmt.Errorf("redistest: slot %d of %q belongs to 127.0.0.1:%d, not a node of this cluster", slot, key, r.master)
		}
	}
	return nil, fmt.Errorf("redistest: slot %d of %q is not served by any master according to %s", slot, key, n.Addr())
}

// Failover promotes a replica of master with CLUSTER FAILOVER (FORCE when
// master is stopped or paused) and waits until that replica is a master,
// every running node reports cluster_state:ok and all agree on the slot map
// (the old master, if running, has become a replica in sync). It returns the
// new master. It fails t (nil t: the test that started the cluster; for
// LaunchCluster, it returns nil) if master is not a master of this cluster,
// has no running replica, or the failover does not complete within 30s.
func (c *Cluster) Failover(t testing.TB, master *Server) *Server {
	if t != nil {
		t.Helper()
	}
	m, err := c.failover(master)
	if err != nil {
		c.report(t, err)
	}
	return m
}

// failover is Failover without the test.
func (c *Cluster) failover(master *Server) (*Server, error) {
	if master == nil || !slices.Contains(c.nodes, master) {
		return nil, fmt.Errorf("redistest: Cluster.Failover: %v is not a node of this cluster", master)
	}
	view, err := c.nodesView()
	if err != nil {
		return nil, err
	}
	var id string
	for _, n := range view {
		if n.port == master.port {
			if !n.flags["master"] {
				return nil, fmt.Errorf("redistest: Cluster.Failover: %s is not a master (flags %s)", master.Addr(), n.rawFlags)
			}
			id = n.id
		}
	}
	var replica *Server
	for _, n := range view {
		if n.master == id && n.flags["slave"] && !n.failing() {
			if s := serverByPort(c.nodes, n.port); s != nil && s.alive() {
				replica = s
				break
			}
		}
	}
	if id == "" || replica == nil {
		return nil, fmt.Errorf("redistest: Cluster.Failover: master %s has no running replica", master.Addr())
	}

	cmd := []string{"CLUSTER", "FAILOVER"}
	if !master.alive() {
		cmd = append(cmd, "FORCE")
	}
	isMaster := func() bool {
		v, err := replica.do(probeTimeout, "ROLE")
		return err == nil && asString(firstOf(v)) == "master"
	}
	deadline := time.Now().Add(waitTimeout)
	for !isMaster() {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("redistest: Cluster.Failover: %s did not become a master within %v; its log:%s",
				replica.Addr(), waitTimeout, replica.logTail())
		}
		_, err := replica.do(probeTimeout, cmd...)
		if err != nil && strings.Contains(err.Error(), "FORCE") && len(cmd) == 2 {
			cmd = append(cmd, "FORCE") // the master went away meanwhile
		}
		// A manual failover that cannot complete is aborted by the
		// replica after 5s; then try again.
		until := time.Now().Add(6 * time.Second)
		if until.After(deadline) {
			until = deadline
		}
		for !isMaster() && time.Now().Before(until) {
			time.Sleep(pollInterval)
		}
	}
	if err := waitFor(waitTimeout, "cluster failover of "+master.Addr(), c.converged); err != nil {
		return nil, err
	}
	return replica, nil
}

// WaitReady waits until every running, unpaused node reports
// cluster_state:ok, they all agree on the slot map, the map has the
// cluster's number of masters and lists every running replica, and every
// replica of a running master is in sync. StartCluster and Failover end with
// it; call it after restarting a node or resuming a paused one. After 30s
// it returns an error saying what is still missing, and fails t (nil t: the
// test that started the cluster, if any) with it.
func (c *Cluster) WaitReady(t testing.TB) error {
	if t != nil {
		t.Helper()
	}
	err := waitFor(waitTimeout, "cluster convergence", c.converged)
	if err != nil {
		c.report(t, err)
	}
	return err
}

// converged reports whether all running nodes say cluster_state:ok, agree
// on the slot map, the map names the expected number of masters and every
// running replica, and every replica of a running master is in sync.
func (c *Cluster) converged() (bool, string) {
	live := liveServers(c.nodes)
	if len(live) == 0 {
		return false, "no node is running"
	}
	var (
		ref      string
		refNode  *Server
		refSlots []slotRange
		replicas int
	)
	for _, n := range live {
		v, err := n.do(probeTimeout, "CLUSTER", "INFO")
		if err != nil {
			return false, fmt.Sprintf("%s: CLUSTER INFO: %v", n.Addr(), err)
		}
		if st := infoField(asString(v), "cluster_state"); st != "ok" {
			return false, fmt.Sprintf("%s reports cluster_state:%s", n.Addr(), st)
		}
		v, err = n.do(probeTimeout, "CLUSTER", "SLOTS")
		if err != nil {
			return false, fmt.Sprintf("%s: CLUSTER SLOTS: %v", n.Addr(), err)
		}
		slots := parseSlots(v)
		m := formatSlots(slots)
		if refNode == nil {
			ref, refNode, refSlots = m, n, slots
		} else if m != ref {
			return false, fmt.Sprintf("nodes disagree on the slot map: %s sees %s; %s sees %s", refNode.Addr(), ref, n.Addr(), m)
		}
		v, err = n.do(probeTimeout, "ROLE")
		if err != nil {
			return false, fmt.Sprintf("%s: ROLE: %v", n.Addr(), err)
		}
		role := asArray(v)
		if asString(firstOf(v)) != "slave" || len(role) < 4 {
			continue
		}
		replicas++
		mport, _ := strconv.Atoi(asString(role[2]))
		if m := serverByPort(c.nodes, mport); m != nil && m.alive() && asString(role[3]) != "connected" {
			return false, fmt.Sprintf("replica %s: link to master 127.0.0.1:%d is %s", n.Addr(), mport, asString(role[3]))
		}
	}
	covered, listed := 0, 0
	masters := map[int]bool{}
	for _, r := range refSlots {
		covered += r.end - r.start + 1
		if !masters[r.master] {
			masters[r.master] = true
			listed += len(r.replicas)
		}
	}
	switch {
	case covered != clusterSlots:
		return false, fmt.Sprintf("%d of %d slots covered: %s", covered, clusterSlots, ref)
	case len(masters) != c.masters:
		return false, fmt.Sprintf("%d masters own slots, want %d: %s", len(masters), c.masters, ref)
	case listed != replicas:
		return false, fmt.Sprintf("slot map lists %d replicas, %d running nodes are replicas: %s", listed, replicas, ref)
	}
	return true, ""
}

// anyLive returns the first running, unpaused node.
func (c *Cluster) anyLive() (*Server, error) {
	live := liveServers(c.nodes)
	if len(live) == 0 {
		return nil, errors.New("redistest: no node of the cluster is running")
	}
	return live[0], nil
}

// nodesView returns CLUSTER NODES as seen by the first running node that
// answers.
func (c *Cluster) nodesView() ([]clusterNode, error) {
	last := errNotRunning
	for _, n := range liveServers(c.nodes) {
		v, err := n.do(probeTimeout, "CLUSTER", "NODES")
		if err == nil {
			return parseClusterNodes(asString(v)), nil
		}
		last = err
	}
	return nil, fmt.Errorf("redistest: no running cluster node answered CLUSTER NODES (last error: %w)", last)
}

// roles splits the nodes into masters (owning slots, in slot order) and
// replicas (grouped by master), as the first running node sees them.
func (c *Cluster) roles() (masters, replicas []*Server, err error) {
	view, err := c.nodesView()
	if err != nil {
		return nil, nil, err
	}
	slices.SortFunc(view, func(a, b clusterNode) int {
		return a.port - b.port
	})
	type master struct {
		id    string
		first int
		s     *Server
	}
	var ms []master
	for _, n := range view {
		if n.flags["master"] && !n.failing() && n.firstSlot >= 0 {
			if s := serverByPort(c.nodes, n.port); s != nil {
				ms = append(ms, master{n.id, n.firstSlot, s})
			}
		}
	}
	slices.SortFunc(ms, func(a, b master) int { return a.first - b.first })
	for _, m := range ms {
		masters = append(masters, m.s)
		for _, n := range view {
			if n.master == m.id && n.flags["slave"] && !n.failing() {
				if s := serverByPort(c.nodes, n.port); s != nil {
					replicas = append(replicas, s)
				}
			}
		}
	}
	return masters, replicas, nil
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id        string
	port      int
	rawFlags  string
	flags     map[string]bool
	master    string // master's id for a replica, "-" otherwise
	firstSlot int    // lowest slot owned, -1 when none
}

func (n clusterNode) failing() bool {
	return n.flags["fail"] || n.flags["fail?"] || n.flags["noaddr"] || n.flags["handshake"]
}

// parseClusterNodes parses CLUSTER NODES output:
// <id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...
func parseClusterNodes(text string) []clusterNode {
	var nodes []clusterNode
	for line := range strings.SplitSeq(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			continue
		}
		port, _ := strconv.Atoi(p)
		n := clusterNode{id: f[0], port: port, rawFlags: f[2], flags: map[string]bool{}, master: f[3], firstSlot: -1}
		for fl := range strings.SplitSeq(f[2], ",") {
			n.flags[fl] = true
		}
		for _, s := range f[8:] {
			if strings.HasPrefix(s, "[") { // a slot being migrated
				continue
			}
			lo, _, _ := strings.Cut(s, "-")
			if v, err := strconv.Atoi(lo); err == nil && (n.firstSlot < 0 || v < n.firstSlot) {
				n.firstSlot = v
			}
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// slotRange is one entry of CLUSTER SLOTS, by port.
type slotRange struct {
	start, end int
	master     int
	replicas   []int // sorted
}

// parseSlots parses a CLUSTER SLOTS reply:
// [[start end [ip port id ...] [ip port id ...]...] ...].
func parseSlots(v any) []slotRange {
	var out []slotRange
	for _, e := range asArray(v) {
		a := asArray(e)
		if len(a) < 3 {
			continue
		}
		r := slotRange{}
		r.start, _ = strconv.Atoi(asString(a[0]))
		r.end, _ = strconv.Atoi(asString(a[1]))
		for i, n := range a[2:] {
			na := asArray(n)
			if len(na) < 2 {
				continue
			}
			port, _ := strconv.Atoi(asString(na[1]))
			if i == 0 {
				r.master = port
			} else {
				r.replicas = append(r.replicas, port)
			}
		}
		slices.Sort(r.replicas)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b slotRange) int { return a.start - b.start })
	return out
}

// formatSlots renders a slot map canonically, for comparison and messages.
func formatSlots(slots []slotRange) string {
	var b strings.Builder
	for i, r := range slots {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d-%d:%d%v", r.start, r.end, r.master, r.replicas)
	}
	return b.String()
}

// firstOf returns the first element of an array reply, or nil.
func firstOf(v any) any {
	if a := asArray(v); len(a) > 0 {
		return a[0]
	}
	return nil
}
