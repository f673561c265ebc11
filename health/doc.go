// Package health reports whether Redis is reachable: a Checker PINGs it
// periodically through a redkit.Kit (bypassing the circuit breaker, so it
// sees recovery) and serves the result as JSON for load balancers and
// Kubernetes probes — 200 when healthy, 503 when not — with the last
// latency, consecutive failures and the Kit's breaker state.
//
// It leaves out checks of anything but Redis: mount Handler beside your
// own checks, or combine Status with them.
package health
