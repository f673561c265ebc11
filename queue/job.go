package queue

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redkit-go/redkit"
)

// Job is one delivery of a queued value to a worker, returned by Pop and
// PopWait. Finish it with Ack (done) or Nack (give it back); if neither
// happens before Deadline, it returns to the queue on the next Pop and
// this delivery can no longer Ack it. A Job may be handed to another
// goroutine, but its methods must not be called concurrently (Extend
// updates Deadline).
type Job[T any] struct {
	ID       string  // unique, assigned by Push
	Value    T       // the pushed value
	Priority float64 // as pushed
	// Attempts counts the deliveries of this job, this one included: 1 on
	// the first Pop, 2 after one Nack or expired deadline, and so on.
	Attempts int
	Worker   string // the worker name given to Pop
	// Deadline is when the job returns to the queue unless acknowledged,
	// on the Redis server's clock.
	Deadline time.Time
	// LastError is the error of the previous failed attempt under Work
	// (or, for a job listed by Dead, of its last attempt); "" if none.
	LastError string

	q       *Priority[T]
	receipt string // token of this delivery
	// finished is set once Ack or Nack succeeded, so that Work does not
	// finish a job its handler already finished.
	finished atomic.Bool
}

// Ack marks the job done and removes it from the queue. It returns
// ErrJobLost (wrapped) when this delivery no longer owns the job: its
// deadline passed and a Pop returned it to the queue (perhaps delivering
// it to another worker), or it was already acknowledged or nacked. An Ack
// after the deadline still succeeds if no Pop has reclaimed the job yet.
func (j *Job[T]) Ack(ctx context.Context) error {
	const op = "queue: ack"
	ks := &j.q.ks
	msg, err := j.q.k.Exec(ctx, ackScript,
		[]string{ks.inflight, ks.jobs, ks.meta, ks.stats, ks.uniq, ks.uniqx},
		[]string{j.q.retentionArg, j.ID, j.receipt})
	if err != nil {
		return redkit.Wrap(op, j.q.name, err)
	}
	if res, _ := msg.AsIntSlice(); len(res) != 1 || res[0] != 1 {
		return j.lost(op)
	}
	j.finished.Store(true)
	j.q.m.acked.Add(context.Background(), 1, j.q.m.attrs)
	return nil
}

// Nack gives the job back to the queue: ready again at once (behind the
// jobs of its priority already waiting) when delay is 0, or after delay
// (on the Redis server's clock). Its next delivery counts one more
// attempt. A negative delay is redkit.ErrNegativeTTL. It returns
// ErrJobLost (wrapped) when this delivery no longer owns the job, as Ack
// does.
func (j *Job[T]) Nack(ctx context.Context, delay time.Duration) error {
	return j.nack(ctx, "queue: nack", delay, false)
}

// nack gives the job back; refund does not count this delivery as an
// attempt (Work shutting down).
func (j *Job[T]) nack(ctx context.Context, op string, delay time.Duration, refund bool) error {
	ks := &j.q.ks
	if delay < 0 {
		return redkit.Wrap(op, j.q.name, fmt.Errorf("%w: delay %s", redkit.ErrNegativeTTL, delay))
	}
	var ms int64
	if delay > 0 {
		ms = max(delay.Milliseconds(), 1)
	}
	msg, err := j.q.k.Exec(ctx, nackScript,
		[]string{ks.ready, ks.delayed, ks.inflight, ks.meta, ks.seq, ks.signal},
		[]string{j.ID, j.receipt, strconv.FormatInt(ms, 10),
			strconv.Itoa(signalCap), strconv.FormatInt(signalTTL.Milliseconds(), 10), boolArg(refund)})
	if err != nil {
		return redkit.Wrap(op, j.q.name, err)
	}
	if n, _ := msg.AsInt64(); n != 1 {
		return j.lost(op)
	}
	j.finished.Store(true)
	j.q.m.nacked.Add(context.Background(), 1, j.q.m.attrs)
	return nil
}

// Extend keeps the job invisible for d more from now (0 means the queue's
// Options.Visibility) and updates Deadline: call it from a handler that
// may take longer than the visibility timeout. A negative d is
// redkit.ErrNegativeTTL. It returns ErrJobLost (wrapped) when this
// delivery no longer owns the job.
func (j *Job[T]) Extend(ctx context.Context, d time.Duration) error {
	const op = "queue: extend"
	if d < 0 {
		return redkit.Wrap(op, j.q.name, fmt.Errorf("%w: %s", redkit.ErrNegativeTTL, d))
	}
	if d == 0 {
		d = j.q.vis
	}
	deadline, err := j.extend(ctx, op, d)
	if err != nil {
		return err
	}
	j.Deadline = deadline
	return nil
}

// extend is Extend without updating Deadline (Work's extender, which runs
// beside the handler).
func (j *Job[T]) extend(ctx context.Context, op string, d time.Duration) (time.Time, error) {
	ks := &j.q.ks
	msg, err := j.q.k.Exec(ctx, extendScript,
		[]string{ks.inflight, ks.meta},
		[]string{j.ID, j.receipt, strconv.FormatInt(max(d.Milliseconds(), 1), 10)})
	if err != nil {
		return time.Time{}, redkit.Wrap(op, j.q.name, err)
	}
	deadline, _ := msg.AsInt64()
	if deadline == 0 {
		return time.Time{}, j.lost(op)
	}
	return time.UnixMilli(deadline), nil
}

func (j *Job[T]) lost(op string) error {
	j.q.m.lost.Add(context.Background(), 1, j.q.m.attrs)
	return redkit.Wrap(op, j.q.name, fmt.Errorf("job %s: %w", j.ID, ErrJobLost))
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// fail records a failed attempt: the job is retried after the queue's
// Backoff, or dead after its last attempt. It reports whether it died.
func (j *Job[T]) fail(ctx context.Context, cause error) (dead bool, err error) {
	const op = "queue: fail"
	ks := &j.q.ks
	delay := j.q.backoff(j.Attempts)
	msg, err := j.q.k.Exec(ctx, failScript,
		[]string{ks.delayed, ks.inflight, ks.meta, ks.dead, ks.stats, ks.uniq, ks.uniqx, ks.signal},
		[]string{j.ID, j.receipt, truncate(cause.Error(), maxErrorLen), strconv.FormatInt(max(delay.Milliseconds(), 0), 10),
			strconv.Itoa(j.q.maxAttempts), j.q.retentionArg,
			strconv.Itoa(signalCap), strconv.FormatInt(signalTTL.Milliseconds(), 10)})
	if err != nil {
		return false, redkit.Wrap(op, j.q.name, err)
	}
	n, _ := msg.AsInt64()
	if n == 0 {
		return false, j.lost(op)
	}
	j.finished.Store(true)
	return n == 2, nil
}

// maxErrorLen bounds the LastError kept per job.
const maxErrorLen = 4096

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
