package main

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/redkit-go/redkit"
)

const healthUsage = `
Usage: redkit health [flags]

Probes Redis once with PING (Kit.Health) and prints the health report as
JSON: status ("ok" or "unavailable"), healthy, latency, breaker state,
mode (standalone, cluster, sentinel) and node count. A server that cannot
be reached gives an "unavailable" report too. The output is JSON with or
without --json.

Exit status: 0 healthy, 1 not, 2 usage error.
`

// healthReport is what health prints: the Kit's report plus a status word
// and the latency in milliseconds, as health.Checker's handler serves it.
type healthReport struct {
	redkit.HealthReport
	Status    string  `json:"status"`
	LatencyMS float64 `json:"latency_ms"`
	Server    string  `json:"server"`
}

func runHealth(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("health", healthUsage)
	var c conn
	c.register(fs, 5*time.Second, "accepted for symmetry: health always prints JSON")
	if code := fs.parse(args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError(stderr, "unexpected argument %q", fs.Arg(0))
	}
	cfg, err := c.config()
	if err != nil {
		return fs.usageError(stderr, "%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()

	rep := healthReport{Server: where(cfg)}
	k, err := c.open(ctx, cfg)
	if err != nil {
		rep.HealthReport = redkit.HealthReport{Error: err.Error(), CheckedAt: time.Now()}
	} else {
		defer k.Close()
		rep.HealthReport = k.Health(ctx)
	}
	rep.Status = "unavailable"
	if rep.Healthy {
		rep.Status = "ok"
	}
	rep.LatencyMS = float64(rep.Latency.Microseconds()) / 1000
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return exitFail
	}
	if !rep.Healthy {
		return exitFail
	}
	return exitOK
}
