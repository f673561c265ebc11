package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/pubsub"
)

func init() {
	register(Suite{Name: "pubsub", Title: "Pub/sub and streams (pubsub)", Run: runPubSub})
}

const (
	psMsgSize = 100  // bytes per message
	psBatch   = 100  // messages per pipelined publish (one Op)
	psWindow  = 1000 // messages published and not yet received, at most
	// stWindow is the streams' flow-control window: entries published and
	// not yet handled, at most.
	stWindow      = 2000
	stPublishers  = 8
	drainTimeout  = 5 * time.Second
	maxLatSamples = 1 << 20
)

// flow is one contender's delivery counts, shared by its publisher Op
// and its receiver, with end-to-end latency samples for streams.
type flow struct {
	sent, received atomic.Int64
	mu             sync.Mutex
	lat            []time.Duration
}

func (f *flow) resetLat() {
	f.mu.Lock()
	f.lat = f.lat[:0]
	f.mu.Unlock()
}

// wait holds the publisher while more than window messages are in
// flight. Polling (not a wake-up per message) keeps the receiver's path
// the same for every contender.
func (f *flow) wait(ctx context.Context, window int64) error {
	deadline := time.Now().Add(drainTimeout)
	for f.sent.Load()-f.received.Load() > window {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d messages not received within %v", f.sent.Load()-f.received.Load(), drainTimeout)
		}
		time.Sleep(50 * time.Microsecond)
	}
	return nil
}

// lost waits for the stragglers and returns how many never arrived.
func (f *flow) lost() int64 {
	deadline := time.Now().Add(drainTimeout)
	for f.sent.Load() > f.received.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	return f.sent.Load() - f.received.Load()
}

// record takes an end-to-end latency from a payload's timestamp.
func (f *flow) record(payload []byte) {
	if len(payload) < 8 {
		return
	}
	d := time.Duration(time.Now().UnixNano() - int64(binary.LittleEndian.Uint64(payload)))
	f.mu.Lock()
	if len(f.lat) < maxLatSamples {
		f.lat = append(f.lat, d)
	}
	f.mu.Unlock()
}

func (f *flow) p99() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.lat) == 0 {
		return 0
	}
	s := slices.Clone(f.lat)
	slices.Sort(s)
	return s[len(s)*99/100]
}

func stamped() []byte {
	b := make([]byte, psMsgSize)
	binary.LittleEndian.PutUint64(b, uint64(time.Now().UnixNano()))
	for i := 8; i < len(b); i++ {
		b[i] = 'x'
	}
	return b
}

func runPubSub(env *Env) (*Section, error) {
	var cl closers
	defer cl.closeAll()
	prefix := env.KeyPrefix("pubsub")
	k, err := env.OpenKit(redkit.Config{KeyPrefix: prefix})
	if err != nil {
		return nil, err
	}
	cl.add(func() { k.Close() })
	rc, err := env.OpenRueidis(env.KitEngineOption(k))
	if err != nil {
		return nil, err
	}
	cl.add(rc.Close)
	gr, err := env.OpenGoRedis(nil)
	if err != nil {
		return nil, err
	}
	cl.add(func() { gr.Close() })

	sec := &Section{
		Intro: fmt.Sprintf("Pub/sub: one publisher sends %d-byte messages in pipelined batches of %d to one "+
			"subscriber on its own channel; the publisher holds back while more than %d are in flight, so the "+
			"rate is what the subscriber receives and hands to its handler (a counter). ops/s are batches: "+
			"messages/s = %d × ops/s. redkit: `Topic[[]byte].PublishMany` and `Subscribe` (default buffer %d, "+
			"drop policy); rueidis: `DoMulti` of PUBLISH and `Client.Receive`, configured as the Kit's engine; "+
			"go-redis v9: a pipeline of PUBLISH and `PubSub.Channel`. Streams: entries of %d bytes carry their send "+
			"time; C consumers of one group handle and acknowledge them (at most %d in flight); end-to-end latency is "+
			"handling time minus send time. Throughput: one publisher sends pipelined batches of %d. Latency: %d "+
			"publisher goroutines send one entry per call. redkit: `Stream[[]byte].PublishMany` / `Publish` and C "+
			"`Consume` calls (Concurrency 1 each, defaults otherwise); watermill-redisstream v1.4.5: its Publisher "+
			"(or a go-redis pipeline of its marshaller's XADDs) and C Subscribers (one consumer each, same group) "+
			"over go-redis, `msg.Ack()` per message.",
			psMsgSize, psBatch, psWindow, psBatch, pubsub.DefaultBuffer, psMsgSize, stWindow, psBatch, stPublishers),
	}
	if err := pubsubDelivery(env, sec, k, rc, gr, prefix); err != nil {
		return nil, err
	}
	if err := pubsubTyped(env, sec, k, rc, prefix); err != nil {
		return nil, err
	}
	if err := streamDelivery(env, sec, k, prefix); err != nil {
		return nil, err
	}
	return sec, nil
}

func pubsubDelivery(env *Env, sec *Section, k *redkit.Kit, rc rueidis.Client, gr *redis.Client, prefix string) error {
	ctx, cancel := context.WithCancel(env.Context())
	defer cancel()
	msgs := make([][]byte, psBatch)
	strs := make([]string, psBatch)
	for i := range msgs {
		msgs[i] = stamped()
		strs[i] = string(msgs[i])
	}
	var fk, fr, fg flow

	// redkit
	topic := pubsub.NewTopic[[]byte](k, "delivery:redkit")
	sub, err := topic.Subscribe(ctx, func(_ context.Context, m pubsub.Message[[]byte]) error {
		fk.received.Add(1)
		return nil
	})
	if err != nil {
		return err
	}
	defer sub.Close()

	// rueidis
	rch := prefix + "delivery:rueidis"
	rwait, err := receiveRueidis(ctx, rc, rch, func(rueidis.PubSubMessage) { fr.received.Add(1) })
	defer rwait()
	defer cancel()
	if err != nil {
		return err
	}

	// go-redis
	gch := prefix + "delivery:goredis"
	gsub := gr.Subscribe(ctx, gch)
	if _, err := gsub.Receive(ctx); err != nil {
		return err
	}
	defer gsub.Close()
	var gdone sync.WaitGroup
	gdone.Add(1)
	go func() {
		defer gdone.Done()
		for range gsub.Channel(redis.WithChannelSize(psWindow + 100)) {
			fg.received.Add(1)
		}
	}()
	defer gdone.Wait()
	defer gsub.Close()

	variants := []Variant{
		{"redkit Topic", func(ctx context.Context, g, i int) error {
			if err := topic.PublishMany(ctx, msgs...); err != nil {
				return err
			}
			fk.sent.Add(psBatch)
			return fk.wait(ctx, psWindow-psBatch)
		}},
		{"rueidis Receive", func(ctx context.Context, g, i int) error {
			cmds := make(rueidis.Commands, psBatch)
			for j := range cmds {
				cmds[j] = rc.B().Publish().Channel(rch).Message(strs[j]).Build()
			}
			for _, r := range rc.DoMulti(ctx, cmds...) {
				if err := r.Error(); err != nil {
					return err
				}
			}
			fr.sent.Add(psBatch)
			return fr.wait(ctx, psWindow-psBatch)
		}},
		{"go-redis PubSub", func(ctx context.Context, g, i int) error {
			pipe := gr.Pipeline()
			for j := range psBatch {
				pipe.Publish(ctx, gch, msgs[j])
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
			fg.sent.Add(psBatch)
			return fg.wait(ctx, psWindow-psBatch)
		}},
	}
	env.Logf("pubsub: delivery, 1 publisher → 1 subscriber")
	res := env.Compare(1, variants...)
	lost := []int64{fk.lost(), fr.lost(), fg.lost()}
	t := Table{
		Caption: fmt.Sprintf("Pub/sub delivery, 1 publisher → 1 subscriber, %d-byte messages, batches of %d:", psMsgSize, psBatch),
		Header:  []string{"client", "messages/s", "batch p50", "batch p99", "allocs/msg", "CPU/msg", "lost", "vs rueidis"},
	}
	for i, r := range res {
		name := r.Name
		if r.Errors > 0 {
			name += fmt.Sprintf(" (%d errors: %v)", r.Errors, r.FirstErr)
		}
		t.AddRow(name, fmtOps(r.OpsPerSec*psBatch), fmtDur(r.P50), fmtDur(r.P99),
			fmt.Sprintf("%.2f", r.AllocsPerOp/psBatch), fmtDur(r.CPUPerOp/psBatch), lost[i], fmtRatio(r.Ratio(res[1])))
	}
	sec.Tables = append(sec.Tables, t)
	sec.Targets = append(sec.Targets,
		Target{What: "pub/sub delivery: redkit/rueidis Receive", Ratio: res[0].Ratio(res[1]), Min: 0.9},
		Target{What: "pub/sub delivery: redkit/go-redis PubSub", Ratio: res[0].Ratio(res[2]), Min: 1.0})
	sec.Notes = append(sec.Notes, fmt.Sprintf("Pub/sub lost messages (must be 0): redkit %d, rueidis %d, go-redis %d.", lost[0], lost[1], lost[2]))
	return nil
}

// psEvent is the typed payload of the JSON rows: about 100 bytes encoded.
type psEvent struct {
	Entity string `json:"entity"`
	ID     int64  `json:"id"`
	Op     string `json:"op"`
	Source string `json:"source"`
	Text   string `json:"text"`
}

// pubsubTyped is the delivery row with a struct encoded as JSON: redkit's
// Topic[psEvent] against rueidis with encoding/json by hand on both ends.
func pubsubTyped(env *Env, sec *Section, k *redkit.Kit, rc rueidis.Client, prefix string) error {
	ctx, cancel := context.WithCancel(env.Context())
	defer cancel()
	ev := psEvent{Entity: "order", ID: 4242, Op: "update", Source: "instance-a", Text: "margherita, extra basil, ready"}
	evs := make([]psEvent, psBatch)
	for i := range evs {
		evs[i] = ev
	}
	var fk, fr flow
	topic := pubsub.NewTopic[psEvent](k, "typed:redkit")
	sub, err := topic.Subscribe(ctx, func(_ context.Context, m pubsub.Message[psEvent]) error {
		if m.Payload.ID == 4242 {
			fk.received.Add(1)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer sub.Close()
	rch := prefix + "typed:rueidis"
	rwait, err := receiveRueidis(ctx, rc, rch, func(m rueidis.PubSubMessage) {
		var v psEvent
		if json.Unmarshal([]byte(m.Message), &v) == nil && v.ID == 4242 {
			fr.received.Add(1)
		}
	})
	defer rwait()
	defer cancel()
	if err != nil {
		return err
	}
	variants := []Variant{
		{"redkit Topic[struct]", func(ctx context.Context, g, i int) error {
			if err := topic.PublishMany(ctx, evs...); err != nil {
				return err
			}
			fk.sent.Add(psBatch)
			return fk.wait(ctx, psWindow-psBatch)
		}},
		{"rueidis Receive + encoding/json", func(ctx context.Context, g, i int) error {
			cmds := make(rueidis.Commands, psBatch)
			for j := range cmds {
				b, err := json.Marshal(evs[j])
				if err != nil {
					return err
				}
				cmds[j] = rc.B().Publish().Channel(rch).Message(string(b)).Build()
			}
			for _, r := range rc.DoMulti(ctx, cmds...) {
				if err := r.Error(); err != nil {
					return err
				}
			}
			fr.sent.Add(psBatch)
			return fr.wait(ctx, psWindow-psBatch)
		}},
	}
	env.Logf("pubsub: typed (JSON) delivery, 1 publisher → 1 subscriber")
	res := env.Compare(1, variants...)
	lost := []int64{fk.lost(), fr.lost()}
	t := Table{
		Caption: fmt.Sprintf("Typed pub/sub delivery, a struct as JSON (%d bytes), 1 publisher → 1 subscriber, batches of %d:", len(mustJSON(ev)), psBatch),
		Header:  []string{"client", "messages/s", "batch p50", "batch p99", "allocs/msg", "CPU/msg", "lost", "vs rueidis"},
	}
	for i, r := range res {
		t.AddRow(withErrs(r), fmtOps(r.OpsPerSec*psBatch), fmtDur(r.P50), fmtDur(r.P99),
			fmt.Sprintf("%.2f", r.AllocsPerOp/psBatch), fmtDur(r.CPUPerOp/psBatch), lost[i], fmtRatio(r.Ratio(res[1])))
	}
	sec.Tables = append(sec.Tables, t)
	sec.Targets = append(sec.Targets, Target{What: "typed (JSON) pub/sub delivery: redkit/rueidis Receive + encoding/json", Ratio: res[0].Ratio(res[1]), Min: 0.9})
	sec.Notes = append(sec.Notes, fmt.Sprintf("Typed pub/sub lost messages (must be 0): redkit %d, rueidis %d.", lost[0], lost[1]))
	return nil
}

func streamDelivery(env *Env, sec *Section, k *redkit.Kit, prefix string) error {
	tt := Table{
		Caption: fmt.Sprintf("Streams throughput: publish (pipelined batches of %d) + consume + ack, %d-byte entries, consumed/s:", psBatch, psMsgSize),
		Header:  []string{"consumers", "client", "consumed/s", "end-to-end p99", "allocs/entry", "CPU/entry", "lost", "vs watermill"},
	}
	tl := Table{
		Caption: fmt.Sprintf("Streams latency: %d publishers, one entry per Publish, %d in flight at most:", stPublishers, stWindow),
		Header:  []string{"consumers", "client", "entries/s", "publish p50", "publish p99", "end-to-end p99", "allocs/entry", "CPU/entry", "lost", "vs watermill"},
	}
	for _, consumers := range []int{1, 8} {
		r, err := streamRound(env, k, prefix, consumers)
		if err != nil {
			return err
		}
		for i, x := range r.thr {
			tt.AddRow(consumers, withErrs(x), fmtOps(x.OpsPerSec*psBatch), fmtDur(r.thrLat[i]),
				fmt.Sprintf("%.1f", x.AllocsPerOp/psBatch), fmtDur(x.CPUPerOp/psBatch), r.lost[i], fmtRatio(x.Ratio(r.thr[1])))
		}
		for i, x := range r.lat {
			tl.AddRow(consumers, withErrs(x), fmtOps(x.OpsPerSec), fmtDur(x.P50), fmtDur(x.P99), fmtDur(r.latLat[i]),
				fmt.Sprintf("%.1f", x.AllocsPerOp), fmtDur(x.CPUPerOp), r.lost[i], fmtRatio(x.Ratio(r.lat[1])))
		}
		sec.Targets = append(sec.Targets, Target{
			What:  fmt.Sprintf("streams, %d consumer(s): redkit/watermill-redisstream consume rate", consumers),
			Ratio: r.thr[0].Ratio(r.thr[1]), Min: 3})
	}
	sec.Tables = append(sec.Tables, tt, tl)
	sec.Notes = append(sec.Notes,
		"Streams throughput: ops are batches of entries published, which the window holds to the rate the consumers handle and acknowledge them; "+
			"watermill-redisstream has no pipelined publish, so its batches are XADDs of its own marshaller's fields in one go-redis pipeline. "+
			"Its published figure is ~11k msg/s consume on 16 cores.",
		"Streams latency: end-to-end is from before Publish to the handler; lost counts entries never handled, over both tables.")
	return nil
}

func withErrs(r Result) string {
	if r.Errors > 0 {
		return fmt.Sprintf("%s (%d errors: %v)", r.Name, r.Errors, r.FirstErr)
	}
	return r.Name
}

type streamResults struct {
	thr, lat       []Result
	thrLat, latLat []time.Duration
	lost           []int64
}

func streamRound(env *Env, k *redkit.Kit, prefix string, consumers int) (streamResults, error) {
	ctx, cancel := context.WithCancel(env.Context())
	defer cancel()
	var fk, fw flow
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	suffix := fmt.Sprintf("c%d:%d", consumers, time.Now().UnixNano())

	// redkit
	stream := pubsub.NewStream[[]byte](k, "events:"+suffix, nil)
	for c := range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = stream.Consume(ctx, "g", fmt.Sprintf("c%d", c), func(_ context.Context, m pubsub.Message[[]byte]) error {
				fk.record(m.Payload)
				fk.received.Add(1)
				return nil
			})
		}()
	}

	// watermill-redisstream
	topic := prefix + "watermill:" + suffix
	logger := watermill.NopLogger{}
	// Each watermill Publisher and Subscriber closes its go-redis client
	// on Close: give each its own.
	pc, err := env.OpenGoRedis(nil)
	if err != nil {
		return streamResults{}, err
	}
	wpub, err := redisstream.NewPublisher(redisstream.PublisherConfig{Client: pc}, logger)
	if err != nil {
		pc.Close()
		return streamResults{}, err
	}
	defer wpub.Close()
	for c := range consumers {
		sc, err := env.OpenGoRedis(nil)
		if err != nil {
			return streamResults{}, err
		}
		wsub, err := redisstream.NewSubscriber(redisstream.SubscriberConfig{
			Client: sc, ConsumerGroup: "g", Consumer: fmt.Sprintf("c%d", c), OldestId: "0",
			DisableIndefiniteInitialBlock: true,
		}, logger)
		if err != nil {
			sc.Close()
			return streamResults{}, err
		}
		ch, err := wsub.Subscribe(ctx, topic)
		if err != nil {
			wsub.Close()
			return streamResults{}, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer wsub.Close()
			for msg := range ch {
				fw.record(msg.Payload)
				fw.received.Add(1)
				msg.Ack()
			}
		}()
	}

	batch := make([][]byte, psBatch)
	wbatch := make([]*message.Message, psBatch)
	stamp := func() {
		for j := range batch {
			batch[j] = stamped()
		}
	}
	wstamp := func() {
		for j := range wbatch {
			wbatch[j] = message.NewMessage(watermill.NewUUID(), stamped())
		}
	}
	marshal := redisstream.DefaultMarshallerUnmarshaller{}
	throughput := []Variant{
		{"redkit Stream", func(ctx context.Context, g, i int) error {
			stamp()
			if _, err := stream.PublishMany(ctx, batch...); err != nil {
				return err
			}
			fk.sent.Add(psBatch)
			return fk.wait(ctx, stWindow-psBatch)
		}},
		{"watermill-redisstream", func(ctx context.Context, g, i int) error {
			wstamp()
			pipe := pc.Pipeline()
			for _, m := range wbatch {
				values, err := marshal.Marshal(topic, m)
				if err != nil {
					return err
				}
				pipe.XAdd(ctx, &redis.XAddArgs{Stream: topic, Values: values, Approx: true})
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
			fw.sent.Add(psBatch)
			return fw.wait(ctx, stWindow-psBatch)
		}},
	}
	latency := []Variant{
		{"redkit Stream", func(ctx context.Context, g, i int) error {
			if _, err := stream.Publish(ctx, stamped()); err != nil {
				return err
			}
			fk.sent.Add(1)
			return fk.wait(ctx, stWindow)
		}},
		{"watermill-redisstream", func(ctx context.Context, g, i int) error {
			if err := wpub.Publish(topic, message.NewMessage(watermill.NewUUID(), stamped())); err != nil {
				return err
			}
			fw.sent.Add(1)
			return fw.wait(ctx, stWindow)
		}},
	}
	var r streamResults
	env.Logf("pubsub: streams throughput, %d consumer(s)", consumers)
	r.thr = env.Compare(1, throughput...)
	r.thrLat = []time.Duration{fk.p99(), fw.p99()}
	fk.resetLat()
	fw.resetLat()
	env.Logf("pubsub: streams latency, %d consumer(s)", consumers)
	r.lat = env.Compare(stPublishers, latency...)
	r.latLat = []time.Duration{fk.p99(), fw.p99()}
	r.lost = []int64{fk.lost(), fw.lost()}
	// Delete the streams: nothing else reads them.
	_, _ = k.Do(env.Context(), k.B().Del().Key(stream.Key(), stream.DeadLetters().Key(), topic).Build())
	return r, nil
}

// receiveRueidis runs rc.Receive on channel ch with fn until ctx ends, and
// returns once the subscription is confirmed (an error after 10s without).
// wait waits for Receive to return: call it after cancelling ctx.
func receiveRueidis(ctx context.Context, rc rueidis.Client, ch string, fn func(rueidis.PubSubMessage)) (wait func(), err error) {
	ready := make(chan struct{})
	var done sync.WaitGroup
	done.Go(func() {
		var once sync.Once
		hctx := rueidis.WithOnSubscriptionHook(ctx, func(rueidis.PubSubSubscription) { once.Do(func() { close(ready) }) })
		_ = rc.Receive(hctx, rc.B().Subscribe().Channel(ch).Build(), fn)
	})
	select {
	case <-ready:
		return done.Wait, nil
	case <-time.After(10 * time.Second):
		return done.Wait, errors.New("rueidis subscription not confirmed")
	}
}
