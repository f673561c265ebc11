package sentinel

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redkit-go/redkit/internal/leaktest"
	"github.com/redkit-go/redkit/redistest"
	"go.uber.org/goleak"
)

func TestNewResolvesMaster(t *testing.T) {
	s := redistest.StartSentinel(t, 2)
	w := newWatcher(t, s, nil)
	if got, want := w.Master(), s.Master().Addr(); got != want {
		t.Errorf("Master() = %s, want %s", got, want)
	}
	select {
	case a := <-w.Changes():
		t.Errorf("Changes() delivers %s after New, want nothing before a switch", a)
	default:
	}
}

func TestNewErrors(t *testing.T) {
	s := redistest.StartSentinel(t, 0)
	tests := []struct {
		name string
		opts *Options
		want string // in the error
		no   bool   // wraps ErrNoMaster
	}{
		{"nil", nil, "nil *Options", false},
		{"no addrs", &Options{MasterName: "mymaster"}, "Options.Addrs", false},
		{"bad addr", &Options{Addrs: []string{"localhost"}, MasterName: "mymaster"}, `"localhost" is not host:port`, false},
		{"duplicate", &Options{Addrs: []string{s.Addrs()[0], s.Addrs()[0]}, MasterName: "mymaster"}, "listed twice", false},
		{"no name", &Options{Addrs: s.Addrs()}, "Options.MasterName", false},
		{"negative", &Options{Addrs: s.Addrs(), MasterName: "mymaster", RefreshInterval: -1}, "Options.RefreshInterval", false},
		{"unknown master", &Options{Addrs: s.Addrs(), MasterName: "nosuch"}, "No such master", true},
		{"no sentinel", &Options{Addrs: []string{"127.0.0.1:1"}, MasterName: "mymaster"}, "sentinel 127.0.0.1:1: dial", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := New(t.Context(), tt.opts)
			if err == nil {
				w.Close()
				t.Fatalf("New succeeded, want an error with %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want it to contain %q", err, tt.want)
			}
			t.Logf("New: %v", err)
			if got := errors.Is(err, ErrNoMaster); got != tt.no {
				t.Errorf("errors.Is(%v, ErrNoMaster) = %v, want %v", err, got, tt.no)
			}
		})
	}
}

// subscribedTo reports whether sen lists a connection of ours (named by
// newWatcher) subscribed to every event channel.
func subscribedTo(sen *redistest.Server) bool {
	list, err := sen.Do("CLIENT", "LIST")
	if err != nil {
		return false
	}
	for line := range strings.SplitSeq(list, "\n") {
		if strings.Contains(line, " name=redkit-sentinel-test ") && strings.Contains(line, " sub="+strconv.Itoa(len(events))+" ") {
			return true
		}
	}
	return false
}

// TestSentinelKilled kills a sentinel, fails over through the others,
// brings it back and then fails over through it alone. The refresh is too
// rare to matter, so the Watcher follows both failovers through its
// subscriptions, the last one through the subscription it re-established.
func TestSentinelKilled(t *testing.T) {
	s := redistest.StartSentinel(t, 2)
	w := newWatcher(t, s, func(o *Options) { o.RefreshInterval = time.Hour })
	sens := s.Sentinels()
	for _, sen := range sens {
		waitUntil(t, 5*time.Second, "a subscription to "+sen.Addr(), func() bool { return subscribedTo(sen) })
	}

	sens[0].Kill()
	old := s.Master()
	nm := s.Failover(t) // led by sentinel 1
	waitUntil(t, 5*time.Second, "the Watcher to follow the failover to "+nm.Addr(), func() bool { return w.Master() == nm.Addr() })
	waitConverted(t, old, nm)

	sens[0].Restart()
	waitUntil(t, 10*time.Second, "the Watcher to subscribe to the restarted "+sens[0].Addr(), func() bool { return subscribedTo(sens[0]) })
	_, port, _ := net.SplitHostPort(nm.Addr())
	waitUntil(t, 30*time.Second, "the restarted sentinel to name "+nm.Addr(), func() bool {
		v, err := sens[0].Do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.MasterName())
		return err == nil && strings.HasSuffix(v, " "+port+"]")
	})
	if got := w.Master(); got != nm.Addr() {
		t.Fatalf("Master() = %s after the restarted sentinel came back, want %s", got, nm.Addr())
	}

	sens[1].Kill()
	sens[2].Kill()
	old = nm
	nm = s.Failover(t) // forced by sentinel 0, the only one left
	waitUntil(t, 5*time.Second, "the Watcher to follow the failover to "+nm.Addr(), func() bool { return w.Master() == nm.Addr() })
	if nm == old {
		t.Fatalf("the second failover kept %s", nm.Addr())
	}
}

// TestFollowsReconfiguredMasterSet removes the master set from every
// sentinel and monitors it again at the former replica, now master: the
// configuration epoch starts again from 0, no higher than the one the
// Watcher holds, and it follows only because its master now answers ROLE
// as a replica.
func TestFollowsReconfiguredMasterSet(t *testing.T) {
	s := redistest.StartSentinel(t, 1)
	w := newWatcher(t, s, func(o *Options) { o.RefreshInterval = 50 * time.Millisecond })
	m, r := s.Nodes()[0], s.Nodes()[1]
	if got := w.Master(); got != m.Addr() {
		t.Fatalf("Master() = %s, want %s", got, m.Addr())
	}
	for _, sen := range s.Sentinels() {
		do(t, sen, "SENTINEL", "REMOVE", s.MasterName())
	}
	do(t, r, "REPLICAOF", "NO", "ONE")
	do(t, m, "REPLICAOF", "127.0.0.1", strconv.Itoa(r.Port()))
	time.Sleep(200 * time.Millisecond) // the Watcher sees no master set, and keeps its master
	if got := w.Master(); got != m.Addr() {
		t.Fatalf("Master() = %s while no sentinel monitors the set, want %s", got, m.Addr())
	}
	for _, sen := range s.Sentinels() {
		do(t, sen, "SENTINEL", "MONITOR", s.MasterName(), "127.0.0.1", strconv.Itoa(r.Port()), "2")
	}
	waitUntil(t, 5*time.Second, "the Watcher to follow the sentinels to "+r.Addr(), func() bool { return w.Master() == r.Addr() })
}

// TestClose checks that Close stops every goroutine and closes every
// connection of the Watcher (seen from the sentinels), including while a
// refresh runs every 5ms, and closes Changes.
func TestClose(t *testing.T) {
	s := redistest.StartSentinel(t, 1)
	ignore := goleak.IgnoreCurrent()
	w, err := New(t.Context(), &Options{
		Addrs: s.Addrs(), MasterName: s.MasterName(), ClientName: "redkit-sentinel-test",
		RefreshInterval: 5 * time.Millisecond, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, sen := range s.Sentinels() {
		waitUntil(t, 5*time.Second, "a subscription to "+sen.Addr(), func() bool { return subscribedTo(sen) })
	}
	time.Sleep(50 * time.Millisecond)
	master := w.Master()
	if err := w.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := goleak.Find(append(leaktest.Options(), ignore)...); err != nil {
		t.Errorf("goroutines left after Close: %v", err)
	}
	if _, ok := <-w.Changes(); ok {
		t.Errorf("Changes() not closed after Close")
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
	if got := w.Master(); got != master {
		t.Errorf("Master() after Close = %q, want the last master %q", got, master)
	}
	for _, sen := range s.Sentinels() {
		waitUntil(t, 5*time.Second, "the Watcher's connections to "+sen.Addr()+" to close", func() bool {
			list, err := sen.Do("CLIENT", "LIST")
			return err == nil && !strings.Contains(list, "name=redkit-sentinel-test")
		})
	}
}

// TestNewCancelled checks that New gives up when its context ends, here
// while the only sentinel is paused.
func TestNewCancelled(t *testing.T) {
	s := redistest.StartSentinel(t, 0)
	sen := s.Sentinels()[0]
	sen.Pause(0)
	defer sen.Resume()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	w, err := New(ctx, &Options{Addrs: []string{sen.Addr()}, MasterName: s.MasterName(), Timeout: 10 * time.Second})
	if err == nil {
		w.Close()
		t.Fatalf("New succeeded with the sentinel paused")
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrNoMaster) {
		t.Errorf("New error = %v, want ErrNoMaster and context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("New returned after %v, want about the context's 100ms", d)
	}
}
