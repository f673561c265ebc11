package redkit

import (
	"context"
	"time"

	"github.com/redis/rueidis"
)

// lazyClient is the rueidis.Client handed out by Kit.Client: it forwards
// to the connected engine client, or to a closed placeholder (whose calls
// fail with rueidis.ErrClosing) while the Kit is still connecting, so the
// value a caller holds keeps working once the connection is made.
type lazyClient struct{ k *Kit }

var _ rueidis.Client = (*lazyClient)(nil)

func (l *lazyClient) c() rueidis.Client {
	if c := l.k.current(); c != nil {
		return c
	}
	return l.k.dead
}

func (l *lazyClient) B() rueidis.Builder { return l.c().B() }
func (l *lazyClient) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	return l.c().Do(ctx, cmd)
}
func (l *lazyClient) DoMulti(ctx context.Context, multi ...rueidis.Completed) []rueidis.RedisResult {
	return l.c().DoMulti(ctx, multi...)
}
func (l *lazyClient) Receive(ctx context.Context, sub rueidis.Completed, fn func(rueidis.PubSubMessage)) error {
	return l.c().Receive(ctx, sub, fn)
}
func (l *lazyClient) DoCache(ctx context.Context, cmd rueidis.Cacheable, ttl time.Duration) rueidis.RedisResult {
	return l.c().DoCache(ctx, cmd, ttl)
}
func (l *lazyClient) DoMultiCache(ctx context.Context, multi ...rueidis.CacheableTTL) []rueidis.RedisResult {
	return l.c().DoMultiCache(ctx, multi...)
}
func (l *lazyClient) DoStream(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResultStream {
	return l.c().DoStream(ctx, cmd)
}
func (l *lazyClient) DoMultiStream(ctx context.Context, multi ...rueidis.Completed) rueidis.MultiRedisResultStream {
	return l.c().DoMultiStream(ctx, multi...)
}
func (l *lazyClient) Dedicated(fn func(rueidis.DedicatedClient) error) error {
	return l.c().Dedicated(fn)
}
func (l *lazyClient) Dedicate() (rueidis.DedicatedClient, func()) { return l.c().Dedicate() }
func (l *lazyClient) Nodes() map[string]rueidis.Client            { return l.c().Nodes() }
func (l *lazyClient) Mode() rueidis.ClientMode                    { return l.c().Mode() }

// Close does nothing: the Kit owns the connection; close the Kit instead.
func (l *lazyClient) Close() {}
