package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/engine"
	"github.com/redkit-go/redkit/internal/optcheck"
)

// Handler processes one job under Work. A nil return acknowledges the
// job; an error (or a panic, logged with its stack) is a failed attempt:
// the job is retried after Options.Backoff, or dead after
// Options.MaxAttempts deliveries. ctx ends at WorkOptions.Timeout, when
// the job is lost (its visibility could not be extended), or when Work
// gives up waiting for the handler at shutdown. A handler may finish the
// job itself (Ack or Nack); Work then leaves it alone. It need not call
// Extend (Work extends the job's visibility; job.Deadline keeps the
// deadline of the delivery).
type Handler[T any] func(ctx context.Context, job *Job[T]) error

// Defaults for WorkOptions.
const (
	DefaultConcurrency     = 10
	DefaultShutdownTimeout = 10 * time.Second
)

// WorkOptions configure Work and WorkMany. The zero value (or nil) means
// the defaults; negative values are invalid (Work returns the error
// Validate reports).
type WorkOptions struct {
	// Concurrency is how many handlers run at once; default
	// DefaultConcurrency.
	Concurrency int
	// Timeout is each job's deadline: the handler's ctx ends after it,
	// and the attempt fails unless the handler returns nil; 0 = none.
	Timeout time.Duration
	// ShutdownTimeout is how long Work waits, once its ctx is done, for
	// running handlers before it cancels their ctx and gives their jobs
	// back (not counting the attempt); default DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Strict, for WorkMany: serve the sources strictly in the order
	// given, a later one only when all before it are empty. Otherwise
	// each pop starts at a source picked at random in proportion to its
	// weight (and falls back to the others, in order, when it is empty),
	// so that no queue starves.
	Strict bool
}

// Validate reports every invalid field of o, each error naming the field
// and its value, joined with errors.Join; nil when o is nil or valid.
func (o *WorkOptions) Validate() error {
	if o == nil {
		return nil
	}
	c := optcheck.For("queue: WorkOptions")
	optcheck.NonNegative(c, "Concurrency", o.Concurrency)
	optcheck.NonNegative(c, "Timeout", o.Timeout)
	optcheck.NonNegative(c, "ShutdownTimeout", o.ShutdownTimeout)
	return c.Err()
}

// Work runs h on the queue's jobs, up to WorkOptions.Concurrency at once,
// until ctx is done; then it stops popping, waits up to ShutdownTimeout for
// running handlers, gives back the jobs of those still running (their ctx
// is cancelled, the attempt not counted), and returns nil. worker names
// this process in the queue (such as host:pid).
//
// Idle, Work is woken, not polling: Push, Nack and retries wake it through
// the queue's wake-up list (one BLPOP on one connection per Work call,
// only while a handler slot is idle), and a local timer wakes it when the
// earliest delayed job or retry falls due; Options.PollInterval bounds
// each wait. While a handler runs, the job's visibility is extended every
// third of Options.Visibility, so a long job is never delivered twice;
// if this process dies, its jobs return to the queue after Visibility.
//
// It returns early only with an error for invalid options or an invalid
// queue; Redis errors are logged (the Kit's Logger) and retried.
func (q *Priority[T]) Work(ctx context.Context, worker string, h Handler[T], opts *WorkOptions) error {
	return WorkMany(ctx, worker, opts, q.Source(h, 1))
}

// Source is one queue and its handler, for WorkMany; make one with
// Priority.Source.
type Source interface {
	source() *source
}

// Source returns the queue with handler h for WorkMany; weight (values
// below 1 count as 1) is its share of pops when WorkOptions.Strict is
// not set.
func (q *Priority[T]) Source(h Handler[T], weight int) Source {
	return &source{
		name:    q.name,
		k:       q.k,
		err:     q.err,
		signal:  q.ks.signal,
		clock:   &q.clock,
		poll:    q.poll,
		weight:  max(weight, 1),
		stats:   q.ks.stats,
		ttl:     q.retentionArg,
		every:   max(q.retention/3, 10*time.Millisecond),
		logger:  engine.HooksOf(q.k.Client()).Tel.Logger,
		ackKeys: []string{q.ks.inflight, q.ks.jobs, q.ks.meta, q.ks.stats, q.ks.uniq, q.ks.uniqx},
		popMany: func(ctx context.Context, worker string, n int, force, cont bool, a *acker) ([]delivery, bool, time.Duration, error) {
			jobs, more, due, err := q.popMany(ctx, worker, n, true, force, cont)
			if len(jobs) == 0 {
				return nil, false, due, err
			}
			ds := make([]delivery, len(jobs))
			for i, p := range jobs {
				ds[i] = &run[T]{job: p.job, h: h, decodeErr: p.err, acker: a}
			}
			return ds, more, due, nil
		},
	}
}

func (s *source) source() *source { return s }

type source struct {
	name   string
	k      *redkit.Kit
	err    error
	signal string
	poll   time.Duration
	weight int
	// The stats key's ttl is refreshed every so often while Work runs.
	stats, ttl string
	clock      *atomic.Int64 // Redis clock minus ours, ms
	every      time.Duration
	logger     *slog.Logger
	ackKeys    []string
	popMany    func(ctx context.Context, worker string, n int, force, cont bool, a *acker) ([]delivery, bool, time.Duration, error)
}

// delivery is one popped job with its handler.
type delivery interface {
	// process runs the handler and finishes the job (ack, retry or dead),
	// unless it was given back meanwhile.
	process(ctx context.Context, o *WorkOptions)
	// giveBack returns the job unfinished, not counting the attempt.
	giveBack()
}

// WorkMany is Work over several queues (each with its own handler and
// possibly its own Kit) sharing one pool of WorkOptions.Concurrency
// handler slots: by weight (default) or in strict order of the sources
// (WorkOptions.Strict). Each queue lives in one cluster slot, so serving
// several queues is also how to spread one kind of work over a cluster:
// push to queues "mail-0".."mail-7" (say, by a hash of the job) and serve
// them all with one WorkMany.
func WorkMany(ctx context.Context, worker string, opts *WorkOptions, sources ...Source) error {
	const op = "queue: work"
	if err := opts.Validate(); err != nil {
		return err
	}
	if len(sources) == 0 {
		return redkit.Wrap(op, "", errors.New("queue: WorkMany with no sources"))
	}
	var o WorkOptions
	if opts != nil {
		o = *opts
	}
	o.Concurrency = cmpOr(o.Concurrency, DefaultConcurrency)
	o.ShutdownTimeout = cmpOr(o.ShutdownTimeout, DefaultShutdownTimeout)
	w := &pool{
		o:       o,
		worker:  worker,
		wake:    make(chan struct{}, o.Concurrency),
		dueKick: make(chan struct{}, 1),
		running: map[*slotState]struct{}{},
	}
	for _, s := range sources {
		src := s.source()
		if src.err != nil {
			return redkit.Wrap(op, src.name, src.err)
		}
		w.srcs = append(w.srcs, src)
		w.total += src.weight
		w.idle = append(w.idle, make(chan struct{}, 1))
	}
	return w.run(ctx)
}

type pool struct {
	o      WorkOptions
	worker string
	srcs   []*source
	total  int
	idle   []chan struct{} // per source: a slot parked, start listening

	wake   chan struct{} // a token lets one parked slot pop
	parked atomic.Int32
	// force: the next pop is a full one that also cleans up (set by the
	// timer and by a listener's poll timeout).
	force   atomic.Bool
	dueMu   sync.Mutex
	due     time.Time // earliest known due time of a delayed job (zero: none)
	dueKick chan struct{}

	mu      sync.Mutex
	running map[*slotState]struct{}

	fetchers []*fetcher // per source
}

type slotState struct {
	d delivery
}

func (w *pool) run(ctx context.Context) error {
	stop := ctx.Done()
	// Handlers keep running past ctx (graceful stop) until hard is
	// cancelled.
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()

	var bg sync.WaitGroup // listeners and the due timer
	batch := min(w.o.Concurrency, maxBatch)
	for i, s := range w.srcs {
		w.fetchers = append(w.fetchers, newFetcher(s, w.worker, batch))
		bg.Go(func() { w.listen(ctx, i) })
		bg.Go(func() { s.keepStats(ctx) })
	}
	bg.Go(func() { w.timer(ctx) })

	var slots sync.WaitGroup
	for range w.o.Concurrency {
		slots.Go(func() { w.slot(ctx, hard) })
	}
	<-stop
	bg.Wait()

	done := make(chan struct{})
	go func() { slots.Wait(); close(done) }()
	t := time.NewTimer(w.o.ShutdownTimeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
	}
	// Give back what is still running, then tell the handlers.
	w.mu.Lock()
	for st := range w.running {
		st.d.giveBack()
	}
	w.mu.Unlock()
	cancelHard()
	select {
	case <-done:
	case <-time.After(time.Second):
		// Handlers that ignore their ctx: their jobs are given back, and
		// whatever they do with them now fails with ErrJobLost.
	}
	return nil
}

// slot is one handler slot: pop, handle, repeat; park when empty.
func (w *pool) slot(ctx, hard context.Context) {
	st := &slotState{}
	errDelay := 50 * time.Millisecond
	pop := true
	cont := false // this pop follows a job, not a wake-up
	for ctx.Err() == nil {
		if !pop {
			// The last pop left nothing ready: wait for a wake-up (a push
			// since then has left one) rather than pop for nothing.
			pop = true
			w.park(ctx)
			continue
		}
		d, more, due, err := w.popAny(ctx, cont)
		cont = false
		if d != nil {
			errDelay = 50 * time.Millisecond
			if ctx.Err() != nil { // popped while stopping
				d.giveBack()
				return
			}
			// No hand-off to parked slots: every push leaves a wake-up
			// token, and the listener wakes one parked slot per token.
			if !more && due >= 0 {
				w.noteDue(time.Now().Add(due))
			}
			pop, cont = more, more
			st.d = d
			w.mu.Lock()
			w.running[st] = struct{}{}
			w.mu.Unlock()
			d.process(hard, &w.o)
			w.mu.Lock()
			delete(w.running, st)
			w.mu.Unlock()
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.srcs[0].logger.Warn("queue: work: pop failed", "queue", w.srcs[0].name, "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(errDelay):
			}
			errDelay = min(errDelay*2, 2*time.Second)
			continue
		}
		if due >= 0 {
			w.noteDue(time.Now().Add(due))
		}
		w.park(ctx)
	}
}

// park waits until a listener or the timer wakes this slot.
func (w *pool) park(ctx context.Context) {
	w.parked.Add(1)
	for _, c := range w.idle {
		select {
		case c <- struct{}{}:
		default:
		}
	}
	select {
	case <-w.wake:
	case <-ctx.Done():
	}
}

// signal wakes one parked slot, if any: it takes the slot off the parked
// count itself, so that a listener does not wait again (and take another
// token) for a slot already woken.
func (w *pool) signal() {
	for {
		p := w.parked.Load()
		if p <= 0 {
			return
		}
		if w.parked.CompareAndSwap(p, p-1) {
			w.wake <- struct{}{} // never blocks: at most Concurrency are parked
			return
		}
	}
}

// popAny pops from the sources in the order of the policy; due is the
// earliest due time any of them reported (-1: none).
func (w *pool) popAny(ctx context.Context, cont bool) (delivery, bool, time.Duration, error) {
	start := 0
	if !w.o.Strict && len(w.srcs) > 1 {
		r := mrand.IntN(w.total)
		for i, s := range w.srcs {
			if r < s.weight {
				start = i
				break
			}
			r -= s.weight
		}
	}
	due := time.Duration(-1)
	var errs []error
	force := w.force.Swap(false)
	for n := range w.srcs {
		i := n
		if !w.o.Strict {
			i = (start + n) % len(w.srcs)
		}
		d, more, dd, err := w.fetchers[i].pop(ctx, force, cont && len(w.srcs) == 1)
		if d != nil {
			// With several sources, the others may have jobs: look again.
			return d, more || len(w.srcs) > 1, dd, nil
		}
		if err != nil && !errors.Is(err, ErrEmpty) {
			errs = append(errs, err)
			continue
		}
		if dd >= 0 && (due < 0 || dd < due) {
			due = dd
		}
	}
	return nil, false, due, errors.Join(errs...)
}

func (w *pool) noteDue(at time.Time) {
	w.dueMu.Lock()
	if w.due.IsZero() || at.Before(w.due) {
		w.due = at
		select {
		case w.dueKick <- struct{}{}:
		default:
		}
	}
	w.dueMu.Unlock()
}

// timer wakes a parked slot when the earliest delayed job falls due.
func (w *pool) timer(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		w.dueMu.Lock()
		at := w.due
		w.dueMu.Unlock()
		if at.IsZero() {
			t.Reset(time.Hour)
		} else {
			t.Reset(time.Until(at))
		}
		select {
		case <-ctx.Done():
			return
		case <-w.dueKick:
		case <-t.C:
			w.dueMu.Lock()
			if !w.due.IsZero() && !time.Now().Before(w.due) {
				w.due = time.Time{}
			}
			w.dueMu.Unlock()
			w.force.Store(true)
			w.signal()
		}
	}
}

// listen blocks on source i's wake-up list while a slot is parked, and
// wakes one slot per token (or per PollInterval without one).
func (w *pool) listen(ctx context.Context, i int) {
	s := w.srcs[i]
	cmd := s.k.B().Blpop().Key(s.signal).Timeout(s.poll.Seconds()).Build().Pin()
	errDelay := 50 * time.Millisecond
	for {
		if w.parked.Load() == 0 {
			select {
			case <-ctx.Done():
				return
			case <-w.idle[i]:
				continue
			}
		}
		msg, err := s.k.Do(ctx, cmd)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			// A delayed job or a retry: wake when it is due (no pop
			// now, the job is not ready).
			if arr, _ := msg.ToArray(); len(arr) == 2 {
				if tok, _ := arr[1].ToString(); strings.HasPrefix(tok, "d") {
					if due, perr := strconv.ParseInt(tok[1:], 10, 64); perr == nil {
						w.noteDue(time.UnixMilli(due - s.clock.Load()))
						continue
					}
				}
			}
		}
		if rueidis.IsRedisNil(err) { // the poll interval passed
			w.force.Store(true)
		}
		if err != nil && !rueidis.IsRedisNil(err) {
			s.logger.Warn("queue: work: wait failed", "queue", s.name, "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(errDelay):
			}
			errDelay = min(errDelay*2, 2*time.Second)
			continue
		}
		errDelay = 50 * time.Millisecond
		w.signal()
	}
}

// run is a delivery of a Priority[T].
type run[T any] struct {
	acker     *acker
	job       *Job[T]
	h         Handler[T]
	decodeErr error

	mu       sync.Mutex // serializes the job's calls (extend, finish, give back)
	gaveBack bool
}

// finishTimeout bounds the Ack, retry or give-back after a handler.
const finishTimeout = 10 * time.Second

func (r *run[T]) process(hard context.Context, o *WorkOptions) {
	q := r.job.q
	hctx, cancel := context.WithCancel(hard)
	defer cancel()
	if o.Timeout > 0 {
		var c context.CancelFunc
		hctx, c = context.WithTimeout(hctx, o.Timeout)
		defer c()
	}
	// Keep the job invisible while the handler runs: a timer, not a
	// goroutine per job, extends it every third of the visibility. The
	// callback runs under r.mu, so once the handler returned and stopped
	// is set no extension starts, and the finish below (also under r.mu)
	// waits for one in progress.
	every := max(q.vis/3, 10*time.Millisecond)
	var (
		ext     *time.Timer
		stopped bool
	)
	r.mu.Lock()
	ext = time.AfterFunc(every, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if stopped || r.gaveBack || r.job.finished.Load() {
			return
		}
		ectx, c := context.WithTimeout(context.Background(), max(q.vis/2, time.Second))
		_, err := r.job.extend(ectx, "queue: work: extend", q.vis)
		c()
		if errors.Is(err, ErrJobLost) {
			cancel() // someone else may have it now
			return
		}
		ext.Reset(every)
	})
	r.mu.Unlock()

	start := time.Now()
	err := r.decodeErr
	if err == nil {
		err = r.call(hctx)
	}
	q.m.handlerTime.Record(context.Background(), time.Since(start).Seconds(), q.m.attrs)
	ext.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	stopped = true
	ext.Stop() // an extension that ran meanwhile set it again
	if r.gaveBack || r.job.finished.Load() {
		return
	}
	fctx, c := context.WithTimeout(context.WithoutCancel(hard), finishTimeout)
	defer c()
	logger := engine.HooksOf(q.k.Client()).Tel.Logger
	if err == nil {
		if aerr := r.ack(fctx); aerr == nil {
			q.m.processed.Add(context.Background(), 1, q.m.attrs)
		} else {
			logger.Warn("queue: work: ack failed", "queue", q.name, "job", r.job.ID, "error", aerr)
		}
		return
	}
	q.m.failed.Add(context.Background(), 1, q.m.attrs)
	dead, ferr := r.job.fail(fctx, err)
	switch {
	case ferr != nil:
		logger.Warn("queue: work: recording a failure failed", "queue", q.name, "job", r.job.ID, "error", ferr)
	case dead:
		q.m.dead.Add(context.Background(), 1, q.m.attrs)
		logger.Warn("queue: work: job dead", "queue", q.name, "job", r.job.ID, "attempts", r.job.Attempts, "error", err)
	default:
		q.m.retried.Add(context.Background(), 1, q.m.attrs)
	}
}

// call runs the handler, turning a panic into an error (logged with its
// stack).
func (r *run[T]) call(ctx context.Context) (err error) {
	defer func() {
		if p := recover(); p != nil {
			q := r.job.q
			engine.HooksOf(q.k.Client()).Tel.Logger.Error("queue: work: handler panicked",
				"queue", q.name, "job", r.job.ID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return r.h(ctx, r.job)
}

func (r *run[T]) giveBack() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gaveBack || r.job.finished.Load() {
		return
	}
	r.gaveBack = true
	ctx, c := context.WithTimeout(context.Background(), finishTimeout)
	defer c()
	if err := r.job.nack(ctx, "queue: give back", 0, true); err != nil && !errors.Is(err, ErrJobLost) {
		q := r.job.q
		engine.HooksOf(q.k.Client()).Tel.Logger.Warn("queue: work: giving a job back failed",
			"queue", q.name, "job", r.job.ID, "error", err)
	}
}

// keepStats keeps the queue's Processed and Failed counters from expiring
// while Work runs.
func (s *source) keepStats(ctx context.Context) {
	t := time.NewTicker(s.every)
	defer t.Stop()
	cmd := s.k.B().Pexpire().Key(s.stats).Milliseconds(mustInt(s.ttl)).Build().Pin()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = s.k.Do(ctx, cmd)
		}
	}
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// combiner batches the calls of many goroutines (group commit): a caller
// that finds no batch running leads one, with every call that queued
// meanwhile; when it is done, the first call queued since leads the next.
// So a lone caller runs its call at once, and under load one round trip
// serves many calls.
type combiner[Req, Res any] struct {
	max     int
	do      func(reqs []Req) []Res // len(result) == len(reqs)
	mu      sync.Mutex
	busy    bool
	pending []*call[Req, Res]
}

type call[Req, Res any] struct {
	req  Req
	res  Res
	lead bool
	done chan struct{}
}

func (c *combiner[Req, Res]) run(req Req) Res {
	me := &call[Req, Res]{req: req, done: make(chan struct{}, 1)}
	c.mu.Lock()
	if c.busy {
		c.pending = append(c.pending, me)
		c.mu.Unlock()
		<-me.done
		if !me.lead {
			return me.res
		}
		c.mu.Lock()
	}
	c.busy = true
	n := min(len(c.pending), c.max-1)
	batch := make([]*call[Req, Res], 0, n+1)
	batch = append(append(batch, me), c.pending[:n]...)
	c.pending = append(c.pending[:0], c.pending[n:]...)
	c.mu.Unlock()

	reqs := make([]Req, len(batch))
	for i, b := range batch {
		reqs[i] = b.req
	}
	res := c.do(reqs)
	for i, b := range batch[1:] {
		b.res = res[i+1]
		b.done <- struct{}{}
	}

	c.mu.Lock()
	if len(c.pending) > 0 {
		next := c.pending[0]
		c.pending = c.pending[1:]
		c.mu.Unlock()
		next.lead = true
		next.done <- struct{}{}
	} else {
		c.busy = false
		c.mu.Unlock()
	}
	return res[0]
}

// fetcher pops for a pool's slots, several jobs in one script call when
// several slots ask at once.
type fetcher struct {
	c combiner[popReq, popRes]
}

type popReq struct{ force, cont bool }

type popRes struct {
	d    delivery
	more bool
	due  time.Duration
	err  error
}

// maxBatch caps the jobs one pop or ack script takes at once.
const maxBatch = 64

func newFetcher(src *source, worker string, batch int) *fetcher {
	a := &acker{}
	a.c = combiner[ackReq, ackRes]{max: batch, do: func(reqs []ackReq) []ackRes {
		args := make([]string, 0, 1+2*len(reqs))
		args = append(args, src.ttl)
		for _, r := range reqs {
			args = append(args, r.id, r.receipt)
		}
		ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
		defer cancel()
		msg, err := src.k.Exec(ctx, ackScript, src.ackKeys, args)
		var res []int64
		if err == nil {
			res, err = msg.AsIntSlice()
		}
		out := make([]ackRes, len(reqs))
		for i := range out {
			out[i] = ackRes{ok: err == nil && i < len(res) && res[i] == 1, err: err}
		}
		return out
	}}
	f := &fetcher{}
	f.c = combiner[popReq, popRes]{max: batch, do: func(reqs []popReq) []popRes {
		var force, cont bool
		for _, r := range reqs {
			force = force || r.force
			cont = cont || r.cont
		}
		// Never drop popped jobs with the reply: no ctx of the slots.
		ds, more, due, err := src.popMany(context.Background(), worker, len(reqs), force, cont, a)
		out := make([]popRes, len(reqs))
		for i := range out {
			switch {
			case i < len(ds):
				out[i] = popRes{d: ds[i], more: more || i < len(ds)-1, due: due}
			case err != nil:
				out[i] = popRes{due: due, err: err}
			default: // the others took what was ready
				out[i] = popRes{due: due, err: ErrEmpty}
			}
		}
		return out
	}}
	return f
}

// pop pops one job, in a batch with other slots' pops when they ask at
// the same time. It waits for a pop in progress even when ctx ends, so
// that no popped job is dropped.
func (f *fetcher) pop(ctx context.Context, force, cont bool) (delivery, bool, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, -1, err
	}
	res := f.c.run(popReq{force: force, cont: cont})
	return res.d, res.more, res.due, res.err
}

// acker acknowledges the jobs of a pool's slots, several in one script
// call when several finish at once.
type acker struct {
	c combiner[ackReq, ackRes]
}

type ackReq struct{ id, receipt string }

type ackRes struct {
	ok  bool
	err error
}

// ack acknowledges through the pool's acker, in a batch with other
// slots' acks when they finish at the same time.
func (r *run[T]) ack(ctx context.Context) error {
	const op = "queue: ack"
	j := r.job
	if r.acker == nil {
		return j.Ack(ctx)
	}
	res := r.acker.c.run(ackReq{id: j.ID, receipt: j.receipt})
	if res.err != nil {
		return redkit.Wrap(op, j.q.name, res.err)
	}
	if !res.ok {
		return j.lost(op)
	}
	j.finished.Store(true)
	j.q.m.acked.Add(context.Background(), 1, j.q.m.attrs)
	return nil
}
