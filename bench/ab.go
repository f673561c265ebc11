package main

import (
	"fmt"
	"slices"
	"strings"
)

// The ab suite is a manual check (-suite ab) of the kv suite's tightest
// target, the Kit at ≥ 0.95x plain rueidis with the same settings, with
// its noise floor beside it: two plain rueidis clients configured
// identically (A and A') are measured the same way as the Kit, so their
// ratio shows how far two equal clients drift apart on this machine. Use
// more rounds than the default (-rounds 21) and the concurrencies in
// question (-goroutines 128,512).
func init() {
	register(Suite{Name: "ab", Title: "Kit vs rueidis, with an A/A control (ab)", Manual: true, Run: runAB})
}

func runAB(env *Env) (*Section, error) {
	var cl closers
	defer cl.closeAll()
	c, err := openKV(env, &cl)
	if err != nil {
		return nil, err
	}
	other, err := env.OpenRueidis(env.KitEngineOption(c.kit))
	if err != nil {
		return nil, err
	}
	cl.add(other.Close)
	// The kv suite's own variants; A' is the same with other as the client.
	c2 := *c
	c2.same = other
	pick := func(vs, vs2 []Variant) []Variant {
		return []Variant{
			{"redkit Kit", vs[kvKit].Op},
			{"rueidis A", vs[kvSame].Op},
			{"rueidis A'", vs2[kvSame].Op},
		}
	}
	ops := []struct {
		name     string
		variants []Variant
	}{
		{"GET", pick(c.getVariants(), c2.getVariants())},
		{"SET", pick(c.setVariants(), c2.setVariants())},
	}
	sec := &Section{Intro: fmt.Sprintf(`
The kv suite's GET and SET (ctx = context.Background()) through the Kit and
through two plain rueidis clients with the Kit's engine settings, A and A',
%d rounds of %s each, the three measured back to back in a rotated order
every round. A' / A is the noise floor: two identical clients, so any
distance from 1.00x is the machine's doing. Per-round ratios are shown as
median and interquartile range (25th-75th percentile).`, env.Rounds, env.Duration)}
	t := Table{Caption: "Per-round throughput ratios:", Header: []string{"op", "goroutines",
		"Kit / A median", "Kit / A IQR", "A' / A median", "A' / A IQR", "Kit / mean(A, A')", "CPU/op Kit, A, A'"}}
	for _, op := range ops {
		for _, g := range env.Goroutines {
			env.Logf("ab %s, %d goroutines", op.name, g)
			res := env.Compare(g, op.variants...)
			if env.ctx.Err() != nil {
				return nil, env.ctx.Err()
			}
			kq, aq := roundRatios(res[0], res[1]), roundRatios(res[2], res[1])
			both := make([]float64, len(res[0].PerRound))
			for k := range both {
				both[k] = res[0].PerRound[k] / ((res[1].PerRound[k] + res[2].PerRound[k]) / 2)
			}
			t.AddRow(op.name, g, fmtRatio(kq[1]), fmtRatio(kq[0])+"-"+fmtRatio(kq[2]),
				fmtRatio(aq[1]), fmtRatio(aq[0])+"-"+fmtRatio(aq[2]), fmtRatio(median(both)),
				strings.Join([]string{fmtDur(res[0].CPUPerOp), fmtDur(res[1].CPUPerOp), fmtDur(res[2].CPUPerOp)}, ", "))
			sec.Targets = append(sec.Targets, Target{
				What:  fmt.Sprintf("%s, %d goroutines: redkit/mean of two rueidis clients (same settings)", op.name, g),
				Ratio: median(both), Min: 0.95})
		}
	}
	sec.Tables = append(sec.Tables, t)
	return sec, nil
}

// roundRatios returns the 25th, 50th and 75th percentiles of r's per-round
// throughput over base's.
func roundRatios(r, base Result) [3]float64 {
	var q [3]float64
	n := min(len(r.PerRound), len(base.PerRound))
	if n == 0 {
		return q
	}
	s := make([]float64, n)
	for k := range s {
		s[k] = r.PerRound[k] / base.PerRound[k]
	}
	slices.Sort(s)
	for j, p := range []float64{0.25, 0.5, 0.75} {
		q[j] = s[int(p*float64(n-1)+0.5)]
	}
	return q
}
