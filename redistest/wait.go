package redistest

import (
	"fmt"
	"strings"
	"time"
)

// waitTimeout bounds the wait helpers of Cluster and Sentinel. Failovers on
// a quiet machine take a few seconds; the margin is for busy CI machines.
const waitTimeout = 30 * time.Second

// pollInterval is the pause between two checks of a wait helper.
const pollInterval = 100 * time.Millisecond

// probeTimeout bounds one command sent by a wait helper.
const probeTimeout = 2 * time.Second

// waitFor calls check until it reports done, and returns an error with
// what, the last reason check gave and the log tails of servers once
// timeout has passed.
func waitFor(timeout time.Duration, what string, check func() (done bool, why string), servers ...*Server) error {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		done, why := check()
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			var logs strings.Builder
			for _, s := range servers {
				fmt.Fprintf(&logs, "\n%s:%s", s.what(), s.logTail())
			}
			return fmt.Errorf("redistest: %s: not done after %v: %s%s", what, time.Since(start).Round(time.Millisecond), why, logs.String())
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
