package main

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/ulule/limiter/v3"
	ulredis "github.com/ulule/limiter/v3/drivers/store/redis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/ratelimit"
)

func init() {
	register(Suite{Name: "ratelimit", Title: "Rate limits (ratelimit)", Run: runRateLimit})
}

// rlKeys users share the load; at 1000/s each, no contender refuses a
// call, so every one does its full allow path.
const rlKeys = 10000

func runRateLimit(env *Env) (*Section, error) {
	var cl closers
	defer cl.closeAll()
	ctx := env.Context()
	prefix := env.KeyPrefix("ratelimit")

	kit, err := env.OpenKit(redkit.Config{KeyPrefix: prefix + "redkit:"})
	if err != nil {
		return nil, err
	}
	cl.add(func() { kit.Close() })
	rk := ratelimit.New(kit, "bench", nil)
	cl.add(func() { rk.Close() })

	gr, err := env.OpenGoRedis(nil)
	if err != nil {
		return nil, err
	}
	cl.add(func() { gr.Close() })
	rr := redis_rate.NewLimiter(gr)
	store, err := ulredis.NewStoreWithOptions(gr, limiter.StoreOptions{Prefix: prefix + "ulule", MaxRetry: 3})
	if err != nil {
		return nil, fmt.Errorf("ulule store: %w", err)
	}
	ul := limiter.New(store, limiter.Rate{Period: time.Second, Limit: 1000})

	keys := make([]string, rlKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%05d", i)
	}
	key := func(g, i int) string { return keys[(g*7919+i)%rlKeys] }
	perSec := ratelimit.PerSecond(1000)
	perHour := ratelimit.PerHour(1_000_000)
	rrLimit := redis_rate.PerSecond(1000)
	check := func(ok bool, what string) error {
		if !ok {
			return fmt.Errorf("%s: refused", what)
		}
		return nil
	}
	variants := []Variant{
		{"redkit Allow", func(ctx context.Context, g, i int) error {
			r, err := rk.Allow(ctx, key(g, i), perSec)
			if err != nil {
				return err
			}
			return check(r.Allowed, "redkit")
		}},
		{"go-redis/redis_rate v10 (GCRA)", func(ctx context.Context, g, i int) error {
			r, err := rr.Allow(ctx, key(g, i), rrLimit)
			if err != nil {
				return err
			}
			return check(r.Allowed > 0, "redis_rate")
		}},
		{"ulule/limiter v3, go-redis store (fixed window)", func(ctx context.Context, g, i int) error {
			r, err := ul.Get(ctx, key(g, i))
			if err != nil {
				return err
			}
			return check(!r.Reached, "ulule")
		}},
		{"redkit AllowAll, 2 limits", func(ctx context.Context, g, i int) error {
			r, err := rk.AllowAll(ctx, key(g, i), perSec, perHour)
			if err != nil {
				return err
			}
			return check(r.Allowed, "redkit AllowAll")
		}},
	}
	_ = ctx

	t := ResultTable("Allow on 10,000 keys (1000/s each, so every call is allowed), calls/s:", "redkit Allow")
	var targets []Target
	for _, g := range []int{1, 16, 128} {
		env.Logf("ratelimit: %d goroutines", g)
		res := env.Compare(g, variants...)
		t.AddResults(res, 0)
		switch g {
		case 1:
			targets = append(targets, Target{What: "ratelimit Allow, 1 goroutine: redkit/redis_rate", Ratio: res[0].Ratio(res[1]), Min: 1.0})
		case 128:
			targets = append(targets,
				Target{What: "ratelimit Allow, 128 goroutines: redkit/redis_rate", Ratio: res[0].Ratio(res[1]), Min: 2.0},
				Target{What: "ratelimit AllowAll with 2 limits / Allow, 128 goroutines (cost ≤ 1.2x)", Ratio: res[3].Ratio(res[0]), Min: 1 / 1.2})
		}
	}
	return &Section{
		Intro: "One check per call of a key among 10,000. redkit: `ratelimit.Limiter.Allow` (GCRA, one " +
			"EVALSHA on one string per key: TIME, GET, SET PX; Redis's clock) and `AllowAll` with a per-second and a " +
			"per-hour limit in the same script run; go-redis/redis_rate v10 (GCRA, EVALSHA) and " +
			"ulule/limiter v3 with its go-redis store (fixed window, INCR + EXPIRE in a MULTI), both " +
			"over one go-redis v9 client with its defaults.",
		Tables:  []Table{t},
		Targets: targets,
		Notes: []string{
			"The AllowAll target is throughput of AllowAll over that of Allow: ≥ 0.83x means it costs at most 1.2x one Allow.",
		},
	}, nil
}
