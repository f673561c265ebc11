package redistest_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redkit-go/redkit/redistest"
)

func TestSentinel(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s := redistest.StartSentinel(t, 2)
	t.Logf("StartSentinel(2) took %v", time.Since(start).Round(time.Millisecond))

	if got := s.MasterName(); got != "mymaster" {
		t.Errorf("MasterName() = %q, want mymaster", got)
	}
	sa := s.Addrs()
	if len(sa) != 3 {
		t.Fatalf("len(Addrs()) = %d, want 3", len(sa))
	}
	if got, want := s.URL(), "redis+sentinel://"+strings.Join(sa, ",")+"/mymaster"; got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
	nodes := s.Nodes()
	old := s.Master()
	if old != nodes[0] {
		t.Errorf("Master() = %s, want the first node %s", old.Addr(), nodes[0].Addr())
	}
	if got := s.Replicas(); len(got) != 2 || slices.Contains(got, old) {
		t.Errorf("Replicas() = %v, want the 2 other nodes", addrs(got))
	}
	sen := s.Sentinels()[0]
	if got := do(t, sen, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"); got != "[127.0.0.1 "+strings.TrimPrefix(old.Addr(), "127.0.0.1:")+"]" {
		t.Errorf("sentinel names master %s, want %s", got, old.Addr())
	}
	do(t, old, "SET", "k", "v")
	// Server.Do opens a connection per call, and WAIT only waits for the
	// writes of its own connection: poll the replicas instead.
	deadline := time.Now().Add(30 * time.Second)
	for _, r := range s.Replicas() {
		for do(t, r, "GET", "k") != "v" {
			if time.Now().After(deadline) {
				t.Fatalf("replica %s never got k", r.Addr())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	start = time.Now()
	nm := s.Failover(t)
	t.Logf("Failover took %v", time.Since(start).Round(time.Millisecond))
	if nm == old {
		t.Fatalf("Failover kept the master %s", old.Addr())
	}
	if got := s.Master(); got != nm {
		t.Errorf("Master() after failover = %s, want %s", got.Addr(), nm.Addr())
	}
	if got := do(t, nm, "ROLE"); !strings.HasPrefix(got, "[master ") {
		t.Errorf("new master: ROLE = %s", got)
	}
	if got := do(t, nm, "GET", "k"); got != "v" {
		t.Errorf("GET k on the new master = %q, want v", got)
	}
	if got := do(t, nm, "SET", "k2", "v2"); got != "OK" {
		t.Errorf("SET on the new master = %q, want OK", got)
	}
}
