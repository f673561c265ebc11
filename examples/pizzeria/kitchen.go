package main

// The kitchen. Every instance reads the order stream in one consumer
// group ("kitchen"), so each placed order is taken in by one of them, and
// pushes it to the kitchen queue with PushUnique keyed by the order: an
// entry delivered twice (a consumer died before its ack) is one job, not
// two pizzas. Cooks work the queue (queue.Work): a job's visibility is
// extended while it bakes, and a cook that dies loses nothing. Now and
// then a pizza burns (the handler fails): the job is retried after a
// backoff, and after kitchenAttempts it is dead — listed on the page,
// where it can be requeued.
//
//	GET  /api/kitchen                    queue stats and the dead jobs
//	POST /api/kitchen/dead/{id}/requeue  a dead job back in the queue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/redkit-go/redkit/pubsub"
	"github.com/redkit-go/redkit/queue"
)

const (
	kitchenQueue    = "kitchen"
	kitchenAttempts = 3
	kitchenCooks    = 2 // per instance
)

// Tests shorten these.
var (
	kitchenBakeTime = 3 * time.Second
	kitchenBurnRate = 0.2 // chance that an attempt burns the pizza
	kitchenRetry    = 2 * time.Second
)

var errBurnt = errors.New("burnt the pizza")

// kitchenJob is what the queue carries.
type kitchenJob struct {
	OrderID int64 `json:"order_id"`
}

type kitchen struct {
	s *shop
	q *queue.Priority[kitchenJob]
}

func (s *shop) setupKitchen(_, bctx context.Context) error {
	k := &kitchen{s: s, q: queue.NewPriority[kitchenJob](s.kit, kitchenQueue, &queue.Options{
		Visibility:    30 * time.Second,
		MaxAttempts:   kitchenAttempts,
		Backoff:       func(int) time.Duration { return kitchenRetry },
		DeadRetention: 24 * time.Hour,
	})}
	s.kitchen = k
	s.background(bctx, "order stream intake", func(ctx context.Context) error {
		return s.orders.events.Consume(ctx, "kitchen", s.name, k.intake)
	})
	s.background(bctx, "cooks", func(ctx context.Context) error {
		return k.q.Work(ctx, s.name+":cook", k.bake, &queue.WorkOptions{Concurrency: kitchenCooks, ShutdownTimeout: 5 * time.Second})
	})
	s.mux.HandleFunc("GET /api/kitchen", k.status)
	s.mux.HandleFunc("POST /api/kitchen/dead/{id}/requeue", k.requeue)
	return nil
}

// intake takes an order from the stream into the kitchen queue.
func (k *kitchen) intake(ctx context.Context, m pubsub.Message[orderEvent]) error {
	if m.Payload.Type != "placed" {
		return nil
	}
	return k.enqueue(ctx, m.Payload.Order)
}

// enqueue pushes an order to the queue once: express (small) orders first.
func (k *kitchen) enqueue(ctx context.Context, o order) error {
	pizzas := 0
	for _, n := range o.Items {
		pizzas += n
	}
	id, err := k.q.PushUnique(ctx, kitchenJob{OrderID: o.ID}, float64(-pizzas), "order:"+strconv.FormatInt(o.ID, 10), time.Hour)
	if errors.Is(err, queue.ErrDuplicate) {
		return nil // delivered twice; the first push stands
	}
	if err != nil {
		return err
	}
	_, err = k.s.orders.update(ctx, o.ID, func(o *order) { o.JobID = id })
	return err
}

// bake is the cooks' handler.
func (k *kitchen) bake(ctx context.Context, job *queue.Job[kitchenJob]) error {
	id := job.Value.OrderID
	cook := fmt.Sprintf("%s (%s)", job.Worker, k.s.name)
	if _, err := k.s.orders.update(ctx, id, func(o *order) {
		o.Status, o.Cook, o.Attempts, o.JobID = statusBaking, cook, job.Attempts, job.ID
	}); err != nil {
		return err
	}
	t := time.NewTimer(kitchenBakeTime)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err() // shutting down: Work gives the job back
	case <-t.C:
	}
	if rand.Float64() < kitchenBurnRate {
		status := statusBurnt
		if job.Attempts >= kitchenAttempts {
			status = statusDead
		}
		_, err := k.s.orders.update(ctx, id, func(o *order) { o.Status, o.Error = status, errBurnt.Error() })
		return errors.Join(errBurnt, err)
	}
	_, err := k.s.orders.update(ctx, id, func(o *order) { o.Status, o.Error = statusReady, "" })
	return err
}

// GET /api/kitchen → {"stats": {...}, "dead": [...]}
func (k *kitchen) status(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st, err := k.q.Stats(ctx)
	if err != nil {
		writeRedisError(w, err)
		return
	}
	dead, err := k.q.Dead(ctx, 20)
	if err != nil {
		writeRedisError(w, err)
		return
	}
	type deadJob struct {
		ID       string `json:"id"`
		OrderID  int64  `json:"order_id"`
		Attempts int    `json:"attempts"`
		Error    string `json:"error"`
	}
	out := []deadJob{}
	for _, j := range dead {
		out = append(out, deadJob{j.ID, j.Value.OrderID, j.Attempts, j.LastError})
	}
	writeJSON(w, http.StatusOK, map[string]any{"stats": st, "dead": out})
}

// POST /api/kitchen/dead/{id}/requeue
func (k *kitchen) requeue(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	var orderID int64
	for _, j := range k.mustDead(ctx) {
		if j.ID == id {
			orderID = j.Value.OrderID
		}
	}
	if err := k.q.Requeue(ctx, id); err != nil {
		writeRedisError(w, err)
		return
	}
	if orderID != 0 {
		if _, err := k.s.orders.update(ctx, orderID, func(o *order) { o.Status, o.Error = statusWaiting, "" }); err != nil {
			writeRedisError(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"requeued": id, "order_id": orderID})
}

func (k *kitchen) mustDead(ctx context.Context) []*queue.Job[kitchenJob] {
	dead, err := k.q.Dead(ctx, 100)
	if err != nil {
		return nil
	}
	return dead
}
