package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unsafe"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/codec"
)

// PushUnique is Push for a job that must not be queued twice: it returns
// an error wrapping ErrDuplicate (and the ID of the job holding the key)
// while a job pushed with the same unique key is waiting, delayed or in
// flight, or less than ttl after that job's push. The key is released
// when that job ends — acknowledged, or dead after its last attempt (a
// failed job releases it too) — and ttl has passed since its push. An
// empty unique is Push; a negative ttl is redkit.ErrNegativeTTL.
func (q *Priority[T]) PushUnique(ctx context.Context, v T, priority float64, unique string, ttl time.Duration) (id string, err error) {
	const op = "queue: push unique"
	if ttl < 0 {
		return "", redkit.Wrap(op, q.name, fmt.Errorf("%w: ttl %s", redkit.ErrNegativeTTL, ttl))
	}
	return q.push(ctx, op, v, priority, 0, unique, ttl)
}

// Dead returns up to limit dead jobs (those whose last attempt under Work
// failed), newest first, with LastError set and Deadline holding when the
// job died. A job whose payload does not decode as T is listed with a zero
// Value. limit <= 0 means 100. Dead jobs are removed DeadRetention after
// they died, by the queue's workers.
func (q *Priority[T]) Dead(ctx context.Context, limit int) ([]*Job[T], error) {
	const op = "queue: dead"
	if err := q.check(op); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	msg, err := q.k.Exec(ctx, deadScript, []string{q.ks.dead, q.ks.jobs, q.ks.meta}, []string{strconv.Itoa(limit)})
	if err != nil {
		return nil, redkit.Wrap(op, q.name, err)
	}
	arr, err := msg.ToArray()
	if err != nil {
		return nil, redkit.Wrap(op, q.name, err)
	}
	jobs := make([]*Job[T], 0, len(arr)/6)
	for i := 0; i+5 < len(arr); i += 6 {
		id, _ := arr[i].ToString()
		at, _ := arr[i+1].ToString()
		payload, _ := arr[i+2].ToString()
		prio, _ := arr[i+3].ToString()
		attempts, _ := arr[i+4].ToString()
		lastErr, _ := arr[i+5].ToString()
		ms, _ := strconv.ParseFloat(at, 64)
		p, _ := strconv.ParseFloat(prio, 64)
		a, _ := strconv.Atoi(attempts)
		j := &Job[T]{ID: id, Priority: p, Attempts: a, LastError: lastErr, Deadline: time.UnixMilli(int64(ms)), q: q}
		if v, err := codec.Decode[T](q.f, unsafe.Slice(unsafe.StringData(payload), len(payload))); err == nil {
			j.Value = v
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// Requeue brings the dead job id back to the ready set, with its attempts
// counted from zero again (LastError is kept). It returns an error
// wrapping redkit.ErrNotFound when no dead job has that id.
func (q *Priority[T]) Requeue(ctx context.Context, id string) error {
	const op = "queue: requeue"
	if err := q.check(op); err != nil {
		return err
	}
	msg, err := q.k.Exec(ctx, requeueScript,
		[]string{q.ks.dead, q.ks.ready, q.ks.meta, q.ks.seq, q.ks.signal},
		[]string{id, strconv.Itoa(signalCap), strconv.FormatInt(signalTTL.Milliseconds(), 10)})
	if err != nil {
		return redkit.Wrap(op, q.name, err)
	}
	if n, _ := msg.AsInt64(); n != 1 {
		return redkit.Wrap(op, q.name, fmt.Errorf("dead job %q: %w", id, redkit.ErrNotFound))
	}
	return nil
}

// Stats is a snapshot of a queue's counts.
type Stats struct {
	Waiting  int64 // ready to be popped
	Delayed  int64 // pushed with a delay, or waiting for a retry
	InFlight int64 // delivered, not finished
	Dead     int64 // dead-lettered, kept for DeadRetention
	// Processed and Failed count handler successes and failures under
	// Work (and Acks); they are kept while the queue is in use, and
	// vanish DeadRetention after its last use.
	Processed, Failed int64
}

// Stats returns the queue's counts in one round trip of O(1) commands,
// cheap enough to poll from a dashboard.
func (q *Priority[T]) Stats(ctx context.Context) (Stats, error) {
	const op = "queue: stats"
	if err := q.check(op); err != nil {
		return Stats{}, err
	}
	b := q.k.B()
	res, err := q.k.DoMulti(ctx,
		b.Zcard().Key(q.ks.ready).Build(),
		b.Zcard().Key(q.ks.delayed).Build(),
		b.Zcard().Key(q.ks.inflight).Build(),
		b.Zcard().Key(q.ks.dead).Build(),
		b.Hmget().Key(q.ks.stats).Field("processed", "failed").Build())
	if err != nil {
		return Stats{}, redkit.Wrap(op, q.name, err)
	}
	var s Stats
	var errs []error
	for i, p := range []*int64{&s.Waiting, &s.Delayed, &s.InFlight, &s.Dead} {
		n, err := res[i].AsInt64()
		if err != nil {
			errs = append(errs, err)
		}
		*p = n
	}
	arr, err := res[4].ToArray()
	if err != nil {
		errs = append(errs, err)
	}
	for i, p := range []*int64{&s.Processed, &s.Failed} {
		if i < len(arr) && !arr[i].IsNil() {
			*p, _ = arr[i].AsInt64()
		}
	}
	if err := errors.Join(errs...); err != nil {
		return s, redkit.Wrap(op, q.name, err)
	}
	return s, nil
}
