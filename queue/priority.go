package queue

import (
	"context"
	"crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/rueidis"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/codec"
	"github.com/redkit-go/redkit/internal/engine"
)

var (
	//go:embed push.lua
	pushSrc string
	//go:embed push_now.lua
	pushNowSrc string
	//go:embed pop.lua
	popSrc string
	//go:embed ack.lua
	ackSrc string
	//go:embed nack.lua
	nackSrc string
	//go:embed extend.lua
	extendSrc string
	//go:embed fail.lua
	failSrc string
	//go:embed requeue.lua
	requeueSrc string
	//go:embed dead.lua
	deadSrc string

	pushScript    = rueidis.NewLuaScript(pushSrc)
	pushNowScript = rueidis.NewLuaScript(pushNowSrc)
	popScript     = rueidis.NewLuaScript(popSrc)
	ackScript     = rueidis.NewLuaScript(ackSrc)
	nackScript    = rueidis.NewLuaScript(nackSrc)
	extendScript  = rueidis.NewLuaScript(extendSrc)
	failScript    = rueidis.NewLuaScript(failSrc)
	requeueScript = rueidis.NewLuaScript(requeueSrc)
	deadScript    = rueidis.NewLuaScript(deadSrc)
)

// keys of one queue; all share the hash tag {name}.
type keys struct {
	base, ready, delayed, inflight, jobs, meta, seq, signal string
	dead, stats, uniq, uniqx                                string
}

func newKeys(k *redkit.Kit, name string) keys {
	b := k.Key("queue", redkit.HashTag(name))
	return keys{
		base:     b,
		ready:    b + ":ready",
		delayed:  b + ":delayed",
		inflight: b + ":inflight",
		jobs:     b + ":jobs",
		meta:     b + ":meta",
		seq:      b + ":seq",
		signal:   b + ":signal",
		dead:     b + ":dead",
		stats:    b + ":stats",
		uniq:     b + ":uniq",
		uniqx:    b + ":uniqx",
	}
}

func (ks *keys) all() []string {
	return []string{ks.ready, ks.delayed, ks.inflight, ks.jobs, ks.meta, ks.seq, ks.signal,
		ks.dead, ks.stats, ks.uniq, ks.uniqx}
}

// Priority is a reliable priority work queue of T values: see the package
// documentation. It holds no connection or goroutine of its own and needs
// no Close; it is safe for concurrent use by any number of producers and
// workers, in any number of processes.
type Priority[T any] struct {
	k       *redkit.Kit
	name    string
	ks      keys
	f       codec.Format
	vis     time.Duration
	poll    time.Duration
	reclaim int
	err     error // from construction: an empty name

	maxAttempts int
	backoff     func(attempt int) time.Duration
	retention   time.Duration

	// pop's fixed script keys and args, built once.
	popKeys      []string
	visArg       string
	batch        string
	retentionArg string
	pops         atomic.Uint32 // every housekeepEvery-th pop cleans up
	// clock is the Redis clock minus this process's (ms), as of the
	// latest pop: Work converts the due times of wake-up tokens with it.
	clock atomic.Int64

	m metrics
}

// housekeepEvery: one Pop in this many (and Work's pops after a timer or
// poll wake-up) also removes expired dead jobs and unique keys.
const housekeepEvery = 64

// reclaimEvery: one Work pop in this many (and every one that finds
// nothing else ready) returns due delayed and expired in-flight jobs to
// the ready set; Pop and PopWait always do.
const reclaimEvery = 16

type metrics struct {
	pushed, delivered, acked, nacked, reclaimed, lost metric.Int64Counter
	processed, failed, retried, dead                  metric.Int64Counter
	handlerTime, pickup                               metric.Float64Histogram
	attrs                                             metric.MeasurementOption
}

// NewPriority returns the queue called name (its keys are
// k.Key("queue", "{name}", ...)). It does no I/O. A nil opts means the
// defaults. An empty name is reported by every call (redkit.ErrEmptyKey).
// It panics if k is nil or opts.Validate reports an error.
func NewPriority[T any](k *redkit.Kit, name string, opts *Options) *Priority[T] {
	if k == nil {
		panic("queue: NewPriority with a nil *redkit.Kit")
	}
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	q := &Priority[T]{k: k, name: name, ks: newKeys(k, name), f: k.Format()}
	if o.Codec != nil {
		q.f.Codec = o.Codec
	}
	if name == "" {
		q.err = redkit.ErrEmptyKey
	}
	q.vis = cmpOr(o.Visibility, DefaultVisibility)
	q.poll = cmpOr(o.PollInterval, DefaultPollInterval)
	q.reclaim = cmpOr(o.ReclaimBatch, DefaultReclaimBatch)
	q.maxAttempts = cmpOr(o.MaxAttempts, DefaultMaxAttempts)
	q.backoff = o.Backoff
	if q.backoff == nil {
		q.backoff = DefaultBackoff
	}
	q.retention = cmpOr(o.DeadRetention, DefaultDeadRetention)
	q.popKeys = []string{q.ks.ready, q.ks.delayed, q.ks.inflight, q.ks.jobs, q.ks.meta, q.ks.seq,
		q.ks.signal, q.ks.dead, q.ks.uniq, q.ks.uniqx, q.ks.stats}
	q.visArg = strconv.FormatInt(max(q.vis.Milliseconds(), 1), 10)
	q.batch = strconv.Itoa(q.reclaim)
	q.retentionArg = strconv.FormatInt(max(q.retention.Milliseconds(), 1), 10)

	tel := engine.HooksOf(k.Client()).Tel
	counter := func(n, desc string) metric.Int64Counter {
		c, _ := tel.Meter.Int64Counter(tel.Name("queue."+n), metric.WithDescription(desc))
		return c
	}
	q.m = metrics{
		pushed:    counter("pushed", "Jobs pushed"),
		delivered: counter("delivered", "Jobs delivered to a worker (Pop)"),
		acked:     counter("acked", "Jobs acknowledged"),
		nacked:    counter("nacked", "Jobs given back by Nack"),
		reclaimed: counter("reclaimed", "In-flight jobs returned to the queue after their visibility deadline"),
		lost:      counter("lost", "Acks, Nacks and Extends refused because the delivery no longer owned the job"),
		processed: counter("processed", "Jobs whose Work handler succeeded (acknowledged)"),
		failed:    counter("failed", "Work handler failures (errors, panics, timeouts)"),
		retried:   counter("retried", "Failed jobs scheduled for another attempt"),
		dead:      counter("dead", "Jobs dead-lettered after their last attempt"),
		attrs:     metric.WithAttributeSet(attribute.NewSet(attribute.String("queue.name", name))),
	}
	histogram := func(n, desc string) metric.Float64Histogram {
		h, _ := tel.Meter.Float64Histogram(tel.Name("queue."+n), metric.WithDescription(desc), metric.WithUnit("s"))
		return h
	}
	q.m.handlerTime = histogram("handler.duration", "Time a Work handler took per job")
	q.m.pickup = histogram("pickup.latency", "Time from a job becoming ready to its delivery")
	return q
}

func cmpOr[N int | time.Duration](v, def N) N {
	if v == 0 {
		return def
	}
	return v
}

// Name returns the queue's name.
func (q *Priority[T]) Name() string { return q.name }

// Key returns the prefix of the queue's keys, k.Key("queue", "{name}").
func (q *Priority[T]) Key() string { return q.ks.base }

func (q *Priority[T]) check(op string) error {
	if q.err != nil {
		return redkit.Wrap(op, q.name, q.err)
	}
	return nil
}

// Push adds v with priority (higher first; among equal priorities, first
// in, first out) and returns the job's ID. priority may be any float64
// but NaN. It wakes one waiting PopWait.
func (q *Priority[T]) Push(ctx context.Context, v T, priority float64) (id string, err error) {
	return q.push(ctx, "queue: push", v, priority, 0, "", 0)
}

// PushDelayed adds v with priority, to become ready after delay (measured
// on the Redis server's clock), and returns the job's ID. A delay of 0 is
// Push; a negative delay is redkit.ErrNegativeTTL. Delayed jobs become
// ready on the next Pop after they fall due (PopWait wakes for them).
func (q *Priority[T]) PushDelayed(ctx context.Context, v T, priority float64, delay time.Duration) (string, error) {
	return q.push(ctx, "queue: push delayed", v, priority, delay, "", 0)
}

func (q *Priority[T]) push(ctx context.Context, op string, v T, priority float64, delay time.Duration, unique string, ttl time.Duration) (string, error) {
	if err := q.check(op); err != nil {
		return "", err
	}
	if math.IsNaN(priority) {
		return "", redkit.Wrap(op, q.name, errors.New("queue: priority is NaN"))
	}
	if delay < 0 {
		return "", redkit.Wrap(op, q.name, fmt.Errorf("%w: delay %s", redkit.ErrNegativeTTL, delay))
	}
	data, err := codec.Encode(q.f, v)
	if err != nil {
		return "", redkit.Wrap(op, q.name, err)
	}
	var delayMs int64
	if delay > 0 {
		delayMs = max(delay.Milliseconds(), 1)
	}
	id := newID()
	var (
		script     *rueidis.Lua
		keys, args []string
	)
	if delayMs == 0 && unique == "" {
		// The common push, ready now: a lean script, half the keys and args.
		script = pushNowScript
		keys = []string{q.ks.ready, q.ks.meta, q.ks.seq, q.ks.signal}
		args = []string{id, bytesString(data), formatPriority(priority), strconv.Itoa(signalCap)}
	} else {
		script = pushScript
		keys = []string{q.ks.ready, q.ks.delayed, q.ks.jobs, q.ks.meta, q.ks.seq, q.ks.signal, q.ks.uniq, q.ks.uniqx}
		args = []string{id, bytesString(data), formatPriority(priority), strconv.FormatInt(delayMs, 10),
			strconv.Itoa(signalCap), strconv.FormatInt(signalTTL.Milliseconds(), 10),
			unique, strconv.FormatInt(ttl.Milliseconds(), 10)}
	}
	msg, err := q.k.Exec(ctx, script, keys, args)
	if err != nil {
		return "", redkit.Wrap(op, q.name, err)
	}
	if arr, _ := msg.ToArray(); len(arr) == 2 {
		if ok, _ := arr[0].AsInt64(); ok == 0 {
			holder, _ := arr[1].ToString()
			return holder, redkit.Wrap(op, q.name, fmt.Errorf("unique key %q held by job %s: %w", unique, holder, ErrDuplicate))
		}
	}
	q.m.pushed.Add(context.Background(), 1, q.m.attrs)
	return id, nil
}

// Pop delivers the ready job with the highest priority to worker (a name
// for introspection, such as host:pid), or returns ErrEmpty (not wrapped)
// when none is ready. In the same script it first returns due delayed jobs
// and in-flight jobs past their visibility deadline to the ready set. The
// job stays invisible to other workers for Options.Visibility; finish it
// with Ack or Nack.
//
// When the job's payload does not decode as T, Pop returns the job (with
// a zero Value) and an error wrapping redkit.ErrDecode: it is in flight,
// so Ack it to drop it, or leave it to come back after the deadline.
func (q *Priority[T]) Pop(ctx context.Context, worker string) (*Job[T], error) {
	job, _, _, err := q.pop(ctx, worker, false, false, false)
	return job, err
}

// pop is popMany for one job.
func (q *Priority[T]) pop(ctx context.Context, worker string, light, force, cont bool) (*Job[T], bool, time.Duration, error) {
	jobs, more, due, err := q.popMany(ctx, worker, 1, light, force, cont)
	if len(jobs) == 0 {
		return nil, false, due, err
	}
	return jobs[0].job, more, due, jobs[0].err
}

// popped is one job of popMany, with its decoding error.
type popped[T any] struct {
	job *Job[T]
	err error
}

// popMany delivers up to n jobs and says whether more are ready, or
// returns ErrEmpty and how long until a delayed or in-flight job falls
// due (-1: none). A light pop (Work's) returns due delayed jobs and
// expired in-flight jobs to the queue only now and then, and whenever
// nothing else is ready; force makes it a full pop that also cleans up
// (Work, woken by its timer or poll); cont says the caller was not woken
// for this pop (see pop.lua).
func (q *Priority[T]) popMany(ctx context.Context, worker string, n int, light, force, cont bool) ([]popped[T], bool, time.Duration, error) {
	const op = "queue: pop"
	if err := q.check(op); err != nil {
		return nil, false, -1, err
	}
	c := q.pops.Add(1)
	house, full := "0", "1"
	if force || c%housekeepEvery == 0 {
		house = "1"
	}
	if light && !force && c%reclaimEvery != 0 {
		full = "0"
	}
	args := make([]string, 0, 10+n)
	args = append(args, q.visArg, "", worker, q.batch, house, q.retentionArg, q.retentionArg, full,
		boolArg(cont), strconv.Itoa(n))
	for range n {
		args = append(args, rand.Text())
	}
	msg, err := q.k.Exec(ctx, popScript, q.popKeys, args)
	if err != nil {
		return nil, false, -1, redkit.Wrap(op, q.name, err)
	}
	arr, err := msg.ToArray()
	if err != nil || len(arr) < 4 {
		return nil, false, -1, redkit.Wrap(op, q.name, fmt.Errorf("unexpected script reply %v: %v", msg, err))
	}
	found, _ := arr[0].AsInt64()
	if found == 0 {
		due, _ := arr[1].AsInt64()
		now, _ := arr[2].AsInt64()
		if r, _ := arr[3].AsInt64(); r > 0 {
			q.m.reclaimed.Add(context.Background(), r, q.m.attrs)
		}
		if due < 0 {
			return nil, false, -1, ErrEmpty
		}
		return nil, false, time.Duration(max(due-now, 0)) * time.Millisecond, ErrEmpty
	}
	if len(arr) < 6 {
		return nil, false, -1, redkit.Wrap(op, q.name, fmt.Errorf("unexpected script reply %v", msg))
	}
	now, _ := arr[1].AsInt64()
	if r, _ := arr[2].AsInt64(); r > 0 {
		q.m.reclaimed.Add(context.Background(), r, q.m.attrs)
	}
	more, _ := arr[3].AsInt64()
	deadline, _ := arr[4].AsInt64()
	k, _ := arr[5].AsInt64()
	if len(arr) < 6+6*int(k) {
		return nil, false, -1, redkit.Wrap(op, q.name, fmt.Errorf("unexpected script reply %v", msg))
	}
	q.clock.Store(now - time.Now().UnixMilli())
	q.m.delivered.Add(context.Background(), k, q.m.attrs)
	out := make([]popped[T], k)
	for i := range int(k) {
		f := arr[6+6*i:]
		id, _ := f[0].ToString()
		payload, _ := f[1].ToString()
		prio, _ := f[2].AsFloat64()
		attempts, _ := f[3].AsInt64()
		lastErr, _ := f[4].ToString()
		readyAt, _ := f[5].AsInt64()
		if readyAt < 0 { // pushed to be ready at once: when its ID was made
			readyAt, _ = strconv.ParseInt(id[:min(12, len(id))], 16, 64)
		}
		q.m.pickup.Record(context.Background(), float64(max(now-readyAt, 0))/1e3, q.m.attrs)
		job := &Job[T]{
			ID:        id,
			Priority:  prio,
			Attempts:  int(attempts),
			Worker:    worker,
			Deadline:  time.UnixMilli(deadline),
			LastError: lastErr,
			q:         q,
			receipt:   args[10+i],
		}
		out[i].job = job
		v, err := codec.Decode[T](q.f, unsafe.Slice(unsafe.StringData(payload), len(payload)))
		if err != nil {
			out[i].err = redkit.Wrap(op, q.name, fmt.Errorf("job %s: %w", id, err))
			continue
		}
		job.Value = v
	}
	due := time.Duration(-1)
	if len(arr) > 6+6*int(k) {
		if at, _ := arr[6+6*int(k)].AsInt64(); at > 0 {
			due = time.Duration(max(at-now, 0)) * time.Millisecond
		}
	}
	return out, more > 0, due, nil
}

// PopWait is Pop that waits, until a job is ready or ctx ends, for worker.
// Push and Nack wake one waiter at once (BLPOP on a wake-up list, using
// one of the Kit's dedicated connections for the call); delayed jobs and
// expired in-flight jobs are picked up when they fall due, and
// Options.PollInterval bounds every wait. It starts no goroutine.
//
// When ctx ends first it returns errors.Join(ErrEmpty, ctx.Err()). Other
// errors are as for Pop. Ending ctx interrupts the wait, never a pop in
// progress: a job the server has already moved to in-flight is returned
// (and must be acked or nacked), rather than being dropped with the reply
// and left in flight until its visibility deadline.
func (q *Priority[T]) PopWait(ctx context.Context, worker string) (*Job[T], error) {
	const op = "queue: pop wait"
	for {
		if err := ctx.Err(); err != nil {
			return nil, errors.Join(ErrEmpty, err)
		}
		job, _, due, err := q.pop(context.WithoutCancel(ctx), worker, false, false, false)
		if !errors.Is(err, ErrEmpty) {
			if err != nil && ctx.Err() != nil {
				return nil, errors.Join(ErrEmpty, ctx.Err())
			}
			return job, err
		}
		wait := q.poll
		if due >= 0 && due < wait {
			wait = due
		}
		wait = max(wait, time.Millisecond)
		if err := ctx.Err(); err != nil {
			return nil, errors.Join(ErrEmpty, err)
		}
		_, err = q.k.Do(ctx, q.k.B().Blpop().Key(q.ks.signal).Timeout(wait.Seconds()).Build())
		if err != nil && !rueidis.IsRedisNil(err) {
			if ctx.Err() != nil {
				return nil, errors.Join(ErrEmpty, ctx.Err())
			}
			return nil, redkit.Wrap(op, q.name, err)
		}
	}
}

// Len returns the number of jobs ready to be popped. It counts neither
// delayed jobs that are not yet due (see Delayed) nor in-flight ones
// (see InFlight), including in-flight jobs whose deadline has passed but
// that no Pop has returned to the queue yet.
func (q *Priority[T]) Len(ctx context.Context) (int64, error) {
	return q.card(ctx, "queue: len", q.ks.ready)
}

// InFlight returns the number of jobs delivered and not yet acknowledged
// or returned, including those past their deadline that the next Pop will
// return to the queue.
func (q *Priority[T]) InFlight(ctx context.Context) (int64, error) {
	return q.card(ctx, "queue: in flight", q.ks.inflight)
}

// Delayed returns the number of jobs pushed with a delay (or nacked with
// one) that no Pop has made ready yet.
func (q *Priority[T]) Delayed(ctx context.Context) (int64, error) {
	return q.card(ctx, "queue: delayed", q.ks.delayed)
}

func (q *Priority[T]) card(ctx context.Context, op, key string) (int64, error) {
	if err := q.check(op); err != nil {
		return 0, err
	}
	msg, err := q.k.Do(ctx, q.k.B().Zcard().Key(key).Build())
	if err != nil {
		return 0, redkit.Wrap(op, q.name, err)
	}
	n, err := msg.AsInt64()
	if err != nil {
		return 0, redkit.Wrap(op, q.name, err)
	}
	return n, nil
}

// Delete removes the whole queue — ready, delayed and in-flight jobs —
// and reports whether it had any keys. Workers holding jobs of it get
// ErrJobLost from Ack.
func (q *Priority[T]) Delete(ctx context.Context) (bool, error) {
	const op = "queue: delete"
	if err := q.check(op); err != nil {
		return false, err
	}
	keys := q.ks.all()
	if err := q.k.CheckSameSlot(op, keys...); err != nil {
		return false, err
	}
	msg, err := q.k.Do(ctx, q.k.B().Unlink().Key(keys...).Build())
	if err != nil {
		return false, redkit.Wrap(op, q.name, err)
	}
	n, _ := msg.AsInt64()
	return n > 0, nil
}

// newID returns a job ID: 12 hex digits of Unix milliseconds (so IDs sort
// roughly by creation time) and 16 random base32 characters (80 bits).
func newID() string {
	return fmt.Sprintf("%012x", time.Now().UnixMilli()) + rand.Text()[:16]
}

func formatPriority(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// bytesString views b, which nobody writes again, as a string.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
