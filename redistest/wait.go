package redistest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// waitTimeout bounds the wait helpers of Cluster and Sentinel. Failovers on
// a quiet machine take a few seconds; the margin is for busy CI machines.
const waitTimeout = 30 * time.Second

// pollInterval is the pause between two checks of a wait helper.
const pollInterval = 100 * time.Millisecond

// probeTimeout bounds one command sent by a wait helper.
const probeTimeout = 2 * time.Second

// waitFor calls check until it reports done, failing t after timeout with
// what and the last reason check gave.
func waitFor(t testing.TB, timeout time.Duration, what string, check func() (done bool, why string)) {
	t.Helper()
	waitForLogs(t, timeout, what, check, nil)
}

// waitForLogs is waitFor adding the log tails of servers to the failure.
func waitForLogs(t testing.TB, timeout time.Duration, what string, check func() (done bool, why string), servers []*Server) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		done, why := check()
		if done {
			return
		}
		if time.Now().After(deadline) {
			var logs strings.Builder
			for _, s := range servers {
				fmt.Fprintf(&logs, "\n%s:%s", s.what(), s.logTail())
			}
			t.Fatalf("redistest: %s: not done after %v: %s%s", what, time.Since(start).Round(time.Millisecond), why, logs.String())
			return
		}
		time.Sleep(pollInterval)
	}
}

// serverByPort returns the server in list listening on port, or nil.
func serverByPort(list []*Server, port int) *Server {
	for _, s := range list {
		if s.port == port {
			return s
		}
	}
	return nil
}

// liveServers returns the servers of list that are running and not paused.
func liveServers(list []*Server) []*Server {
	var live []*Server
	for _, s := range list {
		if s.alive() {
			live = append(live, s)
		}
	}
	return live
}
