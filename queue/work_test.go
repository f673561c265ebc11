package queue_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/queue"
)

func init() {
	suite = append(suite, []struct {
		name string
		fn   func(t *testing.T, e env, name string)
	}{
		{"WorkExactlyOnce", testWorkExactlyOnce},
		{"WorkPoison", testWorkPoison},
		{"WorkLongHandler", testWorkLongHandler},
		{"WorkGracefulStop", testWorkGracefulStop},
		{"WorkShutdownTimeout", testWorkShutdownTimeout},
		{"WorkProcessKilled", testWorkProcessKilled},
		{"WorkWoken", testWorkWoken},
		{"PushUnique", testPushUnique},
		{"NoLeftovers", testNoLeftovers},
		{"WorkMany", testWorkMany},
	}...)
}

// working runs Work in a goroutine; stop ends it and returns its error.
func working[T any](t *testing.T, q *queue.Priority[T], worker string, h queue.Handler[T], o *queue.WorkOptions) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Work(ctx, worker, h, o) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				err = errors.New("Work did not return within 60s of its ctx ending")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func fastRetry(int) time.Duration { return 5 * time.Millisecond }

// testWorkExactlyOnce: two Kits, four handlers each, every third job
// failing its first attempt: every job succeeds exactly once, and no job
// is ever in two handlers at once.
func testWorkExactlyOnce(t *testing.T, e env, name string) {
	ctx := t.Context()
	const n = 150
	opts := &queue.Options{Backoff: fastRetry}
	q1 := queue.NewPriority[int](e.k, name, opts)
	q2 := queue.NewPriority[int](open(t, e.addrs), name, opts)
	var (
		mu        sync.Mutex
		running   = map[string]bool{}
		succeeded = map[int]int{}
		failed    atomic.Int64
		overlap   atomic.Int64
	)
	h := func(ctx context.Context, job *queue.Job[int]) error {
		mu.Lock()
		if running[job.ID] {
			overlap.Add(1)
		}
		running[job.ID] = true
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		delete(running, job.ID)
		if job.Value%3 == 0 && job.Attempts == 1 {
			failed.Add(1)
			return fmt.Errorf("injected failure of %d", job.Value)
		}
		if job.Attempts > 1 && job.LastError == "" {
			return fmt.Errorf("job %d attempt %d has no LastError", job.Value, job.Attempts)
		}
		succeeded[job.Value]++
		return nil
	}
	wo := &queue.WorkOptions{Concurrency: 4}
	stop1 := working(t, q1, "kit1", h, wo)
	stop2 := working(t, q2, "kit2", h, wo)
	for i := range n {
		if _, err := q1.Push(ctx, i, 0); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every job to succeed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(succeeded) == n
	})
	if err := errors.Join(stop1(), stop2()); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if succeeded[i] != 1 {
			t.Errorf("job %d succeeded %d times", i, succeeded[i])
		}
	}
	if overlap.Load() != 0 {
		t.Errorf("%d times a job was in two handlers at once", overlap.Load())
	}
	st, err := q1.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Processed != n || st.Failed != failed.Load() || st.Waiting+st.Delayed+st.InFlight+st.Dead != 0 {
		t.Fatalf("Stats = %+v, want %d processed, %d failed, nothing left", st, n, failed.Load())
	}
}

// testWorkPoison: a job that always fails is dead after MaxAttempts,
// listed by Dead with its last error, and Requeue brings it back.
func testWorkPoison(t *testing.T, e env, name string) {
	ctx := t.Context()
	q := queue.NewPriority[string](e.k, name, &queue.Options{MaxAttempts: 3, Backoff: fastRetry})
	var healed atomic.Bool
	var calls sync.Map // value -> *atomic.Int64
	stop := working(t, q, "w", func(ctx context.Context, job *queue.Job[string]) error {
		c, _ := calls.LoadOrStore(job.Value, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
		if healed.Load() {
			return nil
		}
		if job.Value == "panic" {
			panic("oven on fire")
		}
		return errors.New("burnt")
	}, nil)
	for _, v := range []string{"burnt", "panic"} {
		if _, err := q.Push(ctx, v, 0); err != nil {
			t.Fatal(err)
		}
	}
	var dead []*queue.Job[string]
	waitFor(t, "two dead jobs", func() bool {
		var err error
		dead, err = q.Dead(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(dead) == 2
	})
	for _, j := range dead {
		want := "burnt"
		if j.Value == "panic" {
			want = "panic: oven on fire"
		}
		if j.Attempts != 3 || j.LastError != want {
			t.Errorf("dead job %+v, want 3 attempts and LastError %q", j, want)
		}
		if c, _ := calls.Load(j.Value); c.(*atomic.Int64).Load() != 3 {
			t.Errorf("%s handled %d times, want 3", j.Value, c.(*atomic.Int64).Load())
		}
	}
	if !dead[0].Deadline.After(dead[1].Deadline) && !dead[0].Deadline.Equal(dead[1].Deadline) {
		t.Errorf("Dead not newest first: %v then %v", dead[0].Deadline, dead[1].Deadline)
	}
	if st, _ := q.Stats(ctx); st.Dead != 2 || st.Failed != 6 {
		t.Errorf("Stats = %+v, want 2 dead, 6 failed", st)
	}
	wantIs(t, "Requeue(unknown)", q.Requeue(ctx, "nope"), redkit.ErrNotFound)
	healed.Store(true)
	for _, j := range dead {
		if err := q.Requeue(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the requeued jobs to succeed", func() bool {
		st, err := q.Stats(ctx)
		return err == nil && st.Processed == 2 && st.Dead == 0 && st.Waiting+st.InFlight == 0
	})
	wantIs(t, "second Requeue", q.Requeue(ctx, dead[0].ID), redkit.ErrNotFound)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// testWorkLongHandler: a handler running for several visibility timeouts
// is not delivered again, even with other workers polling.
func testWorkLongHandler(t *testing.T, e env, name string) {
	ctx := t.Context()
	q := queue.NewPriority[int](e.k, name, &queue.Options{Visibility: 600 * time.Millisecond, PollInterval: 50 * time.Millisecond})
	var calls, done atomic.Int64
	h := func(ctx context.Context, job *queue.Job[int]) error {
		calls.Add(1)
		select {
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
		done.Add(1)
		return nil
	}
	stop1 := working(t, q, "a", h, &queue.WorkOptions{Concurrency: 2})
	stop2 := working(t, q, "b", h, &queue.WorkOptions{Concurrency: 2})
	for i := range 2 {
		if _, err := q.Push(ctx, i, 0); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both jobs done", func() bool { return done.Load() == 2 })
	if err := errors.Join(stop1(), stop2()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Fatalf("handler called %d times for 2 jobs: a running job was delivered again", calls.Load())
	}
}

// testWorkGracefulStop: stopping waits for running handlers; what did
// not start stays queued; nothing is lost.
func testWorkGracefulStop(t *testing.T, e env, name string) {
	ctx := t.Context()
	q := queue.NewPriority[int](e.k, name, nil)
	const n = 20
	for i := range n {
		if _, err := q.Push(ctx, i, 0); err != nil {
			t.Fatal(err)
		}
	}
	var started, finished atomic.Int64
	stop := working(t, q, "w", func(ctx context.Context, job *queue.Job[int]) error {
		started.Add(1)
		time.Sleep(200 * time.Millisecond)
		finished.Add(1)
		return nil
	}, &queue.WorkOptions{Concurrency: 4, ShutdownTimeout: 30 * time.Second})
	waitFor(t, "a handler to start", func() bool { return started.Load() > 0 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if started.Load() != finished.Load() {
		t.Fatalf("%d handlers started, %d finished: Work returned before they were done", started.Load(), finished.Load())
	}
	st, err := q.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.InFlight != 0 || st.Processed != finished.Load() || st.Waiting != n-finished.Load() {
		t.Fatalf("Stats = %+v after %d finished of %d", st, finished.Load(), n)
	}
}

// testWorkShutdownTimeout: a handler still running at ShutdownTimeout has
// its ctx cancelled and its job given back, the attempt not counted.
func testWorkShutdownTimeout(t *testing.T, e env, name string) {
	ctx := t.Context()
	q := queue.NewPriority[int](e.k, name, nil)
	if _, err := q.Push(ctx, 1, 0); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	var cancelled atomic.Bool
	stop := working(t, q, "w", func(ctx context.Context, job *queue.Job[int]) error {
		close(started)
		<-ctx.Done()
		cancelled.Store(true)
		return ctx.Err()
	}, &queue.WorkOptions{Concurrency: 1, ShutdownTimeout: 100 * time.Millisecond})
	<-started
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !cancelled.Load() {
		t.Fatal("the handler's ctx was not cancelled")
	}
	job := mustPop(t, q, "next")
	if job.Attempts != 1 || job.LastError != "" {
		t.Fatalf("given back job = %+v, want attempt 1 with no error", job)
	}
	if err := job.Ack(ctx); err != nil {
		t.Fatal(err)
	}
}

// testWorkProcessKilled: a worker process running Work is killed
// mid-job; the job is delivered again after the visibility timeout and
// done once.
func testWorkProcessKilled(t *testing.T, e env, name string) {
	ctx := t.Context()
	const vis = time.Second
	q := queue.NewPriority[int](e.k, name, &queue.Options{Visibility: vis})
	id, err := q.Push(ctx, 42, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd, got, v, _ := startChild(t, e, "work", name, vis)
	if got != id || v != 42 {
		t.Fatalf("worker process got %s = %d, want %s", got, v, id)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	var done atomic.Int64
	var attempts atomic.Int64
	stop := working(t, q, "survivor", func(ctx context.Context, job *queue.Job[int]) error {
		attempts.Store(int64(job.Attempts))
		done.Add(1)
		return nil
	}, nil)
	waitFor(t, "the job redelivered and done", func() bool { return done.Load() == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if done.Load() != 1 || attempts.Load() != 2 {
		t.Fatalf("done %d times, attempt %d; want once, on attempt 2", done.Load(), attempts.Load())
	}
	if st, _ := q.Stats(ctx); st.Waiting+st.InFlight+st.Delayed != 0 {
		t.Fatalf("Stats = %+v, want nothing left", st)
	}
}

// testWorkWoken: with a poll interval of an hour, an idle worker still
// starts pushed jobs at once, and delayed ones when due: it is woken.
func testWorkWoken(t *testing.T, e env, name string) {
	ctx := t.Context()
	q := queue.NewPriority[time.Time](e.k, name, &queue.Options{PollInterval: time.Hour})
	type start struct{ pushed, started time.Time }
	got := make(chan start, 10)
	stop := working(t, q, "w", func(ctx context.Context, job *queue.Job[time.Time]) error {
		got <- start{job.Value, time.Now()}
		return nil
	}, &queue.WorkOptions{Concurrency: 3})
	time.Sleep(100 * time.Millisecond) // let Work go idle
	for range 3 {
		if _, err := q.Push(ctx, time.Now(), 0); err != nil {
			t.Fatal(err)
		}
		select {
		case s := <-got:
			t.Logf("pickup %v", s.started.Sub(s.pushed))
		case <-time.After(30 * time.Second):
			t.Fatal("an idle worker did not start a pushed job (no wake-up)")
		}
		time.Sleep(50 * time.Millisecond)
	}
	const delay = 300 * time.Millisecond
	if _, err := q.PushDelayed(ctx, time.Now().Add(delay), 0, delay); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		// s.pushed is when the job was due (on this machine's clock, which
		// Redis shares here).
		late := s.started.Sub(s.pushed)
		t.Logf("delayed job started %v after due", late)
		if late < -50*time.Millisecond {
			t.Fatalf("delayed job started %v before due", -late)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a delayed job did not start (no timer)")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func testPushUnique(t *testing.T, e env, name string) {
	ctx := t.Context()
	q := queue.NewPriority[string](e.k, name, &queue.Options{MaxAttempts: 1})
	id, err := q.PushUnique(ctx, "a", 0, "order-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	holder, err := q.PushUnique(ctx, "b", 0, "order-1", 0)
	wantIs(t, "PushUnique while waiting", err, queue.ErrDuplicate)
	if holder != id {
		t.Fatalf("duplicate reports holder %q, want %q", holder, id)
	}
	if _, err := q.PushUnique(ctx, "c", 0, "order-2", 0); err != nil {
		t.Fatal(err)
	}
	job := mustPop(t, q, "w")
	_, err = q.PushUnique(ctx, "b", 0, "order-1", 0)
	wantIs(t, "PushUnique while in flight", err, queue.ErrDuplicate)
	if err := job.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	// Acked and no ttl: free again.
	id2, err := q.PushUnique(ctx, "d", 0, "order-1", 0)
	if err != nil {
		t.Fatalf("PushUnique after the holder was acked: %v", err)
	}
	// A ttl outlives the job.
	if _, err := q.PushUnique(ctx, "e", 0, "order-3", 700*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		j := mustPop(t, q, "w")
		if err := j.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	_, err = q.PushUnique(ctx, "f", 0, "order-3", 0)
	wantIs(t, "PushUnique within ttl after ack", err, queue.ErrDuplicate)
	waitFor(t, "the ttl to pass", func() bool {
		_, err := q.PushUnique(ctx, "g", 0, "order-3", 0)
		return err == nil
	})
	// A failed (dead) job releases its key too.
	stop := working(t, q, "w", func(ctx context.Context, job *queue.Job[string]) error {
		return errors.New("failed")
	}, nil)
	waitFor(t, "the failing jobs dead", func() bool {
		st, err := q.Stats(ctx)
		return err == nil && st.Dead == 1 && st.Waiting+st.InFlight+st.Delayed == 0
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := q.PushUnique(ctx, "h", 0, "order-3", 0); err != nil {
		t.Fatalf("PushUnique after the holder died: %v", err)
	}
	_ = id2
	if _, err := q.PushUnique(ctx, "x", 0, "k", -time.Second); !errors.Is(err, redkit.ErrNegativeTTL) {
		t.Fatalf("PushUnique with a negative ttl: %v", err)
	}
}

// testNoLeftovers: after every job is acked or dead and past retention,
// none of the queue's keys remain.
func testNoLeftovers(t *testing.T, e env, name string) {
	ctx := t.Context()
	const retention = 500 * time.Millisecond
	q := queue.NewPriority[int](e.k, name, &queue.Options{MaxAttempts: 2, Backoff: fastRetry, DeadRetention: retention})
	stop := working(t, q, "w", func(ctx context.Context, job *queue.Job[int]) error {
		if job.Value%2 == 1 {
			return errors.New("odd")
		}
		return nil
	}, nil)
	for i := range 20 {
		var err error
		switch i % 3 {
		case 0:
			_, err = q.Push(ctx, i, 0)
		case 1:
			_, err = q.PushDelayed(ctx, i, 0, 50*time.Millisecond)
		default:
			_, err = q.PushUnique(ctx, i, 0, fmt.Sprint("u", i), 200*time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	var last queue.Stats
	waitFor(t, "every job processed", func() bool {
		st, err := q.Stats(ctx)
		if st != last {
			t.Logf("%v %+v", time.Now().Format("15:04:05.000"), st)
			last = st
		}
		return err == nil && st.Processed == 10 && st.Failed == 20
	})
	// The idle worker removes the dead jobs once retention has passed.
	waitFor(t, "dead jobs removed", func() bool {
		st, err := q.Stats(ctx)
		return err == nil && st.Dead == 0
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var left []string
	waitFor(t, "no keys left", func() bool {
		left = left[:0]
		for _, s := range []string{"ready", "delayed", "inflight", "jobs", "meta", "seq", "signal", "dead", "stats", "uniq", "uniqx"} {
			k := q.Key() + ":" + s
			msg, err := e.k.Do(ctx, e.k.B().Exists().Key(k).Build())
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := msg.AsInt64(); n != 0 {
				left = append(left, k)
			}
		}
		if e.k.Mode() != "cluster" {
			msg, err := e.k.Do(ctx, e.k.B().Keys().Pattern(q.Key()+"*").Build())
			if err != nil {
				t.Fatal(err)
			}
			all, _ := msg.AsStrSlice()
			for _, k := range all {
				if !contains(left, k) {
					left = append(left, k)
				}
			}
		}
		return len(left) == 0
	})
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// testWorkMany: strict order serves the first queue before the second;
// both are served.
func testWorkMany(t *testing.T, e env, name string) {
	ctx := t.Context()
	hi := queue.NewPriority[string](e.k, name+"-hi", nil)
	lo := queue.NewPriority[int](e.k, name+"-lo", nil)
	for i := range 5 {
		if _, err := lo.Push(ctx, i, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := hi.Push(ctx, fmt.Sprint(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var order []string
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- queue.WorkMany(wctx, "w", &queue.WorkOptions{Concurrency: 1, Strict: true},
			hi.Source(record[string](&mu, &order, "hi"), 1),
			lo.Source(record[int](&mu, &order, "lo"), 1))
	}()
	waitFor(t, "all ten jobs", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) == 10
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, ","); got != "hi,hi,hi,hi,hi,lo,lo,lo,lo,lo" {
		t.Fatalf("strict order = %s", got)
	}
	if err := queue.WorkMany(ctx, "w", nil); err == nil {
		t.Fatal("WorkMany with no sources: nil error")
	}

	// Weighted (the default): both queues are served while both have
	// jobs, the heavier one more often.
	for i := range 40 {
		if _, err := lo.Push(ctx, i, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := hi.Push(ctx, fmt.Sprint(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	order = nil
	wctx, cancel = context.WithCancel(ctx)
	go func() {
		done <- queue.WorkMany(wctx, "w", &queue.WorkOptions{Concurrency: 1},
			hi.Source(record[string](&mu, &order, "hi"), 3),
			lo.Source(record[int](&mu, &order, "lo"), 1))
	}()
	waitFor(t, "all eighty jobs", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) == 80
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var hiFirst40 int
	for _, o := range order[:40] {
		if o == "hi" {
			hiFirst40++
		}
	}
	// Expect about 30 of the first 40 from hi; strict would give 40,
	// round robin 20.
	if hiFirst40 < 20 || hiFirst40 == 40 {
		t.Fatalf("weighted 3:1: %d of the first 40 jobs from the heavy queue", hiFirst40)
	}
}

// record is a handler that appends name to *order under mu.
func record[T any](mu *sync.Mutex, order *[]string, name string) queue.Handler[T] {
	return func(context.Context, *queue.Job[T]) error {
		mu.Lock()
		*order = append(*order, name)
		mu.Unlock()
		return nil
	}
}
