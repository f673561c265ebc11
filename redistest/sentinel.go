package redistest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Sentinel group settings.
const (
	// sentinelMaster is the name the sentinels monitor the master under.
	sentinelMaster = "mymaster"
	// sentinelCount is the number of sentinel processes.
	sentinelCount = 3
	// sentinelQuorum is how many sentinels must agree the master is down.
	sentinelQuorum = 2
	// sentinelDownAfter is down-after-milliseconds.
	sentinelDownAfter = 1000 * time.Millisecond
	// sentinelFailoverTimeout is failover-timeout.
	sentinelFailoverTimeout = 5000 * time.Millisecond
)

// sentinelDebug tunes a sentinel's internal timers for tests:
//   - TILT-TRIGGER: a sentinel enters TILT mode (it stops acting, for
//     TILT-PERIOD) when its event loop stalls for this long; the default 2s
//     is reached on a loaded 2-core test machine, so raise it to 30s, and
//     keep a TILT short if it happens anyway.
//   - INFO-PERIOD: refresh replicas' INFO every 1s instead of 10s, so
//     sentinels notice role changes quickly.
//   - PUBLISH-PERIOD: send hello messages every 0.5s instead of 2s, so
//     sentinels find each other, and learn new configurations, quickly.
var sentinelDebug = []string{"SENTINEL", "DEBUG",
	"TILT-TRIGGER", "30000", "TILT-PERIOD", "3000",
	"INFO-PERIOD", "1000", "PUBLISH-PERIOD", "500"}

// Sentinel is a Redis Sentinel group started by StartSentinel or
// LaunchSentinel: one master, its replicas, and three sentinels monitoring
// the master as "mymaster". Master and Replicas ask the sentinels, so they
// follow failovers.
//
// Its methods are safe for concurrent use. A method that fails reports to
// the testing.TB it is given, else to the test that started the group (with
// t.Fatal, so it must then be called from that test's goroutine). For a
// group from LaunchSentinel, with no test to fail, they return nil.
type Sentinel struct {
	t         testing.TB // the test from StartSentinel, nil from LaunchSentinel
	name      string
	nodes     []*Server // data nodes; the first was the master at start
	sentinels []*Server
}

// StartSentinel starts a master, replicas replicas of it, and three
// sentinels monitoring it as "mymaster" (quorum 2, down-after-milliseconds
// 1000, failover-timeout 5000, hostnames not resolved, everything announced
// as 127.0.0.1). Internal timers are shortened with SENTINEL DEBUG: hello
// messages every 0.5s, replica INFO every 1s, and TILT mode only after a 30s
// stall of a sentinel's event loop (not 2s, which a busy machine reaches).
// It returns once every replica is in sync and every sentinel knows the
// master, all its replicas and the two other sentinels, which takes a
// second or two. The servers have no password, TLS or persistence. They
// are killed and their directories removed when t completes.
func StartSentinel(t testing.TB, replicas int) *Sentinel {
	t.Helper()
	s, err := launchSentinel(replicas)
	if err != nil {
		t.Fatal(err)
	}
	s.t = t
	adopt(t, s.Close, append(s.Nodes(), s.sentinels...)...)
	return s
}

// LaunchSentinel is StartSentinel for code without a testing.TB: it returns
// the error instead of failing a test, and the caller calls Close.
func LaunchSentinel(replicas int) (*Sentinel, error) {
	return launchSentinel(replicas)
}

// launchSentinel is the core of StartSentinel and LaunchSentinel. On error
// every server it started is closed.
func launchSentinel(replicas int) (_ *Sentinel, err error) {
	if replicas < 0 {
		return nil, fmt.Errorf("redistest: StartSentinel: replicas must not be negative, got %d", replicas)
	}
	s := &Sentinel{name: sentinelMaster}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	master, err := startServer(serverConfig{})
	if err != nil {
		return nil, err
	}
	s.nodes = append(s.nodes, master)
	for range replicas {
		r, err := startServer(serverConfig{replicaOf: master.port})
		if err != nil {
			return nil, err
		}
		s.nodes = append(s.nodes, r)
	}
	// Sentinels learn the replicas from the master's INFO, so let them
	// attach first.
	err = waitFor(waitTimeout, "replicas sync with the master", func() (bool, string) {
		for _, r := range s.nodes[1:] {
			v, err := r.do(probeTimeout, "INFO", "replication")
			if err != nil {
				return false, fmt.Sprintf("%s: INFO: %v", r.Addr(), err)
			}
			if st := infoField(asString(v), "master_link_status"); st != "up" {
				return false, fmt.Sprintf("replica %s: master_link_status:%s", r.Addr(), st)
			}
		}
		return true, ""
	}, s.nodes...)
	if err != nil {
		return nil, err
	}

	conf := func(int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "sentinel resolve-hostnames no\n")
		fmt.Fprintf(&b, "sentinel announce-ip 127.0.0.1\n")
		fmt.Fprintf(&b, "sentinel monitor %s 127.0.0.1 %d %d\n", s.name, master.port, sentinelQuorum)
		fmt.Fprintf(&b, "sentinel down-after-milliseconds %s %d\n", s.name, sentinelDownAfter.Milliseconds())
		fmt.Fprintf(&b, "sentinel failover-timeout %s %d\n", s.name, sentinelFailoverTimeout.Milliseconds())
		fmt.Fprintf(&b, "sentinel parallel-syncs %s 1\n", s.name)
		return b.String()
	}
	for range sentinelCount {
		sen, err := startServer(serverConfig{kind: kindSentinel, sentinel: conf})
		if err != nil {
			return nil, err
		}
		s.sentinels = append(s.sentinels, sen)
	}
	err = waitFor(waitTimeout, "sentinels discover the master, its replicas and each other", func() (bool, string) {
		for _, sen := range s.sentinels {
			v, err := sen.do(probeTimeout, "SENTINEL", "MASTER", s.name)
			if err != nil {
				return false, fmt.Sprintf("sentinel %s: SENTINEL MASTER: %v", sen.Addr(), err)
			}
			m := asMap(v)
			if m["flags"] != "master" || m["num-slaves"] != strconv.Itoa(replicas) ||
				m["num-other-sentinels"] != strconv.Itoa(sentinelCount-1) {
				return false, fmt.Sprintf("sentinel %s sees master %s:%s flags %q with %s replicas and %s other sentinels",
					sen.Addr(), m["ip"], m["port"], m["flags"], m["num-slaves"], m["num-other-sentinels"])
			}
			v, err = sen.do(probeTimeout, "SENTINEL", "REPLICAS", s.name)
			if err != nil {
				return false, fmt.Sprintf("sentinel %s: SENTINEL REPLICAS: %v", sen.Addr(), err)
			}
			for _, e := range asArray(v) {
				r := asMap(e)
				if r["flags"] != "slave" || r["master-link-status"] != "ok" {
					return false, fmt.Sprintf("sentinel %s sees replica %s:%s flags %q link %q",
						sen.Addr(), r["ip"], r["port"], r["flags"], r["master-link-status"])
				}
			}
		}
		return true, ""
	}, s.sentinels...)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Close kills the sentinels and the data servers and removes their
// directories. For a group from StartSentinel, the test's cleanup calls it.
// It returns the errors from removing the directories.
func (s *Sentinel) Close() error {
	var errs []error
	for _, srv := range append(slices.Clone(s.sentinels), s.nodes...) {
		errs = append(errs, srv.Close())
	}
	return errors.Join(errs...)
}

// report hands err to t, else to the test that started the group, with
// t.Fatal; without either it does nothing.
func (s *Sentinel) report(t testing.TB, err error) {
	if t == nil {
		t = s.t
	}
	if t != nil {
		t.Helper()
		t.Fatal(err)
	}
}

// MasterName returns the name the sentinels monitor the master under,
// "mymaster".
func (s *Sentinel) MasterName() string { return s.name }

// Addrs returns the sentinels' addresses.
func (s *Sentinel) Addrs() []string {
	addrs := make([]string, len(s.sentinels))
	for i, sen := range s.sentinels {
		addrs[i] = sen.Addr()
	}
	return addrs
}

// URL returns "redis+sentinel://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/mymaster".
func (s *Sentinel) URL() string {
	return "redis+sentinel://" + strings.Join(s.Addrs(), ",") + "/" + s.name
}

// Sentinels returns the sentinel processes, to stop, pause or query them.
func (s *Sentinel) Sentinels() []*Server { return slices.Clone(s.sentinels) }

// Nodes returns the data servers (the master and replicas started by
// StartSentinel, the first being the master at start), whatever their
// current role.
func (s *Sentinel) Nodes() []*Server { return slices.Clone(s.nodes) }

// Master returns the current master according to the first running
// sentinel (SENTINEL get-master-addr-by-name).
func (s *Sentinel) Master() *Server {
	if s.t != nil {
		s.t.Helper()
	}
	m, err := s.master()
	if err != nil {
		s.report(nil, err)
	}
	return m
}

// master is Master without the test.
func (s *Sentinel) master() (*Server, error) {
	port, err := s.masterPort()
	if err != nil {
		return nil, fmt.Errorf("redistest: Sentinel.Master: %w", err)
	}
	m := serverByPort(s.nodes, port)
	if m == nil {
		return nil, fmt.Errorf("redistest: Sentinel.Master: sentinels name 127.0.0.1:%d, not a server of this group", port)
	}
	return m, nil
}

// masterPort asks the running sentinels, in order, for the master's port.
func (s *Sentinel) masterPort() (int, error) {
	var last error = errNotRunning
	for _, sen := range liveServers(s.sentinels) {
		v, err := sen.do(probeTimeout, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.name)
		if err != nil {
			last = fmt.Errorf("sentinel %s: %w", sen.Addr(), err)
			continue
		}
		a := asArray(v)
		if len(a) != 2 {
			last = fmt.Errorf("sentinel %s: unexpected reply %s", sen.Addr(), formatReply(v))
			continue
		}
		return strconv.Atoi(asString(a[1]))
	}
	return 0, last
}

// Replicas returns the current replicas of the master according to the
// first running sentinel (SENTINEL REPLICAS), leaving out those it considers
// down or disconnected, sorted by port.
func (s *Sentinel) Replicas() []*Server {
	if s.t != nil {
		s.t.Helper()
	}
	r, err := s.replicas()
	if err != nil {
		s.report(nil, err)
	}
	return r
}

// replicas is Replicas without the test.
func (s *Sentinel) replicas() ([]*Server, error) {
	last := errNotRunning
	for _, sen := range liveServers(s.sentinels) {
		v, err := sen.do(probeTimeout, "SENTINEL", "REPLICAS", s.name)
		if err != nil {
			last = err
			continue
		}
		var out []*Server
		for _, e := range asArray(v) {
			r := asMap(e)
			if strings.Contains(r["flags"], "down") || strings.Contains(r["flags"], "disconnected") {
				continue
			}
			port, _ := strconv.Atoi(r["port"])
			if srv := serverByPort(s.nodes, port); srv != nil {
				out = append(out, srv)
			}
		}
		slices.SortFunc(out, func(a, b *Server) int { return a.port - b.port })
		return out, nil
	}
	return nil, fmt.Errorf("redistest: Sentinel.Replicas: no sentinel answered: %w", last)
}

// Failover forces a failover with SENTINEL FAILOVER (retried while the
// sentinel answers INPROG or NOGOODSLAVE) and waits until every running
// sentinel names the same new master and that server answers ROLE as a
// master. It returns the new master. The old master, if running, is turned
// into a replica by the sentinels some seconds later. Failover fails t (nil
// t: the test that started the group; for LaunchSentinel, it returns nil)
// when this does not happen within 30s.
func (s *Sentinel) Failover(t testing.TB) *Server {
	if t != nil {
		t.Helper()
	}
	m, err := s.failover()
	if err != nil {
		s.report(t, err)
	}
	return m
}

// failover is Failover without the test.
func (s *Sentinel) failover() (*Server, error) {
	old, err := s.masterPort()
	if err != nil {
		return nil, fmt.Errorf("redistest: Sentinel.Failover: %w", err)
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		live := liveServers(s.sentinels)
		if len(live) == 0 {
			return nil, errors.New("redistest: Sentinel.Failover: no sentinel is running")
		}
		_, err := live[0].do(probeTimeout, "SENTINEL", "FAILOVER", s.name)
		if err == nil {
			break
		}
		retry := strings.HasPrefix(err.Error(), "INPROG") || strings.HasPrefix(err.Error(), "NOGOODSLAVE")
		if !retry || time.Now().After(deadline) {
			return nil, fmt.Errorf("redistest: SENTINEL FAILOVER %s on %s: %w", s.name, live[0].Addr(), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var master *Server
	err = waitFor(time.Until(deadline), fmt.Sprintf("sentinel failover from 127.0.0.1:%d", old), func() (bool, string) {
		port := 0
		for _, sen := range liveServers(s.sentinels) {
			v, err := sen.do(probeTimeout, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.name)
			if err != nil {
				return false, fmt.Sprintf("sentinel %s: %v", sen.Addr(), err)
			}
			p := 0
			if a := asArray(v); len(a) == 2 {
				p, _ = strconv.Atoi(asString(a[1]))
			}
			switch {
			case p == old:
				why := fmt.Sprintf("sentinel %s still names the old master", sen.Addr())
				if info, err := sen.do(probeTimeout, "INFO", "sentinel"); err == nil && infoField(asString(info), "sentinel_tilt") == "1" {
					why += " and is in TILT mode (its event loop stalled for over 2s: the machine is overloaded; it stays passive for 30s)"
				}
				return false, why
			case port != 0 && p != port:
				return false, fmt.Sprintf("sentinels disagree: 127.0.0.1:%d and 127.0.0.1:%d", port, p)
			}
			port = p
		}
		master = serverByPort(s.nodes, port)
		if master == nil {
			return false, fmt.Sprintf("sentinels name 127.0.0.1:%d, not a server of this group", port)
		}
		v, err := master.do(probeTimeout, "ROLE")
		if err != nil || asString(firstOf(v)) != "master" {
			return false, fmt.Sprintf("new master %s answers ROLE %s (%v)", master.Addr(), formatReply(v), err)
		}
		return true, ""
	}, s.sentinels...)
	if err != nil {
		return nil, err
	}
	return master, nil
}
