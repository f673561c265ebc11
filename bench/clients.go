package main

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
)

// Clients every suite can compare with. Each constructor connects to
// env.Addr and fails when Redis does not answer; the caller closes the
// result. Suites keep all their clients open for the whole suite and
// measure them in turns (env.Compare), so connection counts stay the same
// across variants.

// OpenKit opens a Kit on env.Addr with cfg (Addrs and AbortOnConnectFail
// are set here; leave the rest zero for redkit's defaults).
func (env *Env) OpenKit(cfg redkit.Config) (*redkit.Kit, error) {
	cfg.Addrs = []string{env.Addr}
	cfg.AbortOnConnectFail = true
	k, err := redkit.Open(env.ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open redkit: %w", err)
	}
	if err := warm(env.ctx, k.Client()); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// KitEngineOption is the rueidis option a Kit with cfg's engine settings
// uses for the hot path: the same MaxFlushDelay, PipelineMultiplex,
// DisableAutoPipelining, ConnWriteTimeout and an OnInvalidations hook
// (which makes rueidis start its pipelining goroutines on connect, as the
// Kit's does). Retry, breaker and timeouts of the Kit are not engine
// settings and are left out: that difference is what the Kit costs.
func (env *Env) KitEngineOption(k *redkit.Kit) rueidis.ClientOption {
	c := k.Config()
	return rueidis.ClientOption{
		InitAddress: []string{env.Addr},
		// The Kit's CommandTimeout watchdog (kit.go: watchdog): PING an
		// idle connection every CommandTimeout/4, give up after
		// CommandTimeout.
		Dialer:                net.Dialer{Timeout: c.ConnectTimeout, KeepAlive: min(c.KeepAlive, c.CommandTimeout/4)},
		MaxFlushDelay:         c.Engine.MaxFlushDelay,
		PipelineMultiplex:     c.Engine.PipelineMultiplex,
		DisableAutoPipelining: c.Engine.DisableAutoPipelining,
		DisableCache:          c.ClientCache.Disable,
		CacheSizeEachConn:     c.ClientCache.MaxBytes,
		ConnWriteTimeout:      c.CommandTimeout,
		OnInvalidations:       func([]rueidis.RedisMessage) {},
	}
}

// OpenRueidis opens a rueidis client with opt (InitAddress is set here
// when empty). rueidis{InitAddress: addr} alone is "rueidis defaults".
func (env *Env) OpenRueidis(opt rueidis.ClientOption) (rueidis.Client, error) {
	if len(opt.InitAddress) == 0 {
		opt.InitAddress = []string{env.Addr}
	}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("open rueidis: %w", err)
	}
	if err := warm(env.ctx, c); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// warm sends a burst of concurrent PINGs. rueidis runs a connection in a
// synchronous mode until it first sees two callers at once, then switches
// for good to its pipelining goroutines; a service's steady state is the
// latter, so every rueidis-based client is measured in it.
func warm(ctx context.Context, c rueidis.Client) error {
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			for range 8 {
				if err := c.Do(ctx, c.B().Ping().Build()).Error(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("warm up: %w", err)
	}
	return nil
}

// OpenGoRedis opens a go-redis v9 client with opt (Addr is set here;
// nil opt = go-redis defaults: PoolSize 10*GOMAXPROCS, RESP3).
func (env *Env) OpenGoRedis(opt *redis.Options) (*redis.Client, error) {
	if opt == nil {
		opt = &redis.Options{}
	}
	o := *opt
	o.Addr = env.Addr
	c := redis.NewClient(&o)
	if err := c.Ping(env.ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("open go-redis: %w", err)
	}
	return c, nil
}

// closers collects what a suite must close: `var cl closers; defer
// cl.closeAll()`, then cl.add(...) after each open. closeAll runs them in
// reverse order, ignoring errors (the suite is done with them). Its
// pointer receiver matters: the deferred call must see what was added
// after the defer statement.
type closers []func()

func (c *closers) add(f func()) { *c = append(*c, f) }

func (c *closers) closeAll() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
	*c = nil
}
