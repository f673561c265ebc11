package sentinel

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redkit-go/redkit/internal/leaktest"
	"github.com/redkit-go/redkit/redistest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// The tests that fail over a sentinel group do not run in parallel: they
// measure delays of milliseconds, and a 2-core machine running several
// groups at once would measure the machine.

// testLogger logs to t at Info level (Debug with -v and REDKIT_DEBUG set).
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// newWatcher starts a Watcher on s's sentinels (closed when t ends) after
// letting edit change the options.
func newWatcher(t testing.TB, s *redistest.Sentinel, edit func(*Options)) *Watcher {
	t.Helper()
	o := &Options{
		Addrs:      s.Addrs(),
		MasterName: s.MasterName(),
		ClientName: "redkit-sentinel-test",
		Logger:     testLogger(t),
	}
	if edit != nil {
		edit(o)
	}
	w, err := New(t.Context(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// waitUntil polls cond every millisecond until it holds, failing t after
// timeout.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// do runs a command on srv and fails t on error.
func do(t testing.TB, srv *redistest.Server, args ...string) string {
	t.Helper()
	v, err := srv.Do(args...)
	if err != nil {
		t.Fatalf("%s: %v: %v", srv.Addr(), args, err)
	}
	return v
}

// waitConverted waits until old (the master before a failover) has been
// turned into a replica of newMaster by the sentinels and is in sync with
// it.
func waitConverted(t testing.TB, old, newMaster *redistest.Server) {
	t.Helper()
	_, port, _ := net.SplitHostPort(newMaster.Addr())
	waitUntil(t, 30*time.Second, "the old master "+old.Addr()+" to resync from "+newMaster.Addr(), func() bool {
		info, err := old.Do("INFO", "replication")
		return err == nil && strings.Contains(info, "role:slave") &&
			strings.Contains(info, "master_port:"+port) && strings.Contains(info, "master_link_status:up")
	})
}

// timeline is what pollFailover saw of a failover away from old.
type timeline struct {
	sent     time.Time   // the leader published +failover-state-wait-promotion (SLAVEOF NO ONE sent)
	promoted time.Time   // another data node first answered ROLE master
	named    []time.Time // per sentinel: when it first named another master
	lagging  []time.Time // answers naming old, with their time
}

// pollFailover asks every sentinel GET-MASTER-ADDR-BY-NAME, and every
// data node but old ROLE, each every millisecond over a connection of its
// own, and listens to the leader (the first sentinel, which
// redistest.Sentinel.Failover asks) for +failover-state-wait-promotion,
// until ctx ends; the returned channel then delivers what it saw. The
// promotion is seen late by up to a redial: the leader's SLAVEOF NO ONE
// comes with CLIENT KILL TYPE normal.
func pollFailover(ctx context.Context, t testing.TB, s *redistest.Sentinel, old string) <-chan timeline {
	t.Helper()
	d := dialer{d: &net.Dialer{}}
	// poll runs cmd on addr until ctx ends and returns the times of the
	// replies seen reports, redialling after an error.
	poll := func(addr string, cmd []string, seen func([]any) bool) (first time.Time, matched []time.Time) {
		var c *conn
		defer func() {
			if c != nil {
				c.close()
			}
		}()
		for ctx.Err() == nil {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			if c == nil {
				if c, _ = d.dial(cctx, addr); c == nil {
					cancel()
					time.Sleep(time.Millisecond)
					continue
				}
			}
			v, err := c.do(cctx, cmd...)
			cancel()
			if err != nil {
				c.close()
				c = nil
				continue
			}
			if a, _ := v.([]any); seen(a) {
				matched = append(matched, time.Now())
			}
			time.Sleep(time.Millisecond)
		}
		return
	}
	sub, err := d.dial(ctx, s.Addrs()[0])
	if err != nil {
		t.Fatalf("dial the leader: %v", err)
	}
	if _, err := sub.do(ctx, "SUBSCRIBE", "+failover-state-wait-promotion"); err != nil {
		t.Fatalf("SUBSCRIBE on the leader: %v", err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	tl := timeline{named: make([]time.Time, len(s.Addrs()))}
	for _, n := range s.Nodes() {
		if n.Addr() == old {
			continue
		}
		wg.Go(func() {
			_, m := poll(n.Addr(), []string{"ROLE"}, func(r []any) bool { return len(r) > 0 && asString(r[0]) == "master" })
			mu.Lock()
			defer mu.Unlock()
			if len(m) > 0 && (tl.promoted.IsZero() || m[0].Before(tl.promoted)) {
				tl.promoted = m[0]
			}
		})
	}
	for i, a := range s.Addrs() {
		wg.Go(func() {
			var named bool
			_, lagging := poll(a, []string{"SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.MasterName()}, func(r []any) bool {
				if len(r) != 2 {
					return false
				}
				if net.JoinHostPort(asString(r[0]), asString(r[1])) == old {
					return true
				}
				if !named {
					named = true
					mu.Lock()
					tl.named[i] = time.Now()
					mu.Unlock()
				}
				return false
			})
			mu.Lock()
			tl.lagging = append(tl.lagging, lagging...)
			mu.Unlock()
		})
	}
	wg.Go(func() {
		stop := context.AfterFunc(ctx, func() { sub.close() })
		defer stop()
		if _, err := sub.read(); err == nil {
			mu.Lock()
			tl.sent = time.Now()
			mu.Unlock()
		}
		sub.close()
	})
	out := make(chan timeline, 1)
	go func() {
		wg.Wait()
		out <- tl
	}()
	return out
}
