package pubsub_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/pubsub"
	"github.com/redkit-go/redkit/redistest"
)

// streamEnv is where a stream suite test runs.
type streamEnv struct {
	k     *redkit.Kit
	addrs []string
}

var streamSuite = []struct {
	name string
	fn   func(t *testing.T, e streamEnv)
}{
	{"RoundTrip", testStreamRoundTrip},
	{"Concurrency", testStreamConcurrency},
	{"Poison", testStreamPoison},
	{"DecodeError", testStreamDecodeError},
	{"TrimmedWhilePending", testStreamTrimmedWhilePending},
	{"GracefulStopReleases", testStreamGracefulStop},
	{"MaxLen", testStreamMaxLen},
	{"BadArguments", testStreamBadArguments},
	{"ConsumerProcessKilled", testStreamConsumerKilled},
}

func TestStreamSingleNode(t *testing.T) {
	srv := redistest.Start(t, nil)
	for _, tt := range streamSuite {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, streamEnv{k: open(t, srv.Addr()), addrs: []string{srv.Addr()}})
		})
	}
}

func TestStreamCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0)
	addrs := cl.Addrs()[:1]
	for _, tt := range streamSuite {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := streamEnv{k: open(t, addrs...), addrs: addrs}
			if e.k.Mode() != "cluster" {
				t.Fatalf("Mode = %q, want cluster", e.k.Mode())
			}
			tt.fn(t, e)
		})
	}
}

// consume runs s.Consume in a goroutine until the returned stop is called
// (stop waits for Consume to return and checks its error).
func consume[T any](t *testing.T, s *pubsub.Stream[T], group, consumer string, h pubsub.Handler[T]) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Consume(ctx, group, consumer, h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Consume returned %v, want context.Canceled", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func info[T any](t *testing.T, s *pubsub.Stream[T], group string) pubsub.StreamInfo {
	t.Helper()
	in, err := s.Info(t.Context(), group)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func publishN(t *testing.T, s *pubsub.Stream[int], from, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for i := from; i < from+n; i++ {
		id, err := s.Publish(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func testStreamRoundTrip(t *testing.T, e streamEnv) {
	s := pubsub.NewStream[event](e.k, "orders", nil)
	if got := info(t, s, "kitchen"); got != (pubsub.StreamInfo{}) {
		t.Errorf("Info of a missing stream = %+v, want zeros", got)
	}
	for i := range 20 {
		if _, err := s.Publish(t.Context(), event{N: i, Text: "order"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := info(t, s, "kitchen"); got.Length != 20 || got.Lag != 20 {
		t.Errorf("Info before the group exists = %+v, want Length 20, Lag 20", got)
	}
	var c collector[event]
	stop := consume(t, s, "kitchen", "k1", c.handle)
	eventually(t, "20 entries", func() bool { return c.len() == 20 })
	for i, m := range c.all() {
		if m.Payload.N != i || m.Channel != "orders" || m.ID == "" || m.Deliveries != 1 {
			t.Errorf("entry %d = %+v; want N %d in order, channel orders, an ID, 1 delivery", i, m, i)
		}
	}
	eventually(t, "acks", func() bool { return info(t, s, "kitchen").Pending == 0 })
	in := info(t, s, "kitchen")
	if in.Length != 20 || in.Lag != 0 || in.Consumers != 1 {
		t.Errorf("Info while consuming = %+v; want Length 20, Lag 0, 1 consumer", in)
	}
	stop()
	if in := info(t, s, "kitchen"); in.Consumers != 0 {
		t.Errorf("Consumers = %d after a stop with nothing pending, want 0 (deleted)", in.Consumers)
	}
	if st := s.Stats(); st.Published != 20 || st.Delivered != 20 || st.Acked != 20 {
		t.Errorf("Stats = %+v; want 20 published, delivered, acked", st)
	}
	// A second group reads the stream from its start.
	var c2 collector[event]
	consume(t, s, "audit", "a1", c2.handle)
	eventually(t, "20 entries for a new group", func() bool { return c2.len() == 20 })
	// The key carries the prefix and a hash tag.
	if want := e.k.Key("stream", "{orders}"); s.Key() != want {
		t.Errorf("Key = %q, want %q", s.Key(), want)
	}
}

func testStreamConcurrency(t *testing.T, e streamEnv) {
	s := pubsub.NewStream[int](e.k, "jobs", &pubsub.StreamOptions{Concurrency: 8, Batch: 16})
	const n = 300
	publishN(t, s, 0, n)
	var mu sync.Mutex
	seen := map[int]int{}
	var running, peak atomic.Int64
	h := func(_ context.Context, m pubsub.Message[int]) error {
		r := running.Add(1)
		for {
			p := peak.Load()
			if r <= p || peak.CompareAndSwap(p, r) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		running.Add(-1)
		mu.Lock()
		seen[m.Payload]++
		mu.Unlock()
		return nil
	}
	consume(t, s, "g", "c1", h)
	consume(t, s, "g", "c2", h)
	eventually(t, "every entry", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == n })
	eventually(t, "acks", func() bool { return info(t, s, "g").Pending == 0 })
	mu.Lock()
	defer mu.Unlock()
	for v, c := range seen {
		if c != 1 {
			t.Errorf("entry %d handled %d times, want once", v, c)
		}
	}
	if p := peak.Load(); p < 2 || p > 16 {
		t.Errorf("peak concurrency %d; want between 2 and 16 (2 consumers × 8)", p)
	}
}

func testStreamPoison(t *testing.T, e streamEnv) {
	s := pubsub.NewStream[int](e.k, "poison", &pubsub.StreamOptions{MaxDeliveries: 3, ClaimIdle: 100 * time.Millisecond})
	publishN(t, s, 0, 5)
	var mu sync.Mutex
	deliveries := map[int][]int64{}
	consume(t, s, "g", "c1", func(_ context.Context, m pubsub.Message[int]) error {
		mu.Lock()
		deliveries[m.Payload] = append(deliveries[m.Payload], m.Deliveries)
		mu.Unlock()
		if m.Payload == 3 {
			return errors.New("cannot handle 3")
		}
		return nil
	})
	dead := s.DeadLetters()
	eventually(t, "a dead letter", func() bool { return info(t, dead, "x").Length == 1 })
	var c collector[int]
	consume(t, dead, "ops", "o1", c.handle)
	eventually(t, "the dead letter", func() bool { return c.len() == 1 })
	m := c.all()[0]
	if m.Payload != 3 || m.Channel != "poison:dead" || !strings.Contains(m.Reason, "delivered 3 times") || !strings.Contains(m.Reason, "cannot handle 3") {
		t.Errorf("dead letter = %+v; want payload 3, channel poison:dead, a reason naming 3 deliveries and the error", m)
	}
	eventually(t, "nothing pending", func() bool { return info(t, s, "g").Pending == 0 })
	mu.Lock()
	defer mu.Unlock()
	if got := deliveries[3]; len(got) != 3 || got[0] != 1 || got[2] < 3 {
		t.Errorf("deliveries of the poison entry = %v; want 3, counted 1, 2, 3", got)
	}
	for v := range 5 {
		if v != 3 && len(deliveries[v]) != 1 {
			t.Errorf("entry %d delivered %d times, want once", v, len(deliveries[v]))
		}
	}
	if st := s.Stats(); st.DeadLettered != 1 || st.Failed != 3 {
		t.Errorf("Stats = %+v; want 1 dead-lettered, 3 failed", st)
	}
}

func testStreamDecodeError(t *testing.T, e streamEnv) {
	s := pubsub.NewStream[event](e.k, "mixed", nil)
	if _, err := e.k.Do(t.Context(), e.k.B().Xadd().Key(s.Key()).Id("*").FieldValue().FieldValue("d", "{bad").Build()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(t.Context(), event{N: 1}); err != nil {
		t.Fatal(err)
	}
	var c collector[event]
	consume(t, s, "g", "c", c.handle)
	eventually(t, "the good entry", func() bool { return c.len() == 1 })
	eventually(t, "the bad entry dead-lettered", func() bool { return info(t, s.DeadLetters(), "x").Length == 1 })
	eventually(t, "nothing pending", func() bool { return info(t, s, "g").Pending == 0 })
	if st := s.Stats(); st.DecodeErrors != 1 || st.DeadLettered != 1 {
		t.Errorf("Stats = %+v; want 1 decode error, dead-lettered", st)
	}
	r, err := e.k.Do(t.Context(), e.k.B().Xrange().Key(s.DeadLetters().Key()).Start("-").End("+").Build())
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := r.AsXRange()
	if len(entries) != 1 || entries[0].FieldValues["d"] != "{bad" || !strings.HasPrefix(entries[0].FieldValues["reason"], "decode:") {
		t.Errorf("dead-letter stream = %+v; want the raw payload with a decode reason", entries)
	}
}

func testStreamTrimmedWhilePending(t *testing.T, e streamEnv) {
	s := pubsub.NewStream[int](e.k, "trimmed", &pubsub.StreamOptions{ClaimIdle: 100 * time.Millisecond, MaxDeliveries: 100})
	publishN(t, s, 0, 10)
	var calls atomic.Int64
	stop := consume(t, s, "g", "c1", func(context.Context, pubsub.Message[int]) error {
		calls.Add(1)
		return errors.New("not now")
	})
	eventually(t, "10 failures", func() bool { return calls.Load() >= 10 })
	stop()
	if in := info(t, s, "g"); in.Pending != 10 || in.Consumers != 1 {
		t.Fatalf("Info = %+v; want 10 pending on the kept consumer", in)
	}
	if _, err := e.k.Do(t.Context(), e.k.B().Xtrim().Key(s.Key()).Maxlen().Threshold("0").Build()); err != nil {
		t.Fatal(err)
	}
	calls.Store(0)
	consume(t, s, "g", "c2", func(context.Context, pubsub.Message[int]) error {
		calls.Add(1)
		return nil
	})
	eventually(t, "trimmed entries acknowledged", func() bool { return info(t, s, "g").Pending == 0 })
	if st := s.Stats(); st.Trimmed != 10 {
		t.Errorf("Trimmed = %d, want 10", st.Trimmed)
	}
	time.Sleep(300 * time.Millisecond)
	if n := calls.Load(); n != 0 {
		t.Errorf("handler called %d times for trimmed entries, want 0", n)
	}
}

func testStreamGracefulStop(t *testing.T, e streamEnv) {
	// A long ClaimIdle: released entries must not wait for it.
	s := pubsub.NewStream[int](e.k, "graceful", &pubsub.StreamOptions{ClaimIdle: time.Hour, Batch: 20})
	publishN(t, s, 0, 20)
	started := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	seen := map[int]int{}
	stop := consume(t, s, "g", "slow", func(context.Context, pubsub.Message[int]) error {
		once.Do(func() { close(started) })
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		seen[-1]++
		mu.Unlock()
		return nil
	})
	<-started
	stop() // finishes the running handler, releases the rest
	mu.Lock()
	handled := seen[-1]
	mu.Unlock()
	if handled < 1 || handled >= 20 {
		t.Fatalf("the stopped consumer handled %d entries, want at least the running one and not all", handled)
	}
	if in := info(t, s, "g"); in.Pending != int64(20-handled) {
		t.Fatalf("Pending = %d after the stop, want %d (handled entries acknowledged)", in.Pending, 20-handled)
	}
	var c collector[int]
	consume(t, s, "g", "fast", c.handle)
	eventually(t, "the released entries, long before ClaimIdle", func() bool { return c.len() == 20-handled })
	eventually(t, "nothing pending", func() bool { return info(t, s, "g").Pending == 0 })
}

func testStreamMaxLen(t *testing.T, e streamEnv) {
	s := pubsub.NewStream[int](e.k, "capped", &pubsub.StreamOptions{MaxLen: 100})
	vs := make([]int, 100)
	for range 10 {
		ids, err := s.PublishMany(t.Context(), vs...)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 100 || ids[0] == "" || ids[0] >= ids[99] {
			t.Fatalf("PublishMany IDs = %d, first %q, last %q; want 100 increasing", len(ids), ids[0], ids[99])
		}
	}
	if st := s.Stats(); st.Published != 1000 {
		t.Errorf("Published = %d, want 1000", st.Published)
	}
	if in := info(t, s, "g"); in.Length < 100 || in.Length > 300 {
		t.Errorf("Length = %d with MaxLen 100 (approximate), want about 100", in.Length)
	}
}

func testStreamBadArguments(t *testing.T, e streamEnv) {
	ctx := t.Context()
	h := func(context.Context, pubsub.Message[int]) error { return nil }
	s := pubsub.NewStream[int](e.k, "args", nil)
	for _, tc := range []struct {
		group, consumer string
		h               pubsub.Handler[int]
		want            error
	}{
		{"", "c", h, redkit.ErrEmptyKey},
		{"g", "", h, redkit.ErrEmptyKey},
		{"g", "c", nil, pubsub.ErrInvalid},
	} {
		if err := s.Consume(ctx, tc.group, tc.consumer, tc.h); !errors.Is(err, tc.want) {
			t.Errorf("Consume(%q, %q): %v, want %v", tc.group, tc.consumer, err, tc.want)
		}
	}
	if _, err := pubsub.NewStream[int](e.k, "", nil).Publish(ctx, 1); !errors.Is(err, redkit.ErrEmptyKey) {
		t.Errorf("Publish on an empty name: %v, want ErrEmptyKey", err)
	}
	if _, err := s.Info(ctx, ""); !errors.Is(err, redkit.ErrEmptyKey) {
		t.Errorf("Info(\"\"): %v, want ErrEmptyKey", err)
	}
	if _, err := e.k.Do(ctx, e.k.B().Set().Key(e.k.Key("stream", "{wrong}")).Value("x").Build()); err != nil {
		t.Fatal(err)
	}
	if _, err := pubsub.NewStream[int](e.k, "wrong", nil).Publish(ctx, 1); !errors.Is(err, redkit.ErrWrongType) {
		t.Errorf("Publish on a string key: %v, want ErrWrongType", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("NewStream with invalid options did not panic")
			}
		}()
		pubsub.NewStream[int](e.k, "x", &pubsub.StreamOptions{MaxLen: -1})
	}()
}

// TestStreamAOFRestart publishes with the append-only file on (fsync
// always), kills the server (no shutdown save) and restarts it: every
// entry whose Publish returned is still there, and consumed.
func TestStreamAOFRestart(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Persistence: true, Args: []string{"appendfsync always"}})
	k := open(t, srv.Addr())
	s := pubsub.NewStream[int](k, "durable", nil)
	ids := publishN(t, s, 0, 200)
	srv.Kill()
	srv.Restart()
	eventually(t, "the Kit reconnected", func() bool { _, err := k.Ping(t.Context()); return err == nil })
	if in := info(t, s, "g"); in.Length != 200 {
		t.Fatalf("Length = %d after a kill and restart, want 200", in.Length)
	}
	var c collector[int]
	consume(t, s, "g", "c", c.handle)
	eventually(t, "200 entries", func() bool { return c.len() == 200 })
	for i, m := range c.all() {
		if m.ID != ids[i] || m.Payload != i {
			t.Fatalf("entry %d = %+v; want ID %s, payload %d", i, m, ids[i], i)
		}
	}
}

// TestStreamStopWhileAckInFlight stops a consumer while the reply to its
// acknowledgements is still on the wire (the fault proxy delays it):
// Redis has applied them, so the stop must count them, not send them
// again and count the zero that second XACK returns.
func TestStreamStopWhileAckInFlight(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	p := redistest.NewProxy(t, srv.Addr())
	slow := pubsub.NewStream[int](open(t, p.Addr()), "inflight", nil)
	direct := pubsub.NewStream[int](open(t, srv.Addr()), "inflight", nil)
	publishN(t, direct, 0, 20)
	var c collector[int]
	p.SetLatency(300 * time.Millisecond)
	stop := consume(t, slow, "g", "c", c.handle)
	eventually(t, "20 entries", func() bool { return c.len() == 20 })
	eventually(t, "acks applied", func() bool { return info(t, direct, "g").Pending == 0 })
	stop()
	if st := slow.Stats(); st.Acked != 20 {
		t.Errorf("Stats.Acked = %d after a stop with the XACK reply in flight, want 20", st.Acked)
	}
}

// TestKitClosed: closing the Kit ends a subscription's goroutines and
// makes Consume return redkit.ErrClosed.
func TestKitClosed(t *testing.T) {
	srv := redistest.Start(t, nil)
	k, err := redkit.Open(t.Context(), redkit.Config{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := pubsub.NewTopic[int](k, "c").Subscribe(t.Context(), func(context.Context, pubsub.Message[int]) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	s := pubsub.NewStream[int](k, "c", nil)
	done := make(chan error, 1)
	go func() {
		done <- s.Consume(t.Context(), "g", "c", func(context.Context, pubsub.Message[int]) error { return nil })
	}()
	time.Sleep(100 * time.Millisecond)
	k.Close()
	select {
	case err := <-done:
		if !errors.Is(err, redkit.ErrClosed) {
			t.Errorf("Consume after Kit.Close = %v, want ErrClosed", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Consume did not return after Kit.Close")
	}
	if err := sub.Close(); err != nil {
		t.Error(err)
	}
}

// TestStreamConsumeAcrossRestart keeps consumers running while the
// server (AOF, fsync always) is killed and restarted: every entry
// published, before or after, is handled at least once, and nothing is
// left pending.
func TestStreamConsumeAcrossRestart(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Persistence: true, Args: []string{"appendfsync always"}})
	k := open(t, srv.Addr())
	s := pubsub.NewStream[int](k, "across", &pubsub.StreamOptions{ClaimIdle: 500 * time.Millisecond})
	var mu sync.Mutex
	seen := map[int]int{}
	h := func(_ context.Context, m pubsub.Message[int]) error {
		mu.Lock()
		seen[m.Payload]++
		mu.Unlock()
		return nil
	}
	consume(t, s, "g", "c1", h)
	consume(t, s, "g", "c2", h)
	publishN(t, s, 0, 100)
	srv.Kill()
	srv.Restart()
	// Publish again once the Kit is back (a Publish that fails was not
	// acknowledged, so it may be lost: retry it).
	for i := 100; i < 200; i++ {
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, err := s.Publish(t.Context(), i); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("Publish %d after the restart: %v", i, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	eventually(t, "every entry handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for i := range 200 {
			if seen[i] == 0 {
				return false
			}
		}
		return true
	})
	eventually(t, "nothing pending", func() bool { return info(t, s, "g").Pending == 0 })
}
