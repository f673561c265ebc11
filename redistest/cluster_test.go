package redistest_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redkit-go/redkit/redistest"
)

func TestCluster(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := redistest.StartCluster(t, 3, 1)
	t.Logf("StartCluster(3, 1) took %v", time.Since(start).Round(time.Millisecond))

	if n := len(c.Nodes()); n != 6 {
		t.Fatalf("len(Nodes()) = %d, want 6", n)
	}
	if n := len(c.Addrs()); n != 6 {
		t.Errorf("len(Addrs()) = %d, want 6", n)
	}
	masters, replicas := c.Masters(), c.Replicas()
	if len(masters) != 3 || len(replicas) != 3 {
		t.Fatalf("%d masters and %d replicas, want 3 and 3", len(masters), len(replicas))
	}
	for _, r := range replicas {
		if slices.Contains(masters, r) {
			t.Errorf("%s is both a master and a replica", r.Addr())
		}
		if got := do(t, r, "ROLE"); !strings.HasPrefix(got, "[slave 127.0.0.1 ") || !strings.Contains(got, " connected ") {
			t.Errorf("replica %s: ROLE = %s", r.Addr(), got)
		}
	}
	if got := do(t, masters[0], "CLUSTER", "INFO"); !strings.Contains(got, "cluster_state:ok") {
		t.Errorf("CLUSTER INFO:\n%s", got)
	}

	// Keys land on every master, and each master holds only its own slots.
	keys := map[*redistest.Server][]string{}
	for i := range 60 {
		key := "key:" + strconv.Itoa(i)
		m := c.MasterFor(key)
		if got := do(t, m, "SET", key, "v"+strconv.Itoa(i)); got != "OK" {
			t.Fatalf("SET %s on %s = %q", key, m.Addr(), got)
		}
		keys[m] = append(keys[m], key)
	}
	for _, m := range masters {
		if len(keys[m]) == 0 {
			t.Errorf("no key of 60 landed on master %s", m.Addr())
		}
		if got, want := do(t, m, "DBSIZE"), strconv.Itoa(len(keys[m])); got != want {
			t.Errorf("master %s: DBSIZE = %s, want %s", m.Addr(), got, want)
		}
	}
	other := masters[1]
	if c.MasterFor(keys[masters[0]][0]) == other {
		t.Fatal("MasterFor inconsistent")
	}
	if _, err := other.Do("GET", keys[masters[0]][0]); err == nil || !strings.HasPrefix(err.Error(), "MOVED") {
		t.Errorf("GET on the wrong master: error %v, want MOVED", err)
	}

	// Failover promotes the old master's replica and keeps its keys.
	old := masters[0]
	start = time.Now()
	nm := c.Failover(t, old)
	t.Logf("Failover took %v", time.Since(start).Round(time.Millisecond))
	if nm == old || !slices.Contains(replicas, nm) {
		t.Fatalf("Failover returned %s, want one of the old replicas", nm.Addr())
	}
	if got := do(t, nm, "ROLE"); !strings.HasPrefix(got, "[master ") {
		t.Errorf("new master %s: ROLE = %s", nm.Addr(), got)
	}
	masters = c.Masters()
	if len(masters) != 3 || !slices.Contains(masters, nm) || slices.Contains(masters, old) {
		t.Errorf("Masters() after failover = %v, want 3 including %s and not %s", addrs(masters), nm.Addr(), old.Addr())
	}
	if !slices.Contains(c.Replicas(), old) {
		t.Errorf("Replicas() after failover = %v, want it to include the old master %s", addrs(c.Replicas()), old.Addr())
	}
	for _, key := range keys[old] {
		if m := c.MasterFor(key); m != nm {
			t.Errorf("MasterFor(%q) = %s, want the new master %s", key, m.Addr(), nm.Addr())
			break
		}
		if got := do(t, nm, "GET", key); got == "" {
			t.Errorf("GET %s on the new master: missing", key)
		}
	}

	// A master that is down is replaced with CLUSTER FAILOVER FORCE; once
	// restarted it rejoins as a replica.
	down := c.MasterFor(keys[masters[1]][0])
	down.Kill()
	start = time.Now()
	nm2 := c.Failover(t, down)
	t.Logf("Failover of a killed master took %v", time.Since(start).Round(time.Millisecond))
	if got := c.MasterFor(keys[masters[1]][0]); got != nm2 {
		t.Errorf("MasterFor after failover of a killed master = %s, want %s", got.Addr(), nm2.Addr())
	}
	if got := do(t, nm2, "GET", keys[masters[1]][0]); got == "" {
		t.Errorf("GET %s on the new master: missing", keys[masters[1]][0])
	}
	down.Restart()
	c.WaitReady(t)
	if got := do(t, down, "ROLE"); !strings.HasPrefix(got, "[slave 127.0.0.1 "+strconv.Itoa(nm2.Port())+" connected") {
		t.Errorf("restarted old master: ROLE = %s, want a replica of %s", got, nm2.Addr())
	}
	if n := len(c.Replicas()); n != 3 {
		t.Errorf("len(Replicas()) after the restart = %d, want 3", n)
	}
}

func addrs(list []*redistest.Server) string {
	var out []string
	for _, s := range list {
		out = append(out, s.Addr())
	}
	return fmt.Sprint(out)
}
