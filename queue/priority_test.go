package queue_test

import (
	"cmp"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/queue"
	"github.com/redkit-go/redkit/redistest"
)

type order struct {
	ID     int      `json:"id"`
	Pizzas []string `json:"pizzas"`
	Note   string   `json:"note,omitempty"`
}

func testRoundTrip(t *testing.T, e env, name string) {
	ctx := t.Context()
	t.Run("struct", func(t *testing.T) {
		q := queue.NewPriority[order](e.k, name+"-struct", nil)
		if want := e.k.Key("queue", redkit.HashTag(name+"-struct")); q.Key() != want || q.Name() != name+"-struct" {
			t.Fatalf("Key, Name = %q, %q; want %q", q.Key(), q.Name(), want)
		}
		_, err := q.Pop(ctx, "w")
		if err != queue.ErrEmpty {
			t.Fatalf("Pop on an empty queue: %v, want ErrEmpty", err)
		}
		v := order{ID: 7, Pizzas: []string{"margherita", "diavola"}, Note: "extra basil"}
		id, err := q.Push(ctx, v, 5)
		if err != nil || id == "" {
			t.Fatalf("Push = %q, %v", id, err)
		}
		counts(t, q, 1, 0, 0)
		before := time.Now()
		job := mustPop(t, q, "worker-1")
		if job.ID != id || job.Priority != 5 || job.Attempts != 1 || job.Worker != "worker-1" ||
			job.Value.ID != 7 || !slices.Equal(job.Value.Pizzas, v.Pizzas) || job.Value.Note != v.Note {
			t.Fatalf("Pop = %+v, want job %s with %+v, priority 5, attempt 1", job, id, v)
		}
		// The deadline is about Visibility (30s) from now.
		if d := job.Deadline.Sub(before); d < 25*time.Second || d > 40*time.Second {
			t.Fatalf("Deadline is %v from now, want about 30s", d)
		}
		counts(t, q, 0, 1, 0)
		if _, err := q.Pop(ctx, "worker-2"); err != queue.ErrEmpty {
			t.Fatalf("second Pop: %v, want ErrEmpty (the job is in flight)", err)
		}
		if err := job.Ack(ctx); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		counts(t, q, 0, 0, 0)
		noJobData(t, e, q.Key())
		wantIs(t, "second Ack", job.Ack(ctx), queue.ErrJobLost)
		wantIs(t, "Nack after Ack", job.Nack(ctx, 0), queue.ErrJobLost)
		// Nothing is left behind but the FIFO counter and wake-up list.
		if ok, err := q.Delete(ctx); err != nil || !ok {
			t.Fatalf("Delete = %v, %v", ok, err)
		}
		if ok, err := q.Delete(ctx); err != nil || ok {
			t.Fatalf("second Delete = %v, %v; want false", ok, err)
		}
	})
	t.Run("string", func(t *testing.T) {
		q := queue.NewPriority[string](e.k, name+"-string", nil)
		for _, s := range []string{"", "plain", "\xffRKz looks framed", "ünïcode"} {
			_, err := q.Push(ctx, s, 0)
			if err != nil {
				t.Fatal(err)
			}
			job := mustPop(t, q, "w")
			if job.Value != s {
				t.Fatalf("Pop = %q, want %q", job.Value, s)
			}
			if err := job.Ack(ctx); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("unencodable", func(t *testing.T) {
		q := queue.NewPriority[float64](e.k, name+"-nan", nil)
		_, err := q.Push(ctx, math.Inf(1), 0)
		if err == nil || errors.Is(err, redkit.ErrUnavailable) {
			t.Fatalf("Push(+Inf value) = %v, want a codec error (not ErrUnavailable)", err)
		}
	})
	t.Run("number", func(t *testing.T) {
		q := queue.NewPriority[float64](e.k, name+"-number", nil)
		// JSON cannot encode infinities: the value is the priority's
		// index, the priority covers the whole float range.
		prios := []float64{math.Inf(-1), -1.5, 0, 1e-9, 1e300, math.Inf(1)}
		for i, p := range prios {
			if _, err := q.Push(ctx, float64(i), p); err != nil {
				t.Fatalf("Push(priority %v): %v", p, err)
			}
		}
		for i := len(prios) - 1; i >= 0; i-- {
			job := mustPop(t, q, "w")
			if job.Priority != prios[i] || job.Value != float64(i) {
				t.Fatalf("Pop = priority %v value %v, want %v and %d", job.Priority, job.Value, prios[i], i)
			}
			if err := job.Ack(ctx); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// testPriorityOrder pushes jobs with random priorities (many ties) and
// checks that they pop highest first, first in first out among equals.
func testPriorityOrder(t *testing.T, e env, name string) {
	ctx := t.Context()
	q := queue.NewPriority[int](e.k, name, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	type pushed struct {
		seq  int
		prio float64
	}
	var all []pushed
	for i := range 300 {
		p := float64(rng.IntN(10)) - 3 + []float64{0, 0.5}[rng.IntN(2)]
		if _, err := q.Push(ctx, i, p); err != nil {
			t.Fatal(err)
		}
		all = append(all, pushed{i, p})
	}
	slices.SortStableFunc(all, func(a, b pushed) int { return cmp.Compare(b.prio, a.prio) })
	for i, want := range all {
		job := mustPop(t, q, "w")
		if job.Value != want.seq || job.Priority != want.prio {
			t.Fatalf("pop %d = job %d (priority %v), want job %d (priority %v)", i, job.Value, job.Priority, want.seq, want.prio)
		}
		if err := job.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	counts(t, q, 0, 0, 0)
}

// testRedelivery: a job whose worker does not finish within the
// visibility timeout goes back to the queue, is delivered again with one
// more attempt, and the first worker can no longer acknowledge it.
func testRedelivery(t *testing.T, e env, name string) {
	ctx := t.Context()
	const vis = 300 * time.Millisecond
	q := queue.NewPriority[string](e.k, name, &queue.Options{Visibility: vis})
	id, err := q.Push(ctx, "slow", 1)
	if err != nil {
		t.Fatal(err)
	}
	first := mustPop(t, q, "stalled")
	if _, err := q.Pop(ctx, "other"); err != queue.ErrEmpty {
		t.Fatalf("Pop while in flight: %v, want ErrEmpty", err)
	}
	var second *queue.Job[string]
	waitFor(t, "redelivery", func() bool {
		job, err := q.Pop(ctx, "other")
		if err == queue.ErrEmpty {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		second = job
		return true
	})
	if at := second.Deadline.Add(-vis); at.Before(first.Deadline) {
		t.Fatalf("redelivered at %v, before the first delivery's deadline %v (Redis clock)", at, first.Deadline)
	}
	if second.ID != id || second.Attempts != 2 || second.Worker != "other" || second.Value != "slow" {
		t.Fatalf("redelivered job = %+v, want %s attempt 2", second, id)
	}
	wantIs(t, "stale Ack", first.Ack(ctx), queue.ErrJobLost)
	wantIs(t, "stale Nack", first.Nack(ctx, 0), queue.ErrJobLost)
	wantIs(t, "stale Extend", first.Extend(ctx, time.Minute), queue.ErrJobLost)
	if !strings.Contains(first.Ack(ctx).Error(), id) {
		t.Errorf("ErrJobLost does not name the job")
	}
	counts(t, q, 0, 1, 0)
	if err := second.Ack(ctx); err != nil {
		t.Fatalf("Ack by the current owner: %v", err)
	}
	counts(t, q, 0, 0, 0)

	// An Ack after the deadline, before any Pop reclaimed the job, still
	// counts: nobody else has it.
	if _, err := q.Push(ctx, "late", 1); err != nil {
		t.Fatal(err)
	}
	late := mustPop(t, q, "late")
	time.Sleep(time.Until(late.Deadline) + 50*time.Millisecond)
	if err := late.Ack(ctx); err != nil {
		t.Fatalf("late Ack before reclaim: %v", err)
	}
	if _, err := q.Pop(ctx, "other"); err != queue.ErrEmpty {
		t.Fatalf("Pop after the late Ack: %v, want ErrEmpty", err)
	}
}

func testNack(t *testing.T, e env, name string) {
	ctx := t.Context()
	q := queue.NewPriority[int](e.k, name, nil)
	for i, p := range []float64{1, 2, 2} {
		if _, err := q.Push(ctx, i, p); err != nil {
			t.Fatal(err)
		}
	}
	job := mustPop(t, q, "w") // job 1 (priority 2, first in)
	if job.Value != 1 {
		t.Fatalf("Pop = %d, want 1", job.Value)
	}
	// Nack(0): back at once, behind job 2 of the same priority.
	if err := job.Nack(ctx, 0); err != nil {
		t.Fatal(err)
	}
	wantIs(t, "Ack after Nack", job.Ack(ctx), queue.ErrJobLost)
	counts(t, q, 3, 0, 0)
	if j := mustPop(t, q, "w"); j.Value != 2 || j.Attempts != 1 {
		t.Fatalf("Pop = %d attempt %d, want 2 attempt 1", j.Value, j.Attempts)
	} else if err := j.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	job = mustPop(t, q, "w")
	if job.Value != 1 || job.Attempts != 2 {
		t.Fatalf("Pop = %d attempt %d, want 1 attempt 2", job.Value, job.Attempts)
	}
	// Nack with a delay: not ready until it is due.
	wantIs(t, "Nack(-1s)", job.Nack(ctx, -time.Second), redkit.ErrNegativeTTL)
	if err := job.Nack(ctx, 400*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	counts(t, q, 1, 0, 1)
	if j := mustPop(t, q, "w"); j.Value != 0 {
		t.Fatalf("Pop = %d, want 0 (job 1 is delayed)", j.Value)
	} else if err := j.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Pop(ctx, "w"); err != queue.ErrEmpty {
		t.Fatalf("Pop before the delay: %v, want ErrEmpty", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	job, err := q.PopWait(wctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	if job.Value != 1 || job.Attempts != 3 {
		t.Fatalf("PopWait = %d attempt %d, want 1 attempt 3", job.Value, job.Attempts)
	}
	if err := job.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	counts(t, q, 0, 0, 0)
}

func testDelayed(t *testing.T, e env, name string) {
	ctx := t.Context()
	q := queue.NewPriority[string](e.k, name, nil)
	const delay = 300 * time.Millisecond
	start := time.Now()
	if _, err := q.PushDelayed(ctx, "later", 9, delay); err != nil {
		t.Fatal(err)
	}
	if _, err := q.PushDelayed(ctx, "now", 1, 0); err != nil {
		t.Fatal(err)
	}
	_, err := q.PushDelayed(ctx, "never", 1, -time.Second)
	wantIs(t, "PushDelayed(-1s)", err, redkit.ErrNegativeTTL)
	counts(t, q, 1, 0, 1)
	if j := mustPop(t, q, "w"); j.Value != "now" {
		t.Fatalf("Pop = %q, want now (the other is delayed)", j.Value)
	} else if err := j.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	job, err := q.PopWait(wctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	// Redis measures the delay in whole milliseconds on its own clock.
	if el := time.Since(start); job.Value != "later" || el < delay-5*time.Millisecond {
		t.Fatalf("PopWait = %q after %v, want later after at least %v", job.Value, el, delay)
	}
	if err := job.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

func testPopWait(t *testing.T, e env, name string) {
	ctx := t.Context()
	// A long poll interval: only the push's wake-up can end the wait in
	// time for the deadline below.
	q := queue.NewPriority[int](e.k, name, &queue.Options{PollInterval: time.Minute})
	// Timeout with nothing to pop.
	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err := q.PopWait(sctx, "w")
	cancel()
	wantIs(t, "PopWait timeout", err, queue.ErrEmpty)
	wantIs(t, "PopWait timeout", err, context.DeadlineExceeded)

	// Several waiters; each push wakes one.
	const waiters = 4
	got := make(chan int, waiters)
	errs := make(chan error, waiters)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range waiters {
		wg.Go(func() {
			job, err := q.PopWait(wctx, "w")
			if err != nil {
				errs <- err
				return
			}
			got <- job.Value
			errs <- job.Ack(wctx)
		})
	}
	time.Sleep(100 * time.Millisecond) // let them block
	for i := range waiters {
		if _, err := q.Push(ctx, i, 0); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(got)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var vals []int
	for v := range got {
		vals = append(vals, v)
	}
	slices.Sort(vals)
	if !slices.Equal(vals, []int{0, 1, 2, 3}) {
		t.Fatalf("waiters got %v, want [0 1 2 3]", vals)
	}
	// A cancelled context returns at once.
	cctx, cancel2 := context.WithCancel(ctx)
	cancel2()
	_, err = q.PopWait(cctx, "w")
	wantIs(t, "PopWait cancelled", err, context.Canceled)
}

func testExtend(t *testing.T, e env, name string) {
	ctx := t.Context()
	q := queue.NewPriority[int](e.k, name, &queue.Options{Visibility: 200 * time.Millisecond})
	if _, err := q.Push(ctx, 1, 0); err != nil {
		t.Fatal(err)
	}
	job := mustPop(t, q, "w")
	old := job.Deadline
	if err := job.Extend(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if job.Deadline.Sub(old) < 50*time.Second {
		t.Fatalf("Extend moved the deadline by %v, want about 1m", job.Deadline.Sub(old))
	}
	wantIs(t, "Extend(-1s)", job.Extend(ctx, -time.Second), redkit.ErrNegativeTTL)
	time.Sleep(400 * time.Millisecond) // past the original deadline
	if _, err := q.Pop(ctx, "other"); err != queue.ErrEmpty {
		t.Fatalf("Pop after Extend: %v, want ErrEmpty", err)
	}
	if err := job.Extend(ctx, 0); err != nil { // back to Visibility
		t.Fatal(err)
	}
	if err := job.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	counts(t, q, 0, 0, 0)
}

func testCorrupt(t *testing.T, e env, name string) {
	ctx := t.Context()
	q := queue.NewPriority[order](e.k, name, nil)
	id, err := q.Push(ctx, order{ID: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.k.Do(ctx, e.k.B().Hset().Key(q.Key()+":meta").FieldValue().FieldValue(id+":v", "\xc1 junk").Build()); err != nil {
		t.Fatal(err)
	}
	job, err := q.Pop(ctx, "w")
	wantIs(t, "Pop of a corrupt job", err, redkit.ErrDecode)
	if job == nil || job.ID != id || !strings.Contains(err.Error(), id) {
		t.Fatalf("Pop = %+v, %v; want the job and an error naming the job", job, err)
	}
	wantKey(t, "Pop of a corrupt job", err, name)
	// The job is in flight: Ack drops it.
	if err := job.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	counts(t, q, 0, 0, 0)
	err = job.Ack(ctx)
	wantIs(t, "second Ack", err, queue.ErrJobLost)
	wantKey(t, "second Ack", err, name)
}

// wantKey checks that err is a *redkit.Error whose Key is the caller's
// key: the queue's name, not its Redis keys.
func wantKey(t *testing.T, what string, err error, key string) {
	t.Helper()
	var re *redkit.Error
	if !errors.As(err, &re) {
		t.Fatalf("%s: err = %v (%T), want a *redkit.Error", what, err, err)
	}
	if re.Key != key {
		t.Errorf("%s: Error.Key = %q, want the queue's name %q", what, re.Key, key)
	}
}

func testWrongType(t *testing.T, e env, name string) {
	ctx := t.Context()
	q := queue.NewPriority[int](e.k, name, nil)
	if _, err := e.k.Do(ctx, e.k.B().Set().Key(q.Key()+":ready").Value("x").Build()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		op   string
		call func() error
	}{
		{"Push", func() error { _, err := q.Push(ctx, 1, 0); return err }},
		{"PopWait", func() error { _, err := q.PopWait(ctx, "w"); return err }},
		{"Pop", func() error { _, err := q.Pop(ctx, "w"); return err }},
		{"Len", func() error { _, err := q.Len(ctx); return err }},
	} {
		err := c.call()
		wantIs(t, c.op, err, redkit.ErrWrongType)
		wantKey(t, c.op, err, name)
	}
}

// testConcurrentWorkers: 8 workers, 10,000 jobs, nobody dies → every job
// processed exactly once.
func testConcurrentWorkers(t *testing.T, e env, name string) {
	ctx := t.Context()
	const jobs, workers = 10_000, 8
	q := queue.NewPriority[int](e.k, name, nil)
	var wg sync.WaitGroup
	pushErr := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < jobs; i += workers {
				if _, err := q.Push(ctx, i, float64(i%5)); err != nil {
					pushErr <- err
					return
				}
			}
		})
	}
	seen := make([]atomic.Int32, jobs)
	var done atomic.Int64
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	errs := make(chan error, workers)
	var wwg sync.WaitGroup
	for w := range workers {
		wwg.Go(func() {
			worker := "w" + string(rune('0'+w))
			for done.Load() < jobs {
				job, err := q.PopWait(wctx, worker)
				if errors.Is(err, queue.ErrEmpty) && wctx.Err() != nil {
					if done.Load() < jobs {
						errs <- errors.New("timed out")
					}
					return
				}
				if err != nil {
					errs <- err
					return
				}
				seen[job.Value].Add(1)
				if err := job.Ack(wctx); err != nil {
					errs <- err
					return
				}
				if done.Add(1) == jobs {
					cancel() // wake the others
				}
			}
		})
	}
	wg.Wait()
	close(pushErr)
	for err := range pushErr {
		t.Fatal(err)
	}
	wwg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range seen {
		if n := seen[i].Load(); n != 1 {
			t.Fatalf("job %d processed %d times, want once", i, n)
		}
	}
	counts(t, q, 0, 0, 0)
	noJobData(t, e, q.Key())
}

// testWorkerProcessKilled: a worker process is killed after Pop; its job
// comes back after the visibility timeout, is processed once more, and
// nothing is lost.
func testWorkerProcessKilled(t *testing.T, e env, name string) {
	ctx := t.Context()
	const vis = time.Second
	q := queue.NewPriority[int](e.k, name, &queue.Options{Visibility: vis})
	ids := map[string]int{}
	for i := range 5 {
		id, err := q.Push(ctx, i, float64(i)) // job 4 first
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = i
	}
	cmd, id, v, deadline := startWorkerProcess(t, e, name, vis)
	if ids[id] != v || v != 4 {
		t.Fatalf("worker process popped %s = %d, want the highest priority job 4", id, v)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	counts(t, q, 4, 1, 0)

	processed := map[int]int{}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for len(processed) < 5 {
		job, err := q.PopWait(wctx, "survivor")
		if err != nil {
			t.Fatalf("PopWait with %v processed: %v", processed, err)
		}
		processed[job.Value]++
		if job.Value == 4 {
			if job.ID != id || job.Attempts != 2 {
				t.Fatalf("redelivered job = %+v, want %s attempt 2", job, id)
			}
			// On the Redis clock: the redelivery happened at its new
			// deadline minus the visibility timeout.
			if at := job.Deadline.Add(-vis); at.Before(deadline) {
				t.Fatalf("job redelivered at %v, before the dead worker's deadline %v", at, deadline)
			}
		} else if job.Attempts != 1 {
			t.Fatalf("job %d attempt %d, want 1", job.Value, job.Attempts)
		}
		if err := job.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if processed[i] != 1 {
			t.Fatalf("processed = %v, want each of 0..4 once", processed)
		}
	}
	counts(t, q, 0, 0, 0)
	noJobData(t, e, q.Key())
}

func TestBadInput(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := open(t, []string{srv.Addr()})
	ctx := t.Context()
	empty := queue.NewPriority[int](k, "", nil)
	_, err := empty.Push(ctx, 1, 0)
	wantIs(t, "Push on an empty name", err, redkit.ErrEmptyKey)
	_, err = empty.Pop(ctx, "w")
	wantIs(t, "Pop on an empty name", err, redkit.ErrEmptyKey)
	_, err = empty.PopWait(ctx, "w")
	wantIs(t, "PopWait on an empty name", err, redkit.ErrEmptyKey)
	_, err = empty.Len(ctx)
	wantIs(t, "Len on an empty name", err, redkit.ErrEmptyKey)

	q := queue.NewPriority[int](k, "ok", nil)
	if _, err := q.Push(ctx, 1, math.NaN()); err == nil {
		t.Fatal("Push with a NaN priority succeeded")
	}
	if st := k.Stats(); st.Ops != 0 {
		t.Errorf("bad input sent %d commands, want 0", st.Ops)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("NewPriority(nil) did not panic")
			}
		}()
		queue.NewPriority[int](nil, "x", nil)
	}()
}

// noJobData checks that acknowledged jobs left nothing behind.
func noJobData(t *testing.T, e env, base string) {
	t.Helper()
	for _, k := range []string{base + ":jobs", base + ":meta"} {
		msg, err := e.k.Do(t.Context(), e.k.B().Hlen().Key(k).Build())
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := msg.AsInt64(); n != 0 {
			t.Fatalf("%s has %d fields left after every job was acknowledged", k, n)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *queue.Options
		want []string // substrings of the error; nil: valid
	}{
		{"nil", nil, nil},
		{"zero", &queue.Options{}, nil},
		{"set", &queue.Options{Visibility: time.Minute, PollInterval: time.Second, ReclaimBatch: 10}, nil},
		{"Visibility", &queue.Options{Visibility: -time.Second}, []string{"queue: Options.Visibility must not be negative (got -1s)"}},
		{"several", &queue.Options{PollInterval: -time.Millisecond, ReclaimBatch: -1}, []string{
			"queue: Options.PollInterval must not be negative (got -1ms)",
			"queue: Options.ReclaimBatch must not be negative (got -1)"}},
		{"DeadRetention", &queue.Options{DeadRetention: -time.Hour, MaxAttempts: -1}, []string{
			"queue: Options.DeadRetention must not be negative (got -1h0m0s)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.WantValid(t, tc.opts.Validate(), tc.want)
		})
	}
}

// TestNewPriorityPanicsOnInvalidOptions: invalid options are a
// construction-time programming error, not an error from every call.
func TestNewPriorityPanicsOnInvalidOptions(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := open(t, []string{srv.Addr()})
	for _, opts := range []*queue.Options{{Visibility: -time.Second}, {ReclaimBatch: -5}} {
		func() {
			defer func() {
				r := recover()
				err, ok := r.(error)
				if !ok || err.Error() != opts.Validate().Error() {
					t.Errorf("NewPriority(%+v): recover() = %v; want Validate's error", *opts, r)
				}
			}()
			queue.NewPriority[int](k, "neg", opts)
		}()
	}
	if st := k.Stats(); st.Ops != 0 {
		t.Errorf("invalid options sent %d commands, want 0", st.Ops)
	}
}

func TestWorkOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *queue.WorkOptions
		want []string
	}{
		{"nil", nil, nil},
		{"zero", &queue.WorkOptions{}, nil},
		{"set", &queue.WorkOptions{Concurrency: 3, Timeout: time.Second, ShutdownTimeout: time.Second, Strict: true}, nil},
		{"several", &queue.WorkOptions{Concurrency: -1, Timeout: -time.Second, ShutdownTimeout: -time.Millisecond}, []string{
			"queue: WorkOptions.Concurrency must not be negative (got -1)",
			"queue: WorkOptions.Timeout must not be negative (got -1s)",
			"queue: WorkOptions.ShutdownTimeout must not be negative (got -1ms)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.WantValid(t, tc.opts.Validate(), tc.want)
		})
	}
	for _, tc := range []struct {
		name string
		opts *queue.SchedulerOptions
		want []string
	}{
		{"nil", nil, nil},
		{"set", &queue.SchedulerOptions{MaxSkew: time.Second, Location: time.UTC}, nil},
		{"MaxSkew", &queue.SchedulerOptions{MaxSkew: -time.Second}, []string{
			"queue: SchedulerOptions.MaxSkew must not be negative (got -1s)"}},
	} {
		t.Run("Scheduler/"+tc.name, func(t *testing.T) {
			testutil.WantValid(t, tc.opts.Validate(), tc.want)
		})
	}
}
