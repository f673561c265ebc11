package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
)

func init() {
	register(Suite{Name: "kv", Title: "Raw GET and SET (kv)", Run: runKV})
}

const (
	kvKeys      = 1000
	kvValueSize = 100
)

var errShortValue = errors.New("kv: GET returned a value of the wrong size")

// kvClients are the contenders of the kv suite, open for its whole run.
type kvClients struct {
	kit       *redkit.Kit
	same, def rueidis.Client // rueidis with the Kit's engine settings; with its own defaults
	gr        *redis.Client
	ap        *redis.AutoPipeliner
	keys      []string
	value     string
	bgCx      context.Context // context.Background(): no deadline, never cancelled
	cancelCx  context.Context // cancellable, no deadline
}

func openKV(env *Env, cl *closers) (*kvClients, error) {
	c := &kvClients{value: strings.Repeat("v", kvValueSize)}
	prefix := env.KeyPrefix("kv")
	for i := range kvKeys {
		c.keys = append(c.keys, fmt.Sprintf("%skey:%04d", prefix, i))
	}
	var err error
	if c.kit, err = env.OpenKit(redkit.Config{}); err != nil {
		return nil, err
	}
	cl.add(func() { c.kit.Close() })
	if c.same, err = env.OpenRueidis(env.KitEngineOption(c.kit)); err != nil {
		return nil, err
	}
	cl.add(c.same.Close)
	if c.def, err = env.OpenRueidis(rueidis.ClientOption{}); err != nil {
		return nil, err
	}
	cl.add(c.def.Close)
	if c.gr, err = env.OpenGoRedis(nil); err != nil {
		return nil, err
	}
	cl.add(func() { c.gr.Close() })
	if c.ap, err = c.gr.AutoPipeline(); err != nil {
		return nil, fmt.Errorf("go-redis AutoPipeline: %w", err)
	}
	cl.add(func() { c.ap.Close() })
	c.bgCx = context.Background()
	ctx, cancel := context.WithCancel(context.Background())
	cl.add(cancel)
	c.cancelCx = ctx

	// Every key exists, so GET always returns 100 bytes.
	cmds := make(rueidis.Commands, 0, kvKeys)
	for _, k := range c.keys {
		cmds = append(cmds, c.same.B().Set().Key(k).Value(c.value).Build())
	}
	for _, r := range c.same.DoMulti(env.ctx, cmds...) {
		if err := r.Error(); err != nil {
			return nil, fmt.Errorf("preload: %w", err)
		}
	}
	return c, nil
}

// key spreads goroutines over the key space without allocating.
func (c *kvClients) key(g, i int) string { return c.keys[(g*131+i)%kvKeys] }

func checkLen(s string, err error) error {
	if err == nil && len(s) != kvValueSize {
		return errShortValue
	}
	return err
}

// Indexes of the variants in every kv comparison.
const (
	kvKit            = iota // the Kit, the harness's ctx (a deadline)
	kvKitCancel             // the Kit, a cancellable ctx without deadline
	kvKitBackground         // the Kit, ctx = context.Background()
	kvSame                  // rueidis with the Kit's engine settings: the baseline
	kvSameBackground        // the same, ctx = context.Background()
	kvDefault               // rueidis with its own defaults
	kvPool                  // go-redis, pool
	kvAuto                  // go-redis, AutoPipeline
)

func (c *kvClients) getVariants() []Variant {
	kit, same, def, gr, ap := c.kit, c.same, c.def, c.gr, c.ap
	return []Variant{
		kvKit: {"redkit Kit", func(ctx context.Context, g, i int) error {
			msg, err := kit.Do(ctx, kit.B().Get().Key(c.key(g, i)).Build())
			if err != nil {
				return err
			}
			return checkLen(msg.ToString())
		}},
		kvKitCancel: {"redkit Kit, cancellable ctx", func(_ context.Context, g, i int) error {
			msg, err := kit.Do(c.cancelCx, kit.B().Get().Key(c.key(g, i)).Build())
			if err != nil {
				return err
			}
			return checkLen(msg.ToString())
		}},
		kvKitBackground: {"redkit Kit, ctx Background", func(_ context.Context, g, i int) error {
			msg, err := kit.Do(c.bgCx, kit.B().Get().Key(c.key(g, i)).Build())
			if err != nil {
				return err
			}
			return checkLen(msg.ToString())
		}},
		kvSame: {"rueidis, Kit's engine settings", func(ctx context.Context, g, i int) error {
			return checkLen(same.Do(ctx, same.B().Get().Key(c.key(g, i)).Build()).ToString())
		}},
		kvSameBackground: {"rueidis, Kit's settings, ctx Background", func(_ context.Context, g, i int) error {
			return checkLen(same.Do(c.bgCx, same.B().Get().Key(c.key(g, i)).Build()).ToString())
		}},
		kvDefault: {"rueidis defaults", func(ctx context.Context, g, i int) error {
			return checkLen(def.Do(ctx, def.B().Get().Key(c.key(g, i)).Build()).ToString())
		}},
		kvPool: {"go-redis pool", func(ctx context.Context, g, i int) error {
			return checkLen(gr.Get(ctx, c.key(g, i)).Result())
		}},
		kvAuto: {"go-redis AutoPipeline", func(ctx context.Context, g, i int) error {
			return checkLen(ap.Get(ctx, c.key(g, i)).Result())
		}},
	}
}

func (c *kvClients) setVariants() []Variant {
	kit, same, def, gr, ap, v := c.kit, c.same, c.def, c.gr, c.ap, c.value
	return []Variant{
		kvKit: {"redkit Kit", func(ctx context.Context, g, i int) error {
			_, err := kit.Do(ctx, kit.B().Set().Key(c.key(g, i)).Value(v).Build())
			return err
		}},
		kvKitCancel: {"redkit Kit, cancellable ctx", func(_ context.Context, g, i int) error {
			_, err := kit.Do(c.cancelCx, kit.B().Set().Key(c.key(g, i)).Value(v).Build())
			return err
		}},
		kvKitBackground: {"redkit Kit, ctx Background", func(_ context.Context, g, i int) error {
			_, err := kit.Do(c.bgCx, kit.B().Set().Key(c.key(g, i)).Value(v).Build())
			return err
		}},
		kvSame: {"rueidis, Kit's engine settings", func(ctx context.Context, g, i int) error {
			return same.Do(ctx, same.B().Set().Key(c.key(g, i)).Value(v).Build()).Error()
		}},
		kvSameBackground: {"rueidis, Kit's settings, ctx Background", func(_ context.Context, g, i int) error {
			return same.Do(c.bgCx, same.B().Set().Key(c.key(g, i)).Value(v).Build()).Error()
		}},
		kvDefault: {"rueidis defaults", func(ctx context.Context, g, i int) error {
			return def.Do(ctx, def.B().Set().Key(c.key(g, i)).Value(v).Build()).Error()
		}},
		kvPool: {"go-redis pool", func(ctx context.Context, g, i int) error {
			return gr.Set(ctx, c.key(g, i), v, 0).Err()
		}},
		kvAuto: {"go-redis AutoPipeline", func(ctx context.Context, g, i int) error {
			return ap.Set(ctx, c.key(g, i), v, 0).Err()
		}},
	}
}

func runKV(env *Env) (*Section, error) {
	var cl closers
	defer cl.closeAll()
	c, err := openKV(env, &cl)
	if err != nil {
		return nil, err
	}
	eng := c.kit.Config().Engine
	sec := &Section{Intro: fmt.Sprintf(`
GET and SET of %d-byte values over %d keys, each goroutine calling in a loop
with a ctx that has a deadline (as an HTTP handler's; the same ctx for every
contender) unless said otherwise. Contenders: the redkit
Kit (`+"`kit.Do(ctx, kit.B().Get().Key(k).Build())`"+` with its defaults: MaxFlushDelay
%s, PipelineMultiplex %d, breaker, the CommandTimeout watchdog, and the
direct path for a call made alone); the Kit with a cancellable ctx that has
no deadline, and with context.Background(); plain rueidis with the Kit's
engine settings (the baseline), also with context.Background(); plain rueidis with its own defaults; go-redis v9 with
its default pool (PoolSize 10 × GOMAXPROCS = %d connections) and go-redis v9's
AutoPipeline (blocking face, DefaultBlockingAutoPipelineOptions) on the same
client. ops/s is the median of %d rounds of %s (order rotated each round);
p50/p99 are over all rounds; allocs/op counts every heap allocation in the
process per call; CPU/op is the bench process's CPU time per call.`, kvValueSize, kvKeys, eng.MaxFlushDelay, eng.PipelineMultiplex,
		c.gr.Options().PoolSize, env.Rounds, env.Duration)}

	ops := []struct {
		name     string
		variants []Variant
	}{{"GET", c.getVariants()}, {"SET", c.setVariants()}}
	results := map[string]map[int][]Result{}
	ratios := Table{
		Caption: "Ratios of throughput (ops/s):",
		Header: []string{"op", "goroutines", "Kit / rueidis same settings", "both with ctx Background", "Kit cancellable ctx / Kit",
			"Kit / go-redis pool", "Kit / go-redis AutoPipeline", "rueidis same / rueidis defaults"},
	}
	for _, op := range ops {
		t := ResultTable(op.name+":", "rueidis same settings")
		results[op.name] = map[int][]Result{}
		for _, g := range env.Goroutines {
			env.Logf("kv %s, %d goroutines", op.name, g)
			res := env.Compare(g, op.variants...)
			results[op.name][g] = res
			t.AddResults(res, kvSame)
			ratios.AddRow(op.name, g, fmtRatio(res[kvKit].Ratio(res[kvSame])), fmtRatio(res[kvKitBackground].Ratio(res[kvSameBackground])), fmtRatio(res[kvKitCancel].Ratio(res[kvKit])),
				fmtRatio(res[kvKit].Ratio(res[kvPool])), fmtRatio(res[kvKit].Ratio(res[kvAuto])),
				fmtRatio(res[kvSame].Ratio(res[kvDefault])))
			if env.ctx.Err() != nil {
				return nil, env.ctx.Err()
			}
		}
		sec.Tables = append(sec.Tables, t)
	}
	sec.Tables = append(sec.Tables, ratios)

	for _, op := range ops {
		for _, g := range env.Goroutines {
			res := results[op.name][g]
			sec.Targets = append(sec.Targets, Target{
				What:  fmt.Sprintf("%s, %d goroutines: redkit/rueidis (same settings)", op.name, g),
				Ratio: res[kvKit].Ratio(res[kvSame]), Min: 0.95})
		}
	}
	for _, op := range ops {
		if res, ok := results[op.name][128]; ok {
			sec.Targets = append(sec.Targets, Target{
				What: op.name + ", 128 goroutines: redkit defaults/go-redis AutoPipeline", Ratio: res[kvKit].Ratio(res[kvAuto]), Min: 1.4})
		}
		if res, ok := results[op.name][1]; ok {
			sec.Targets = append(sec.Targets, Target{
				What: op.name + ", 1 goroutine: redkit defaults/go-redis pool", Ratio: res[kvKit].Ratio(res[kvPool]), Min: 0.9})
		}
	}
	sec.Notes = append(kvOverheadNotes(results),
		"Every rueidis-based client is measured after concurrent use (clients.go: warm). rueidis serves a "+
			"connection on the caller's goroutine until it first sees two callers at once, then for good through "+
			"its pipelining goroutines (an OnInvalidations hook, as the Kit's, starts those at connect). At 1 "+
			"goroutine that hand-off between goroutines is what separates rueidis from go-redis's pool, which "+
			"writes and reads on the caller's goroutine; MaxFlushDelay plays no part there (rueidis skips the "+
			"delay with one caller). The Kit's direct path does what go-redis's pool does for a call made alone, "+
			"whatever its ctx: a pooled connection (rueidis DisableAutoPipelining), checked before each "+
			"write, its deadline the ctx's, a cancellation breaking the read; from 16 goroutines on nearly every "+
			"call overlaps another and takes the pipeline.")
	return sec, nil
}

// kvOverheadNotes sums up what the Kit's per-call work costs against
// rueidis with the same settings (with a deadline ctx and with
// Background), and a cancellable ctx without deadline against one with a
// deadline. Throughput change, extra allocations and
// extra CPU per call (the steadiest of the three on a busy machine).
func kvOverheadNotes(results map[string]map[int][]Result) []string {
	diff := func(a, b Result) string {
		return fmt.Sprintf("%+.0f%% ops/s, %+.1f allocs, %+.2fµs CPU", 100*(a.Ratio(b)-1),
			a.AllocsPerOp-b.AllocsPerOp, float64(a.CPUPerOp-b.CPUPerOp)/1e3)
	}
	var notes []string
	for _, op := range []string{"GET", "SET"} {
		var total, bg, cancel []string
		for _, g := range slices.Sorted(maps.Keys(results[op])) {
			res := results[op][g]
			total = append(total, fmt.Sprintf("%d: %s", g, diff(res[kvKit], res[kvSame])))
			bg = append(bg, fmt.Sprintf("%d: %s", g, diff(res[kvKitBackground], res[kvSameBackground])))
			cancel = append(cancel, fmt.Sprintf("%d: %s", g, diff(res[kvKitCancel], res[kvKit])))
		}
		notes = append(notes,
			fmt.Sprintf("%s, Kit vs rueidis with the same settings, both with a deadline ctx, by goroutines: %s.", op, strings.Join(total, "; ")),
			fmt.Sprintf("%s, the same with ctx = Background: %s.", op, strings.Join(bg, "; ")),
			fmt.Sprintf("%s, a cancellable ctx without deadline vs one with a deadline, both through the Kit: %s.", op, strings.Join(cancel, "; ")))
	}
	return notes
}
