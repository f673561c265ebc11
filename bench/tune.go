package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
)

// The tune suite is exploratory (run it with -suite tune): it measures the
// engine settings redkit could default to, to choose Config.Engine's
// defaults from numbers. Every variant is rueidis configured as the Kit
// configures it (KitEngineOption) with one MaxFlushDelay and one
// PipelineMultiplex.
func init() {
	register(Suite{Name: "tune", Title: "Engine settings (tune)", Manual: true, Run: runTune})
}

var (
	tuneFlushDelays = []time.Duration{0, 10 * time.Microsecond, 20 * time.Microsecond, 50 * time.Microsecond, 100 * time.Microsecond}
	// -1 is one connection; 0 is rueidis's default, log2(GOMAXPROCS) capped
	// at 2 (so 1, two connections, on 2 cores); n is 2^n connections.
	tuneMultiplex = []int{-1, 0, 1, 2}
)

type tuneConfig struct {
	name      string
	delay     time.Duration
	multiplex int
	noAuto    bool // DisableAutoPipelining
	client    rueidis.Client
}

func runTune(env *Env) (*Section, error) {
	var cl closers
	defer cl.closeAll()
	k, err := env.OpenKit(redkit.Config{})
	if err != nil {
		return nil, err
	}
	cl.add(func() { k.Close() })
	base := env.KitEngineOption(k)
	cur := k.Config().Engine

	var cfgs []*tuneConfig
	for _, pm := range tuneMultiplex {
		for _, d := range tuneFlushDelays {
			cfgs = append(cfgs, &tuneConfig{name: fmt.Sprintf("delay %s, multiplex %d", fmtDelay(d), pm), delay: d, multiplex: pm})
		}
	}
	cfgs = append(cfgs, &tuneConfig{name: "DisableAutoPipelining", noAuto: true})
	curIdx := -1
	for i, c := range cfgs {
		if !c.noAuto && c.delay == cur.MaxFlushDelay && c.multiplex == cur.PipelineMultiplex {
			curIdx = i
		}
		opt := base
		opt.MaxFlushDelay, opt.PipelineMultiplex, opt.DisableAutoPipelining = c.delay, c.multiplex, c.noAuto
		if c.client, err = env.OpenRueidis(opt); err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		cl.add(c.client.Close)
	}

	prefix := env.KeyPrefix("tune")
	keys := make([]string, kvKeys)
	value := strings.Repeat("v", kvValueSize)
	for i := range keys {
		keys[i] = fmt.Sprintf("%skey:%04d", prefix, i)
		if err := cfgs[0].client.Do(env.ctx, cfgs[0].client.B().Set().Key(keys[i]).Value(value).Build()).Error(); err != nil {
			return nil, fmt.Errorf("preload: %w", err)
		}
	}
	key := func(g, i int) string { return keys[(g*131+i)%kvKeys] }

	ops := []string{"GET", "SET"}
	header := []string{"settings"}
	for _, op := range ops {
		for _, g := range env.Goroutines {
			header = append(header, fmt.Sprintf("%s g=%d", op, g))
		}
	}
	header = append(header, "geo. mean vs current")
	tput := Table{Caption: "Throughput, ops/s (median of rounds):", Header: header[:len(header)-1]}
	rel := Table{Caption: fmt.Sprintf("Throughput relative to the Kit's current default (delay %s, multiplex %d):", fmtDelay(cur.MaxFlushDelay), cur.PipelineMultiplex), Header: header}
	p99 := Table{Caption: "p99 latency:", Header: header[:len(header)-1]}

	res := make([][]Result, len(cfgs)) // [config][op*levels+level]
	for _, op := range ops {
		for _, g := range env.Goroutines {
			var vs []Variant
			for _, c := range cfgs {
				cli := c.client
				v := Variant{Name: c.name}
				if op == "GET" {
					v.Op = func(ctx context.Context, g, i int) error {
						return checkLen(cli.Do(ctx, cli.B().Get().Key(key(g, i)).Build()).ToString())
					}
				} else {
					v.Op = func(ctx context.Context, g, i int) error {
						return cli.Do(ctx, cli.B().Set().Key(key(g, i)).Value(value).Build()).Error()
					}
				}
				vs = append(vs, v)
			}
			env.Logf("tune %s, %d goroutines", op, g)
			for i, r := range env.Compare(g, vs...) {
				res[i] = append(res[i], r)
			}
			if env.ctx.Err() != nil {
				return nil, env.ctx.Err()
			}
		}
	}

	best, bestScore := 0, 0.0
	for i, c := range cfgs {
		trow, rrow, prow := []any{c.name}, []any{c.name}, []any{c.name}
		logSum := 0.0
		for j, r := range res[i] {
			trow = append(trow, fmtOps(r.OpsPerSec))
			prow = append(prow, fmtDur(r.P99))
			ratio := 1.0
			if curIdx >= 0 {
				ratio = r.Ratio(res[curIdx][j])
			}
			rrow = append(rrow, fmtRatio(ratio))
			logSum += math.Log(max(ratio, 1e-9))
		}
		score := math.Exp(logSum / float64(len(res[i])))
		rrow = append(rrow, fmtRatio(score))
		if score > bestScore {
			best, bestScore = i, score
		}
		tput.AddRow(trow...)
		rel.AddRow(rrow...)
		p99.AddRow(prow...)
	}
	sec := &Section{
		Intro: fmt.Sprintf(`
Exploratory, not part of the default run (`+"`go run . -suite tune`"+`). GET and SET of
%d-byte values through rueidis configured as the Kit configures it (OnInvalidations
hook, ConnWriteTimeout), varying MaxFlushDelay and PipelineMultiplex (-1 = one
connection; 0 = rueidis's default, log2(GOMAXPROCS) capped at 2, i.e. 1 = two
connections on this machine; n = 2^n connections), plus DisableAutoPipelining
(a pooled connection per call). %d rounds of %s per cell, median.`, kvValueSize, env.Rounds, env.Duration),
		Tables: []Table{tput, rel, p99},
		Notes: []string{fmt.Sprintf("Highest geometric mean over all cells relative to the current default: %s (%s).",
			cfgs[best].name, fmtRatio(bestScore))},
	}
	return sec, nil
}

func fmtDelay(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return fmt.Sprintf("%dµs", d.Microseconds())
}
