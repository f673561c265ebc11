package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/pubsub"
	"github.com/redkit-go/redkit/redistest"
)

type event struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

// collector gathers delivered messages.
type collector[T any] struct {
	mu  sync.Mutex
	got []pubsub.Message[T]
}

func (c *collector[T]) handle(_ context.Context, m pubsub.Message[T]) error {
	c.mu.Lock()
	c.got = append(c.got, m)
	c.mu.Unlock()
	return nil
}

func (c *collector[T]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

func (c *collector[T]) all() []pubsub.Message[T] {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]pubsub.Message[T](nil), c.got...)
}

func TestTopicSingleNode(t *testing.T) {
	srv := redistest.Start(t, nil)
	tests := []struct {
		name string
		fn   func(t *testing.T, k *redkit.Kit)
	}{
		{"RoundTrip", testRoundTrip},
		{"Pattern", testPattern},
		{"DecodeError", testDecodeError},
		{"HandlerPanicAndError", testHandlerPanicAndError},
		{"SlowHandlerDrops", testSlowHandlerDrops},
		{"BlockPolicy", testBlockPolicy},
		{"CloseUnsubscribes", testCloseUnsubscribes},
		{"BadArguments", testBadArguments},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t, srv.Addr()))
		})
	}
}

func testRoundTrip(t *testing.T, k *redkit.Kit) {
	topic := pubsub.NewTopic[event](k, "orders:42")
	var c collector[event]
	sub, err := topic.Subscribe(t.Context(), c.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	n, err := topic.Publish(t.Context(), event{N: 1, Text: "one"})
	if err != nil || n != 1 {
		t.Fatalf("Publish = %d, %v; want 1 receiver", n, err)
	}
	if err := topic.PublishMany(t.Context(), event{N: 2}, event{N: 3}, event{N: 4}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "4 messages", func() bool { return c.len() == 4 })
	for i, m := range c.all() {
		if m.Channel != "orders:42" || m.Pattern != "" || m.Payload.N != i+1 {
			t.Errorf("message %d = %+v; want channel orders:42 (no prefix), N %d, in order", i, m, i+1)
		}
	}
	if got := c.all()[0].Payload.Text; got != "one" {
		t.Errorf("Payload.Text = %q, want one", got)
	}
	if st := sub.Stats(); st.Delivered != 4 || st.Gaps != 0 || st.Dropped != 0 {
		t.Errorf("Stats = %+v; want 4 delivered, no gap, no drop", st)
	}
	// The channel on Redis carries the prefix.
	r, err := k.Do(t.Context(), k.B().PubsubNumsub().Channel(k.Key("orders:42")).Build())
	if err != nil {
		t.Fatal(err)
	}
	m, _ := r.AsIntMap()
	if m[k.Key("orders:42")] != 1 {
		t.Errorf("PUBSUB NUMSUB %s = %v; want 1", k.Key("orders:42"), m)
	}
}

func testPattern(t *testing.T, k *redkit.Kit) {
	var c collector[string]
	sub, err := pubsub.SubscribePattern(t.Context(), k, "data:changes:*", c.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for _, ch := range []string{"data:changes:user", "data:other:x", "data:changes:order"} {
		if _, err := pubsub.NewTopic[string](k, ch).Publish(t.Context(), ch); err != nil {
			t.Fatal(err)
		}
	}
	// A channel of another prefix does not match, though it would without
	// the prefix.
	if _, err := k.Do(t.Context(), k.B().Publish().Channel("data:changes:raw").Message("x").Build()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "2 messages", func() bool { return c.len() == 2 })
	time.Sleep(50 * time.Millisecond)
	got := c.all()
	if len(got) != 2 {
		t.Fatalf("got %d messages, want 2: %+v", len(got), got)
	}
	for i, want := range []string{"data:changes:user", "data:changes:order"} {
		if got[i].Channel != want || got[i].Payload != want || got[i].Pattern != "data:changes:*" {
			t.Errorf("message %d = %+v; want channel and payload %q, pattern data:changes:*", i, got[i], want)
		}
	}
}

func testDecodeError(t *testing.T, k *redkit.Kit) {
	topic := pubsub.NewTopic[event](k, "typed")
	var c collector[event]
	sub, err := topic.Subscribe(t.Context(), c.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := k.Do(t.Context(), k.B().Publish().Channel(k.Key("typed")).Message("{not json").Build()); err != nil {
		t.Fatal(err)
	}
	if _, err := topic.Publish(t.Context(), event{N: 7}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the good message", func() bool { return c.len() == 1 })
	if got := c.all()[0].Payload.N; got != 7 {
		t.Errorf("delivered N = %d, want 7 (the bad payload is never delivered)", got)
	}
	if st := sub.Stats(); st.DecodeErrors != 1 || st.Delivered != 1 {
		t.Errorf("Stats = %+v; want 1 decode error, 1 delivered", st)
	}
}

func testHandlerPanicAndError(t *testing.T, k *redkit.Kit) {
	topic := pubsub.NewTopic[int](k, "fragile")
	var seen atomic.Int64
	sub, err := topic.Subscribe(t.Context(), func(_ context.Context, m pubsub.Message[int]) error {
		seen.Add(1)
		switch m.Payload {
		case 1:
			panic("boom")
		case 2:
			return errors.New("failed")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := topic.PublishMany(t.Context(), 1, 2, 3, 1, 4); err != nil {
		t.Fatal(err)
	}
	eventually(t, "5 deliveries", func() bool { return seen.Load() == 5 })
	if st := sub.Stats(); st.HandlerErrors != 3 || st.Delivered != 5 {
		t.Errorf("Stats = %+v; want 3 handler errors (2 panics, 1 error), 5 delivered", st)
	}
}

func testSlowHandlerDrops(t *testing.T, k *redkit.Kit) {
	topic := pubsub.NewTopic[int](k, "slow")
	release := make(chan struct{})
	var handled atomic.Int64
	sub, err := topic.SubscribeWith(t.Context(), func(ctx context.Context, m pubsub.Message[int]) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		handled.Add(1)
		return nil
	}, &pubsub.SubscribeOptions{Buffer: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	const n = 500
	msgs := make([]int, n)
	if err := topic.PublishMany(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}
	// The handler holds its batch and the buffer 4 more: everything else
	// is dropped, and counted.
	eventually(t, "drops", func() bool { return sub.Stats().Dropped >= n-8 })
	close(release)
	eventually(t, "every message handled or dropped", func() bool {
		st := sub.Stats()
		return st.Delivered+st.Dropped == n && handled.Load() == st.Delivered
	})
	// At most the batch the handler took and a full buffer (2×4).
	if st := sub.Stats(); st.Delivered > 8 || st.Delivered < 1 {
		t.Errorf("Stats = %+v; want between 1 and 8 delivered (buffer bounded)", st)
	}
}

func testBlockPolicy(t *testing.T, k *redkit.Kit) {
	topic := pubsub.NewTopic[int](k, "blocking")
	var mu sync.Mutex
	var got []int
	sub, err := topic.SubscribeWith(t.Context(), func(_ context.Context, m pubsub.Message[int]) error {
		time.Sleep(time.Millisecond)
		mu.Lock()
		got = append(got, m.Payload)
		mu.Unlock()
		return nil
	}, &pubsub.SubscribeOptions{Buffer: 1, Overflow: pubsub.Block})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	const n = 200
	msgs := make([]int, n)
	for i := range msgs {
		msgs[i] = i
	}
	if err := topic.PublishMany(t.Context(), msgs...); err != nil {
		t.Fatal(err)
	}
	eventually(t, "every message", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == n })
	for i, v := range got {
		if v != i {
			t.Fatalf("message %d = %d; want them in order", i, v)
		}
	}
	if st := sub.Stats(); st.Dropped != 0 {
		t.Errorf("Dropped = %d with Block, want 0", st.Dropped)
	}
}

func testCloseUnsubscribes(t *testing.T, k *redkit.Kit) {
	topic := pubsub.NewTopic[string](k, "closing")
	numsub := func() int64 {
		r, err := k.Do(t.Context(), k.B().PubsubNumsub().Channel(k.Key("closing")).Build())
		if err != nil {
			t.Fatal(err)
		}
		m, _ := r.AsIntMap()
		return m[k.Key("closing")]
	}
	var c collector[string]
	sub, err := topic.Subscribe(t.Context(), c.handle)
	if err != nil {
		t.Fatal(err)
	}
	if n := numsub(); n != 1 {
		t.Fatalf("NUMSUB = %d after Subscribe, want 1", n)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	_ = sub.Close() // idempotent
	eventually(t, "NUMSUB 0 after Close", func() bool { return numsub() == 0 })
	if n, err := topic.Publish(t.Context(), "after"); err != nil || n != 0 {
		t.Errorf("Publish after Close = %d, %v; want 0 receivers", n, err)
	}
}

func testBadArguments(t *testing.T, k *redkit.Kit) {
	ctx := t.Context()
	if _, err := pubsub.NewTopic[int](k, "").Publish(ctx, 1); !errors.Is(err, redkit.ErrEmptyKey) {
		t.Errorf("Publish on empty channel: %v, want ErrEmptyKey", err)
	}
	if _, err := pubsub.NewTopic[int](k, "x").Subscribe(ctx, nil); !errors.Is(err, pubsub.ErrInvalid) {
		t.Errorf("Subscribe(nil): %v, want ErrInvalid", err)
	}
	if _, err := pubsub.NewTopic[int](k, "x").SubscribeWith(ctx, func(context.Context, pubsub.Message[int]) error { return nil },
		&pubsub.SubscribeOptions{Buffer: -1}); !errors.Is(err, pubsub.ErrInvalid) {
		t.Errorf("SubscribeWith(Buffer -1): %v, want ErrInvalid", err)
	}
	if _, err := pubsub.SubscribePattern[int](ctx, k, "", nil); !errors.Is(err, redkit.ErrEmptyKey) {
		t.Errorf("SubscribePattern(\"\"): %v, want ErrEmptyKey", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := pubsub.NewTopic[int](k, "x").Subscribe(cctx, func(context.Context, pubsub.Message[int]) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Subscribe with a cancelled ctx: %v, want context.Canceled", err)
	}
}

// TestRestartResubscribes restarts the server under a subscription: the
// messages published once it is back arrive, on one subscription, and
// the gap is counted and reported.
func TestRestartResubscribes(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := open(t, srv.Addr())
	topic := pubsub.NewTopic[int](k, "live")
	var c collector[int]
	var gaps atomic.Int64
	var gapBeforeMsg atomic.Bool
	sub, err := topic.SubscribeWith(t.Context(), func(ctx context.Context, m pubsub.Message[int]) error {
		if m.Payload >= 1000 && gaps.Load() > 0 {
			gapBeforeMsg.Store(true)
		}
		return c.handle(ctx, m)
	}, &pubsub.SubscribeOptions{OnGap: func(_ context.Context, g pubsub.Gap) {
		if g.Channel != "live" || g.Gaps < 1 {
			t.Errorf("Gap = %+v; want channel live, Gaps ≥ 1", g)
		}
		gaps.Add(g.Gaps)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := topic.Publish(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first message", func() bool { return c.len() == 1 })

	srv.Restart()

	// Publish until one arrives: the subscription is back.
	next := 1000
	eventually(t, "a message after the restart", func() bool {
		if c.len() > 1 {
			return true
		}
		_, _ = topic.Publish(t.Context(), next)
		next++
		time.Sleep(20 * time.Millisecond)
		return false
	})
	st := sub.Stats()
	if st.Gaps < 1 {
		t.Errorf("Gaps = %d after a restart, want ≥ 1", st.Gaps)
	}
	eventually(t, "OnGap", func() bool { return gaps.Load() == sub.Stats().Gaps })
	if !gapBeforeMsg.Load() {
		t.Error("OnGap was not called before the first message after the gap")
	}
	r, err := k.Do(t.Context(), k.B().PubsubNumsub().Channel(k.Key("live")).Build())
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := r.AsIntMap(); m[k.Key("live")] != 1 {
		t.Errorf("PUBSUB NUMSUB = %v after the restart; want exactly 1 subscription", m)
	}
	r, err = k.Do(t.Context(), k.B().Arbitrary("PUBSUB", "CHANNELS").Build())
	if err != nil {
		t.Fatal(err)
	}
	if chs, _ := r.AsStrSlice(); len(chs) != 1 {
		t.Errorf("PUBSUB CHANNELS = %v; want one channel", chs)
	}
}

func TestSubscribeOptionsValidate(t *testing.T) {
	tests := []struct {
		opts *pubsub.SubscribeOptions
		want []string
	}{
		{nil, nil},
		{&pubsub.SubscribeOptions{}, nil},
		{&pubsub.SubscribeOptions{Buffer: 10, Overflow: pubsub.Block}, nil},
		{&pubsub.SubscribeOptions{Buffer: -1}, []string{"pubsub: SubscribeOptions.Buffer must not be negative (got -1)"}},
		{&pubsub.SubscribeOptions{Overflow: 9}, []string{"SubscribeOptions.Overflow must be Drop or Block (got 9)"}},
	}
	for i, tt := range tests {
		t.Run(strconv.Itoa(i), func(t *testing.T) { testutil.WantValid(t, tt.opts.Validate(), tt.want) })
	}
}

func TestStreamOptionsValidate(t *testing.T) {
	tests := []struct {
		opts *pubsub.StreamOptions
		want []string
	}{
		{nil, nil},
		{&pubsub.StreamOptions{MaxLen: 10, MaxDeliveries: 2, ClaimIdle: time.Second, Concurrency: 4, Batch: 8}, nil},
		{&pubsub.StreamOptions{MaxLen: -1, MaxDeliveries: -2, ClaimIdle: -time.Second, Concurrency: -3, Batch: -4}, []string{
			"StreamOptions.MaxLen must not be negative (got -1)",
			"StreamOptions.MaxDeliveries must not be negative (got -2)",
			"StreamOptions.ClaimIdle must not be negative (got -1s)",
			"StreamOptions.Concurrency must not be negative (got -3)",
			"StreamOptions.Batch must not be negative (got -4)",
		}},
	}
	for i, tt := range tests {
		t.Run(strconv.Itoa(i), func(t *testing.T) { testutil.WantValid(t, tt.opts.Validate(), tt.want) })
	}
}

func TestOverflowString(t *testing.T) {
	for o, want := range map[pubsub.Overflow]string{pubsub.Drop: "drop", pubsub.Block: "block", 7: "overflow(7)"} {
		if got := fmt.Sprint(o); got != want {
			t.Errorf("%d.String() = %q, want %q", o, got, want)
		}
	}
}
