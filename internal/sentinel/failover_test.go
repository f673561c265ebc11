package sentinel

import (
	"context"
	"testing"
	"time"

	"github.com/redkit-go/redkit/redistest"
)

// change is an address received from Changes and when.
type change struct {
	addr string
	at   time.Time
}

// record collects what w.Changes delivers until it is closed or stop is
// closed; the returned func stops it and returns the changes.
func record(w *Watcher) func() []change {
	var got []change
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case a, ok := <-w.Changes():
				if !ok {
					return
				}
				got = append(got, change{a, time.Now()})
			}
		}
	}()
	return func() []change {
		close(stop)
		<-done
		return got
	}
}

// TestFailoverFollowed fails over and checks that two watchers follow the
// new master once, without flipping back while the old master is
// converted: one with a refresh so rare that only the sentinels' events can
// move it (its lag from the leader naming the new master is logged and
// bounded), and one asking every sentinel every 20ms, so that it sees the
// sentinels that still name the old master (which still answers ROLE
// master) and must ignore them.
func TestFailoverFollowed(t *testing.T) {
	s := redistest.StartSentinel(t, 2)
	old := s.Master()
	events := newWatcher(t, s, func(o *Options) { o.RefreshInterval = time.Hour })
	eager := newWatcher(t, s, func(o *Options) { o.RefreshInterval = 20 * time.Millisecond })
	stopEvents, stopEager := record(events), record(eager)

	ctx, cancel := context.WithCancel(t.Context())
	polled := pollFailover(ctx, t, s, old.Addr())
	begin := time.Now()
	nm := s.Failover(t)
	done := time.Now()
	waitUntil(t, 5*time.Second, "both watchers to report "+nm.Addr(), func() bool {
		return events.Master() == nm.Addr() && eager.Master() == nm.Addr()
	})
	// The old master answers ROLE master until a sentinel converts it,
	// seconds later; keep watching until it has resynced, and a bit more.
	waitConverted(t, old, nm)
	time.Sleep(500 * time.Millisecond)
	cancel()
	p := <-polled

	for _, w := range []struct {
		name string
		w    *Watcher
		got  []change
	}{{"events-only", events, stopEvents()}, {"eager refresh", eager, stopEager()}} {
		if len(w.got) != 1 || w.got[0].addr != nm.Addr() {
			t.Errorf("%s watcher: Changes() delivered %v, want exactly [%s]", w.name, w.got, nm.Addr())
			continue
		}
		if got := w.w.Master(); got != nm.Addr() {
			t.Errorf("%s watcher: Master() = %s after the old master was converted, want %s", w.name, got, nm.Addr())
		}
		at := w.got[0].at
		var lagging int
		for _, l := range p.lagging {
			if l.After(at) {
				lagging++
			}
		}
		lag := at.Sub(p.sent)
		t.Logf("%s watcher: switched %v after the leader sent SLAVEOF NO ONE, %v after a poll saw the new master answer ROLE master, %v after the leader named it, %v before Failover returned (every sentinel named it); %d polled answers named the old master after the switch",
			w.name, lag.Round(time.Microsecond), at.Sub(p.promoted).Round(time.Microsecond), at.Sub(p.named[0]).Round(time.Microsecond),
			done.Sub(at).Round(time.Millisecond), lagging)
		if w.w == events && lag > 250*time.Millisecond {
			t.Errorf("%s watcher switched %v after the leader sent SLAVEOF NO ONE, want milliseconds", w.name, lag)
		}
	}
	t.Logf("the leader sent SLAVEOF NO ONE %v after SENTINEL FAILOVER; a poll saw the new master answer ROLE master %v after",
		p.sent.Sub(begin).Round(time.Millisecond), p.promoted.Sub(begin).Round(time.Millisecond))
	for i, at := range p.named {
		t.Logf("sentinel %d named the new master %v after SENTINEL FAILOVER", i, at.Sub(begin).Round(time.Millisecond))
	}
}
