package main

// The kitchen: orders wait in a queue.Priority (express orders first, then
// first come, first served), and a cook — a worker goroutine owned by this
// feature's closer — takes one at a time, bakes it and acknowledges it. A
// cook that dies mid-bake loses nothing: after the visibility timeout the
// order goes back to the queue for the next cook, with Attempts counted.
// Run several pizzeria processes against one Redis and they share the
// queue.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/redkit-go/redkit/collection"
	"github.com/redkit-go/redkit/queue"
)

func init() { register("kitchen", setupKitchen) }

const (
	kitchenQueue = "kitchen"
	// kitchenVisibility is how long a cook may take before the order is
	// given to another.
	kitchenVisibility = 30 * time.Second
	kitchenDoneMax    = 50 // finished orders kept for GET /kitchen
)

// kitchenBakeTime is how long the cook takes per order (tests shorten it).
var kitchenBakeTime = 2 * time.Second

// kitchenOrder is what the queue carries.
type kitchenOrder struct {
	User     string           `json:"user"`
	Items    map[string]int64 `json:"items"`
	Express  bool             `json:"express,omitempty"`
	PlacedAt time.Time        `json:"placed_at"`
}

// bakedOrder is a finished order, as listed by GET /kitchen.
type bakedOrder struct {
	ID       string           `json:"id"`
	User     string           `json:"user"`
	Items    map[string]int64 `json:"items"`
	Express  bool             `json:"express,omitempty"`
	Attempts int              `json:"attempts"`
	Cook     string           `json:"cook"`
	BakedAt  time.Time        `json:"baked_at"`
}

type kitchen struct {
	a    *app
	q    *queue.Priority[kitchenOrder]
	done *collection.List[bakedOrder]
	cook string
}

func setupKitchen(_ context.Context, a *app, mux *http.ServeMux) (func() error, error) {
	host, _ := os.Hostname()
	k := &kitchen{
		a:    a,
		q:    queue.NewPriority[kitchenOrder](a.kit, kitchenQueue, &queue.Options{Visibility: kitchenVisibility}),
		done: collection.NewList[bakedOrder](a.kit, "kitchen:done"),
		cook: fmt.Sprintf("%s:%d:cook", host, os.Getpid()),
	}
	mux.HandleFunc("POST /kitchen/orders", k.postOrder)
	mux.HandleFunc("GET /kitchen", k.status)

	// The cook runs until the closer cancels it, and the closer waits for
	// it: no goroutine outlives the feature.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { k.run(ctx) })
	return func() error {
		cancel()
		wg.Wait()
		return nil
	}, nil
}

// run is the cook: PopWait blocks (no polling traffic) until an order is
// ready or the feature closes.
func (k *kitchen) run(ctx context.Context) {
	log := k.a.log.With("cook", k.cook)
	for {
		job, err := k.q.PopWait(ctx, k.cook)
		if job != nil && err == nil && ctx.Err() != nil {
			k.giveBack(job)
			return
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if job != nil { // an order that does not decode: drop it
				log.Error("kitchen: dropping an unreadable order", "id", job.ID, "error", err)
				_ = job.Ack(ctx)
				continue
			}
			log.Warn("kitchen: cannot take an order", "error", err)
			if !sleepCtx(ctx, time.Second) {
				return
			}
			continue
		}
		if !sleepCtx(ctx, kitchenBakeTime) {
			// Closing mid-bake: give the order back at once rather than
			// leaving it to the visibility timeout.
			k.giveBack(job)
			return
		}
		o := job.Value
		baked := bakedOrder{ID: job.ID, User: o.User, Items: o.Items, Express: o.Express,
			Attempts: job.Attempts, Cook: k.cook, BakedAt: time.Now().UTC()}
		if _, err := k.done.PushFront(ctx, baked); err == nil {
			err = k.done.Trim(ctx, 0, kitchenDoneMax-1)
		}
		if err := job.Ack(ctx); err != nil {
			// ErrJobLost: we were too slow and another cook has it.
			log.Warn("kitchen: order acknowledged too late", "id", job.ID, "error", err)
		}
	}
}

// giveBack returns an order to the queue at once on shutdown.
func (k *kitchen) giveBack(job *queue.Job[kitchenOrder]) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := job.Nack(ctx, 0); err != nil {
		k.a.log.Warn("kitchen: could not give back an order on shutdown; it returns after the visibility timeout",
			"cook", k.cook, "id", job.ID, "error", err)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// POST /kitchen/orders {"user": "ada", "items": {"margherita": 1},
// "express": true} queues an order directly (a walk-in customer).
func (k *kitchen) postOrder(w http.ResponseWriter, r *http.Request) {
	var o kitchenOrder
	if !shopReadJSON(w, r, &o) {
		return
	}
	if len(o.Items) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "an order needs items"})
		return
	}
	o.PlacedAt = time.Now().UTC()
	prio := 0.0
	if o.Express {
		prio = 10
	}
	id, err := k.q.Push(r.Context(), o, prio)
	if err != nil {
		shopError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"order": id, "express": o.Express})
}

// GET /kitchen → orders waiting and in the oven, and the latest baked.
func (k *kitchen) status(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	waiting, err1 := k.q.Len(ctx)
	baking, err2 := k.q.InFlight(ctx)
	done, err3 := k.done.Range(ctx, 0, 9)
	if err := errors.Join(err1, err2, err3); err != nil {
		shopError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"waiting": waiting, "baking": baking, "baked": done, "bake_time": kitchenBakeTime.String()})
}
