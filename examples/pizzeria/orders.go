package main

// Orders and inventory: POST /orders reserves stock for an order under a
// distributed lock (lock.Locker.Do), so two pizzeria processes never sell
// the same last pizza twice. Every inventory write carries the lock's
// fencing token and Redis refuses a write older than the last one
// (orders.lua): if a holder stalls past its lease and another takes over,
// the stale holder's write is rejected instead of overwriting newer stock.
//
//	curl -X PUT localhost:8080/inventory/margherita -d '{"stock": 10}'
//	curl -X POST localhost:8080/orders -d '{"user": "ada", "items": {"margherita": 2}}'
//	curl localhost:8080/inventory
//	curl localhost:8080/orders/1

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/lock"
)

func init() { register("orders", setupOrders) }

const (
	inventoryLock = "inventory"
	// inventoryLease is the lock's lease; Do renews it while the order is
	// being reserved.
	inventoryLease = 5 * time.Second
	fenceField     = "_fence"
)

var (
	//go:embed orders.lua
	fencedWriteLua    string
	fencedWriteScript = rueidis.NewLuaScript(fencedWriteLua)

	// errStaleFence is a write refused because a newer lock holder wrote.
	errStaleFence = errors.New("orders: inventory written by a newer lock holder (stale fence)")
)

// order is a placed order, as stored and returned.
type order struct {
	ID       int64            `json:"id"`
	User     string           `json:"user"`
	Items    map[string]int64 `json:"items"`
	Fence    int64            `json:"fence"` // the lock's fence when the stock was reserved
	PlacedAt time.Time        `json:"placed_at"`
}

type orders struct {
	a         *app
	locker    *lock.Locker
	inventory string // hash key: pizza -> stock, and _fence
}

func setupOrders(_ context.Context, a *app, mux *http.ServeMux) (func() error, error) {
	o := &orders{
		a:         a,
		locker:    lock.New(a.kit, &lock.Options{WaitTimeout: 5 * time.Second, Logger: a.log}),
		inventory: a.kit.Key("inventory"),
	}
	mux.HandleFunc("GET /inventory", o.getInventory)
	mux.HandleFunc("PUT /inventory/{pizza}", o.putStock)
	mux.HandleFunc("POST /orders", o.placeOrder)
	mux.HandleFunc("GET /orders/{id}", o.getOrder)
	return o.locker.Close, nil
}

// GET /inventory → {"stock": {"margherita": 8}, "fence": 12}
func (o *orders) getInventory(w http.ResponseWriter, r *http.Request) {
	stock, fence, err := o.readInventory(r.Context())
	if err != nil {
		ordersError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"stock": stock, "fence": fence})
}

// PUT /inventory/{pizza} {"stock": 10} sets a pizza's stock, under the
// lock, with the fence.
func (o *orders) putStock(w http.ResponseWriter, r *http.Request) {
	pizza := r.PathValue("pizza")
	var body struct {
		Stock *int64 `json:"stock"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Stock == nil || *body.Stock < 0 || pizza == fenceField {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"stock": n} with n >= 0`})
		return
	}
	var fence int64
	err := o.locker.Do(r.Context(), inventoryLock, inventoryLease, func(ctx context.Context) error {
		m, _ := lock.FromContext(ctx)
		fence = m.Fence()
		return o.write(ctx, fence, map[string]int64{pizza: *body.Stock})
	})
	if err != nil {
		ordersError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"pizza": pizza, "stock": *body.Stock, "fence": fence})
}

// POST /orders {"user": "ada", "items": {"margherita": 2}} reserves the
// stock and records the order: 201 with the order, or 409 when a pizza is
// short (nothing is reserved then).
func (o *orders) placeOrder(w http.ResponseWriter, r *http.Request) {
	var body struct {
		User  string           `json:"user"`
		Items map[string]int64 `json:"items"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.User == "" || len(body.Items) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"user": "...", "items": {"pizza": qty}}`})
		return
	}
	for pizza, qty := range body.Items {
		if qty <= 0 || pizza == fenceField {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad item " + strconv.Quote(pizza)})
			return
		}
	}
	var (
		placed order
		short  string
	)
	err := o.locker.Do(r.Context(), inventoryLock, inventoryLease, func(ctx context.Context) error {
		m, _ := lock.FromContext(ctx)
		stock, _, err := o.readInventory(ctx)
		if err != nil {
			return err
		}
		next := make(map[string]int64, len(body.Items))
		for _, pizza := range sortedKeys(body.Items) {
			left := stock[pizza] - body.Items[pizza]
			if left < 0 {
				short = pizza
				return nil
			}
			next[pizza] = left
		}
		if err := o.write(ctx, m.Fence(), next); err != nil {
			return err
		}
		id, err := o.a.kit.Do(ctx, o.a.kit.B().Incr().Key(o.a.kit.Key("orders", "seq")).Build())
		if err != nil {
			return redkit.Wrap("orders: id", "", err)
		}
		placed = order{User: body.User, Items: body.Items, Fence: m.Fence(), PlacedAt: time.Now().UTC()}
		placed.ID, _ = id.AsInt64()
		b, _ := json.Marshal(placed)
		key := o.a.kit.Key("orders", strconv.FormatInt(placed.ID, 10))
		if _, err := o.a.kit.Do(ctx, o.a.kit.B().Set().Key(key).Value(string(b)).Build()); err != nil {
			return redkit.Wrap("orders: save", key, err)
		}
		return nil
	})
	switch {
	case err != nil:
		ordersError(w, err)
	case short != "":
		writeJSON(w, http.StatusConflict, map[string]string{"error": "not enough " + short, "pizza": short})
	default:
		writeJSON(w, http.StatusCreated, placed)
	}
}

// GET /orders/{id}
func (o *orders) getOrder(w http.ResponseWriter, r *http.Request) {
	key := o.a.kit.Key("orders", r.PathValue("id"))
	v, err := o.a.kit.Do(r.Context(), o.a.kit.B().Get().Key(key).Build())
	if rueidis.IsRedisNil(err) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such order"})
		return
	}
	if err != nil {
		ordersError(w, redkit.Wrap("orders: get", key, err))
		return
	}
	s, _ := v.ToString()
	var out order
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		ordersError(w, fmt.Errorf("orders: decode %q: %w", key, err))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// readInventory returns the stock per pizza and the fence of the last write.
func (o *orders) readInventory(ctx context.Context) (map[string]int64, int64, error) {
	v, err := o.a.kit.Do(ctx, o.a.kit.B().Hgetall().Key(o.inventory).Build())
	if err != nil {
		return nil, 0, redkit.Wrap("orders: inventory", o.inventory, err)
	}
	m, err := v.AsIntMap()
	if err != nil {
		return nil, 0, redkit.Wrap("orders: inventory", o.inventory, err)
	}
	fence := m[fenceField]
	delete(m, fenceField)
	return m, fence, nil
}

// write sets stock levels with fence, refused if a newer fence wrote.
func (o *orders) write(ctx context.Context, fence int64, stock map[string]int64) error {
	args := []string{strconv.FormatInt(fence, 10)}
	for _, pizza := range sortedKeys(stock) {
		args = append(args, pizza, strconv.FormatInt(stock[pizza], 10))
	}
	v, err := o.a.kit.Exec(ctx, fencedWriteScript, []string{o.inventory}, args)
	if err != nil {
		return redkit.Wrap("orders: write inventory", o.inventory, err)
	}
	if n, _ := v.AsInt64(); n != 1 {
		return errStaleFence
	}
	return nil
}

func ordersError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, lock.ErrNotAcquired), errors.Is(err, redkit.ErrUnavailable):
		code = http.StatusServiceUnavailable
	case errors.Is(err, lock.ErrLockLost), errors.Is(err, errStaleFence):
		code = http.StatusConflict
	}
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
