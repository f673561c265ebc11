package engine

import (
	"context"
	"time"

	"github.com/redis/rueidis"
)

// Client is the route as a rueidis.Client: what Kit.Client returns, so
// that a user's raw commands are admitted by the breaker, counted,
// classified and sent like redkit's own. Errors are the engine's: a
// transport failure is an *Error with Kind ErrUnavailable (or ErrClosed),
// a reply from Redis is the engine's *rueidis.RedisError as usual.
//
// The value works before the engine connects (its calls fail with
// ErrUnavailable) and keeps working once it does. Close does nothing: the
// Kit owns the connection.
type Client struct {
	e *Engine
	// node, when set, pins the calls to one node of a cluster (an entry
	// of Nodes); nil follows the engine's current client.
	node rueidis.Client
}

var _ rueidis.Client = (*Client)(nil)

// B returns a command builder.
func (c *Client) B() rueidis.Builder {
	if c.node != nil {
		return c.node.B()
	}
	return c.e.B()
}

// Do runs cmd on the route.
func (c *Client) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	if c.node == nil {
		return c.e.DoResult(ctx, cmd)
	}
	_, done, err := c.e.begin(1)
	if err != nil {
		return rueidis.NewErrorResult(err)
	}
	c.e.enter(1)
	r := c.node.Do(ctx, cmd)
	c.e.leave(1)
	if err := r.NonRedisError(); err != nil {
		return rueidis.NewErrorResult(c.e.finish(ctx, done, err))
	}
	c.e.brk.report(done, nil)
	return r
}

// DoMulti pipelines cmds on the route.
func (c *Client) DoMulti(ctx context.Context, multi ...rueidis.Completed) []rueidis.RedisResult {
	if len(multi) == 0 {
		return nil
	}
	if c.node == nil {
		res, err := c.e.DoMulti(ctx, multi...)
		if err != nil {
			return errorResults(len(multi), err)
		}
		return res
	}
	n := int64(len(multi))
	_, done, err := c.e.begin(n)
	if err != nil {
		return errorResults(len(multi), err)
	}
	c.e.enter(n)
	res := c.node.DoMulti(ctx, multi...)
	c.e.leave(n)
	c.e.finishMulti(ctx, done, res)
	return res
}

func errorResults(n int, err error) []rueidis.RedisResult {
	res := make([]rueidis.RedisResult, n)
	for i := range res {
		res[i] = rueidis.NewErrorResult(err)
	}
	return res
}

// DoCache runs a cacheable read through client-side caching on the route.
func (c *Client) DoCache(ctx context.Context, cmd rueidis.Cacheable, ttl time.Duration) rueidis.RedisResult {
	if c.node != nil {
		return c.node.DoCache(ctx, cmd, ttl)
	}
	msg, err := c.e.DoCache(ctx, cmd, ttl)
	if err != nil && !isReplyOrNil(err) {
		return rueidis.NewErrorResult(err)
	}
	return rueidis.NewResult(msg, err)
}

// DoMultiCache is DoCache for several reads.
func (c *Client) DoMultiCache(ctx context.Context, multi ...rueidis.CacheableTTL) []rueidis.RedisResult {
	if c.node != nil {
		return c.node.DoMultiCache(ctx, multi...)
	}
	res, err := c.e.DoMultiCache(ctx, multi...)
	if err != nil {
		return errorResults(len(multi), err)
	}
	return res
}

// Receive subscribes on the route (see Engine.Receive).
func (c *Client) Receive(ctx context.Context, sub rueidis.Completed, fn func(rueidis.PubSubMessage)) error {
	if c.node != nil {
		_, done, err := c.e.begin(1)
		if err != nil {
			return err
		}
		c.e.enter(1) // counted, not kept in flight: see Engine.Receive
		c.e.leave(1)
		err = c.node.Receive(ctx, sub, fn)
		return c.e.finish(ctx, done, err)
	}
	return c.e.Receive(ctx, sub, fn)
}

// DoStream and DoMultiStream read a reply as a stream. rueidis has no way
// to build a stream that carries an error, so these are counted but not
// admitted by the breaker; before the engine connects they fail with the
// engine client's own error.
func (c *Client) DoStream(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResultStream {
	c.e.enter(1)
	defer c.e.leave(1)
	return c.target().DoStream(ctx, cmd)
}

// DoMultiStream: see DoStream.
func (c *Client) DoMultiStream(ctx context.Context, multi ...rueidis.Completed) rueidis.MultiRedisResultStream {
	n := int64(len(multi))
	c.e.enter(n)
	defer c.e.leave(n)
	return c.target().DoMultiStream(ctx, multi...)
}

func (c *Client) target() rueidis.Client {
	if c.node != nil {
		return c.node
	}
	if cur := c.e.current(); cur != nil {
		return cur
	}
	return c.e.placeholder
}

// Dedicated runs fn with a dedicated connection whose calls take the
// route; the breaker admits the whole of fn as one call.
func (c *Client) Dedicated(fn func(rueidis.DedicatedClient) error) error {
	b, done, err := c.e.begin(1)
	if err != nil {
		return err
	}
	target := b.c
	if c.node != nil {
		target = c.node
	}
	err = target.Dedicated(func(dc rueidis.DedicatedClient) error {
		return fn(&dedicated{e: c.e, dc: dc})
	})
	if err != nil && !isReplyOrNil(err) && isTransport(err) {
		return c.e.finish(context.Background(), done, err)
	}
	c.e.brk.report(done, nil)
	return err
}

// Dedicate returns a dedicated connection whose calls take the route, and
// the func that gives it back.
func (c *Client) Dedicate() (rueidis.DedicatedClient, func()) {
	dc, cancel := c.target().Dedicate()
	return &dedicated{e: c.e, dc: dc}, cancel
}

// Nodes returns the engine's nodes, each as a Client pinned to it on the
// route (for commands a cluster must get on every master, such as SCAN).
func (c *Client) Nodes() map[string]rueidis.Client {
	cur := c.e.current()
	if cur == nil {
		return map[string]rueidis.Client{}
	}
	nodes := cur.Nodes()
	out := make(map[string]rueidis.Client, len(nodes))
	for addr, n := range nodes {
		out[addr] = &Client{e: c.e, node: n}
	}
	return out
}

// Mode reports the engine client's mode; before the engine connects,
// the placeholder's (standalone).
func (c *Client) Mode() rueidis.ClientMode { return c.target().Mode() }

// Close does nothing: the Kit owns the connection; close the Kit instead.
func (c *Client) Close() {}

// dedicated is a rueidis.DedicatedClient whose calls are counted and
// classified by the engine.
type dedicated struct {
	e  *Engine
	dc rueidis.DedicatedClient
}

func (d *dedicated) B() rueidis.Builder { return d.dc.B() }

func (d *dedicated) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	d.e.enter(1)
	r := d.dc.Do(ctx, cmd)
	d.e.leave(1)
	if err := r.NonRedisError(); err != nil {
		return rueidis.NewErrorResult(d.e.classify(ctx, err))
	}
	return r
}

func (d *dedicated) DoMulti(ctx context.Context, multi ...rueidis.Completed) []rueidis.RedisResult {
	n := int64(len(multi))
	d.e.enter(n)
	res := d.dc.DoMulti(ctx, multi...)
	d.e.leave(n)
	for i := range res {
		if err := res[i].NonRedisError(); err != nil {
			res[i] = rueidis.NewErrorResult(d.e.classify(ctx, err))
		}
	}
	return res
}

func (d *dedicated) Receive(ctx context.Context, sub rueidis.Completed, fn func(rueidis.PubSubMessage)) error {
	d.e.enter(1) // counted, not kept in flight: see Engine.Receive
	d.e.leave(1)
	err := d.dc.Receive(ctx, sub, fn)
	if err != nil && !isReplyOrNil(err) {
		return d.e.classify(ctx, err)
	}
	return err
}

func (d *dedicated) SetPubSubHooks(h rueidis.PubSubHooks) <-chan error { return d.dc.SetPubSubHooks(h) }
func (d *dedicated) Close()                                            { d.dc.Close() }
func (d *dedicated) SetOnInvalidations(fn func([]rueidis.RedisMessage)) <-chan error {
	return d.dc.SetOnInvalidations(fn)
}
