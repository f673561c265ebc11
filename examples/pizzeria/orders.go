package main

// Orders and inventory. POST /api/orders turns the session's cart into an
// order: the stock is reserved under a distributed lock (lock.Locker.Do),
// so two instances never sell the same last pizza twice, and every
// inventory write carries the lock's fencing token, which Redis checks
// (orders.lua): a holder that stalled past its lease cannot overwrite the
// stock written after it. The order is then appended to the durable
// "orders" stream, which feeds the kitchen (kitchen.go), and counted in
// the analytics: a popularity leaderboard (sorted set) and customer sets
// (today's customers ∩ veggie fans, with set algebra).
//
//	GET  /api/inventory                  stock and the last fence
//	PUT  /api/inventory/{pizza} {"stock": 10}
//	POST /api/orders                     the cart → an order (201)
//	GET  /api/orders                     my orders, newest first
//	GET  /api/board                      every recent order (the kitchen board)
//	GET  /api/analytics                  leaderboard and customer sets

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/collection"
	"github.com/redkit-go/redkit/lock"
	"github.com/redkit-go/redkit/pubsub"
	"github.com/redkit-go/redkit/ratelimit"
	"github.com/redkit-go/redkit/session"
)

const (
	inventoryLock = "inventory"
	// inventoryLease is the lock's lease; Do renews it while the order is
	// being reserved.
	inventoryLease = 5 * time.Second
	fenceField     = "_fence"
	initialStock   = 50
	recentOrders   = 40 // orders on the board
)

// Order limits per customer: at most 1 a second, 10 a minute.
var orderLimits = []ratelimit.Limit{{Rate: 1, Period: time.Second, Burst: 2}, ratelimit.PerMinute(10)}

var (
	//go:embed orders.lua
	fencedWriteLua    string
	fencedWriteScript = rueidis.NewLuaScript(fencedWriteLua)

	// errStaleFence is a write refused because a newer lock holder wrote.
	errStaleFence = errors.New("orders: inventory written by a newer lock holder (stale fence)")
)

// Order statuses, in the order an order goes through them.
const (
	statusWaiting = "waiting" // in the stream or the kitchen queue
	statusBaking  = "baking"  // a cook has it
	statusBurnt   = "burnt"   // the last attempt failed; it will be retried
	statusReady   = "ready"
	statusDead    = "dead" // burnt too often: in the dead letters, can be requeued
)

// order is a placed order, as stored, published and returned.
type order struct {
	ID       int64          `json:"id"`
	User     string         `json:"user"`
	Items    map[string]int `json:"items"`
	Total    int            `json:"total"` // cents
	Fence    int64          `json:"fence"` // the lock's fence when the stock was reserved
	Status   string         `json:"status"`
	Attempts int            `json:"attempts,omitempty"`
	Cook     string         `json:"cook,omitempty"`
	Error    string         `json:"error,omitempty"`
	JobID    string         `json:"job_id,omitempty"`
	Instance string         `json:"instance"` // where it was placed
	PlacedAt time.Time      `json:"placed_at"`
	Updated  time.Time      `json:"updated"`
}

// orderEvent is an entry of the durable order stream.
type orderEvent struct {
	Type  string `json:"type"` // "placed"
	Order order  `json:"order"`
}

type orders struct {
	s         *shop
	locker    *lock.Locker
	inventory string                        // hash key: pizza → stock, and _fence
	all       *collection.Hash[order]       // id → order
	recent    *collection.SortedSet[int64]  // ids by placing time
	popular   *collection.SortedSet[string] // pizza → pizzas sold
	events    *pubsub.Stream[orderEvent]    // the order stream, read by the kitchen
	placed    atomic.Int64

	// The lock as this instance saw it last, for the panel.
	lastFence atomic.Int64
	holding   atomic.Bool
}

func (s *shop) setupOrders(ctx, _ context.Context) error {
	o := &orders{
		s:         s,
		locker:    lock.New(s.kit, &lock.Options{WaitTimeout: 5 * time.Second, Logger: s.log}),
		inventory: s.kit.Key("inventory"),
		all:       collection.NewHash[order](s.kit, "orders"),
		recent:    collection.NewSortedSet[int64](s.kit, "orders:recent"),
		popular:   collection.NewSortedSet[string](s.kit, "analytics:popular"),
		events:    pubsub.NewStream[orderEvent](s.kit, "orders:events", &pubsub.StreamOptions{MaxLen: 10000}),
	}
	s.orders = o
	s.onClose(o.locker.Close)
	if err := o.seedStock(ctx); err != nil {
		return err
	}
	byUser := func(r *http.Request) string { return "orders:" + currentUser(r) }
	limited := s.limiter.Middleware(byUser, orderLimits...)
	s.mux.HandleFunc("GET /api/inventory", o.getInventory)
	s.mux.HandleFunc("PUT /api/inventory/{pizza}", o.putStock)
	s.mux.Handle("POST /api/orders", s.panel.countRefusals(limited(http.HandlerFunc(o.placeOrder))))
	s.mux.HandleFunc("GET /api/orders", o.myOrders)
	s.mux.HandleFunc("GET /api/board", o.board)
	s.mux.HandleFunc("GET /api/analytics", o.analytics)
	return nil
}

// seedStock gives every pizza initialStock when the shop opens empty.
func (o *orders) seedStock(ctx context.Context) error {
	stock, _, err := o.readInventory(ctx)
	if err != nil || len(stock) > 0 {
		return err
	}
	return o.locker.Do(ctx, inventoryLock, inventoryLease, func(ctx context.Context) error {
		m, _ := lock.FromContext(ctx)
		next := map[string]int64{}
		for _, it := range defaultMenu {
			next[it.ID] = initialStock
		}
		return o.write(ctx, m.Fence(), next)
	})
}

// GET /api/inventory → {"stock": {"margherita": 8}, "fence": 12}
func (o *orders) getInventory(w http.ResponseWriter, r *http.Request) {
	stock, fence, err := o.readInventory(r.Context())
	if err != nil {
		writeRedisError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"stock": stock, "fence": fence})
}

// PUT /api/inventory/{pizza} {"stock": 10} sets a pizza's stock, under the
// lock, with the fence.
func (o *orders) putStock(w http.ResponseWriter, r *http.Request) {
	pizza := r.PathValue("pizza")
	var body struct {
		Stock *int64 `json:"stock"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&body); err != nil || body.Stock == nil || *body.Stock < 0 || pizza == fenceField {
		writeError(w, http.StatusBadRequest, `want {"stock": n} with n >= 0`)
		return
	}
	var fence int64
	err := o.underLock(r.Context(), func(ctx context.Context, f int64) error {
		fence = f
		return o.write(ctx, fence, map[string]int64{pizza: *body.Stock})
	})
	if err != nil {
		writeRedisError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"pizza": pizza, "stock": *body.Stock, "fence": fence})
}

// underLock runs fn holding the inventory lock, with its fence.
func (o *orders) underLock(ctx context.Context, fn func(ctx context.Context, fence int64) error) error {
	return o.locker.Do(ctx, inventoryLock, inventoryLease, func(ctx context.Context) error {
		m, _ := lock.FromContext(ctx)
		o.holding.Store(true)
		defer o.holding.Store(false)
		o.lastFence.Store(m.Fence())
		return fn(ctx, m.Fence())
	})
}

// POST /api/orders turns the session's cart into an order: 201 with the
// order, 409 when a pizza is short (nothing is reserved then), 400 for an
// empty cart.
func (o *orders) placeOrder(w http.ResponseWriter, r *http.Request) {
	user, ok := requireUser(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	sess := session.FromContext(ctx)
	c, _ := session.Get[cart](sess, cartKey)
	if len(c) == 0 {
		writeError(w, http.StatusBadRequest, "the cart is empty")
		return
	}
	prices := map[string]int{}
	for pizza := range c {
		it, err := o.s.menu.item(ctx, pizza)
		if err != nil {
			if errors.Is(err, redkit.ErrNotFound) {
				writeError(w, http.StatusConflict, pizza+" is no longer on the menu")
				return
			}
			writeRedisError(w, err)
			return
		}
		prices[pizza] = it.Price
	}

	var (
		placed order
		short  string
	)
	err := o.underLock(ctx, func(ctx context.Context, fence int64) error {
		stock, _, err := o.readInventory(ctx)
		if err != nil {
			return err
		}
		next := make(map[string]int64, len(c))
		for pizza, qty := range c {
			left := stock[pizza] - int64(qty)
			if left < 0 {
				short = pizza
				return nil
			}
			next[pizza] = left
		}
		if err := o.write(ctx, fence, next); err != nil {
			return err
		}
		id, err := o.s.kit.Do(ctx, o.s.kit.B().Incr().Key(o.s.kit.Key("orders", "seq")).Build())
		if err != nil {
			return redkit.Wrap("orders: id", "orders:seq", err)
		}
		now := time.Now().UTC()
		placed = order{User: user, Items: c, Fence: fence, Status: statusWaiting, Instance: o.s.name, PlacedAt: now, Updated: now}
		placed.ID, _ = id.AsInt64()
		for pizza, qty := range c {
			placed.Total += prices[pizza] * qty
		}
		return o.save(ctx, placed)
	})
	switch {
	case err != nil:
		writeRedisError(w, err)
		return
	case short != "":
		writeJSON(w, http.StatusConflict, map[string]string{"error": "not enough " + short + " left", "pizza": short})
		return
	}
	sess.Remove(cartKey)
	o.placed.Add(1)
	o.count(ctx, placed)
	o.s.live.orderChanged(ctx, placed)

	// The stream is the kitchen's inbox. Should the append fail, the
	// order goes straight to the kitchen queue (PushUnique: the stream's
	// copy, if it was written after all, is then a duplicate).
	if _, err := o.events.Publish(ctx, orderEvent{Type: "placed", Order: placed}); err != nil {
		o.s.log.Warn("appending to the order stream; pushing to the kitchen directly", "order", placed.ID, "err", err)
		if err := o.s.kitchen.enqueue(ctx, placed); err != nil {
			writeRedisError(w, err)
			return
		}
	}
	writeJSON(w, http.StatusCreated, placed)
}

// save stores an order and puts it on the board.
func (o *orders) save(ctx context.Context, ord order) error {
	if err := o.all.Set(ctx, strconv.FormatInt(ord.ID, 10), ord); err != nil {
		return err
	}
	if _, err := o.recent.Add(ctx, ord.ID, float64(ord.PlacedAt.UnixMilli())); err != nil {
		return err
	}
	_, err := o.recent.RemoveRangeByRank(ctx, 0, -recentOrders-1)
	return err
}

// get reads one order.
func (o *orders) get(ctx context.Context, id int64) (order, bool, error) {
	return o.all.Get(ctx, strconv.FormatInt(id, 10))
}

// update changes an order and, when its status changed, tells its
// customer and the board.
func (o *orders) update(ctx context.Context, id int64, change func(*order)) (order, error) {
	ord, ok, err := o.get(ctx, id)
	if err != nil || !ok {
		if err == nil {
			err = redkit.ErrNotFound
		}
		return ord, err
	}
	was := ord.Status
	change(&ord)
	ord.Updated = time.Now().UTC()
	if err := o.all.Set(ctx, strconv.FormatInt(id, 10), ord); err != nil {
		return ord, err
	}
	if ord.Status != was || ord.Status == statusBaking { // a new attempt bakes again
		o.s.live.orderChanged(ctx, ord)
	}
	return ord, nil
}

// count adds a placed order to the analytics.
func (o *orders) count(ctx context.Context, ord order) {
	day := ord.PlacedAt.Format("20060102")
	today := collection.NewSet[string](o.s.kit, "analytics:customers:"+day)
	veg := collection.NewSet[string](o.s.kit, "analytics:veggie-fans")
	var errs []error
	for pizza, qty := range ord.Items {
		_, err := o.popular.IncrBy(ctx, pizza, float64(qty))
		errs = append(errs, err)
		if slices.ContainsFunc(defaultMenu, func(it menuItem) bool { return it.ID == pizza && it.Veg }) {
			_, err := veg.Add(ctx, ord.User)
			errs = append(errs, err)
		}
	}
	_, err := today.Add(ctx, ord.User)
	errs = append(errs, err)
	_, err = today.Expire(ctx, 48*time.Hour)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		o.s.log.Warn("counting an order", "err", err)
	}
}

// placedTotal is the number of orders placed so far (the order sequence).
func (o *orders) placedTotal(ctx context.Context) int64 {
	v, err := o.s.kit.Do(ctx, o.s.kit.B().Get().Key(o.s.kit.Key("orders", "seq")).Build())
	if err != nil {
		return 0
	}
	n, _ := v.AsInt64()
	return n
}

// GET /api/orders → my orders, newest first.
func (o *orders) myOrders(w http.ResponseWriter, r *http.Request) {
	user, ok := requireUser(w, r)
	if !ok {
		return
	}
	all, err := o.recentOrders(r.Context())
	if err != nil {
		writeRedisError(w, err)
		return
	}
	mine := []order{}
	for _, ord := range all {
		if ord.User == user {
			mine = append(mine, ord)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"orders": mine})
}

// GET /api/board → the recent orders of everyone, newest first.
func (o *orders) board(w http.ResponseWriter, r *http.Request) {
	all, err := o.recentOrders(r.Context())
	if err != nil {
		writeRedisError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"orders": all})
}

func (o *orders) recentOrders(ctx context.Context) ([]order, error) {
	ids, err := o.recent.Range(ctx, 0, recentOrders-1, true)
	if err != nil {
		return nil, err
	}
	out := make([]order, 0, len(ids))
	for _, m := range ids {
		ord, ok, err := o.get(ctx, m.Value)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, ord)
		}
	}
	return out, nil
}

// GET /api/analytics → the leaderboard and customer sets.
func (o *orders) analytics(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	top, err := o.popular.Range(ctx, 0, 4, true)
	if err != nil {
		writeRedisError(w, err)
		return
	}
	today := collection.NewSet[string](o.s.kit, "analytics:customers:"+time.Now().UTC().Format("20060102"))
	veg := collection.NewSet[string](o.s.kit, "analytics:veggie-fans")
	customers, err := today.Members(ctx)
	if err != nil {
		writeRedisError(w, err)
		return
	}
	vegToday, err := today.Inter(ctx, veg)
	if err != nil {
		writeRedisError(w, err)
		return
	}
	type ranked struct {
		Pizza string  `json:"pizza"`
		Sold  float64 `json:"sold"`
		Rank  int64   `json:"rank"`
	}
	board := []ranked{}
	for _, m := range top {
		board = append(board, ranked{m.Value, m.Score, m.Rank + 1})
	}
	slices.Sort(customers)
	slices.Sort(vegToday)
	writeJSON(w, http.StatusOK, map[string]any{"popular": board, "customers_today": customers, "veggie_fans_today": vegToday})
}

// readInventory returns the stock per pizza and the fence of the last write.
func (o *orders) readInventory(ctx context.Context) (map[string]int64, int64, error) {
	v, err := o.s.kit.Do(ctx, o.s.kit.B().Hgetall().Key(o.inventory).Build())
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
	for _, pizza := range slices.Sorted(maps.Keys(stock)) {
		args = append(args, pizza, strconv.FormatInt(stock[pizza], 10))
	}
	v, err := o.s.kit.Exec(ctx, fencedWriteScript, []string{o.inventory}, args)
	if err != nil {
		return redkit.Wrap("orders: write inventory", o.inventory, err)
	}
	if n, _ := v.AsInt64(); n != 1 {
		return errStaleFence
	}
	return nil
}
