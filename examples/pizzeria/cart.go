package main

// The shop floor, built from package collection:
//   - the shopping cart: a Hash of pizza → quantity per customer;
//   - recently viewed pizzas: a List per customer, newest first, capped;
//   - activity tracking: a Set of active customers per day, and customer
//     segments (vegetarian, newsletter...) as Sets, combined with set
//     algebra;
//   - popularity: a SortedSet leaderboard of pizzas sold, read with ranks
//     in one round trip, and hourly sales as a Hash per hour.
//
// Checkout sends the order to the kitchen queue (kitchen.go).

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/collection"
	"github.com/redkit-go/redkit/queue"
)

func init() { register("cart", setupCart) }

const (
	recentlyViewedMax = 10                 // pizzas kept in "recently viewed"
	cartTTL           = 7 * 24 * time.Hour // an untouched cart is forgotten
	activityTTL       = 90 * 24 * time.Hour
	hourlyTTL         = 30 * 24 * time.Hour
)

// shop holds the keys of the cart feature. Everything is built per request
// from the Kit: constructing a collection does no I/O.
type shop struct {
	kit     *redkit.Kit
	popular *collection.SortedSet[string]
	kitchen *queue.Priority[kitchenOrder]
}

func (s *shop) cart(user string) *collection.Hash[int64] {
	return collection.NewHash[int64](s.kit, "cart:"+user)
}

func (s *shop) viewed(user string) *collection.List[string] {
	return collection.NewList[string](s.kit, "viewed:"+user)
}

// Activity and segment sets share one hash tag each, so that set algebra
// over them works on a Redis Cluster too.
func (s *shop) active(day string) *collection.Set[string] {
	return collection.NewSet[string](s.kit, "activity:"+redkit.HashTag("activity")+":"+day)
}

func (s *shop) segment(name string) *collection.Set[string] {
	return collection.NewSet[string](s.kit, "segment:"+redkit.HashTag("segments")+":"+name)
}

func (s *shop) hourly(hour string) *collection.Hash[int64] {
	return collection.NewHash[int64](s.kit, "sales:hourly:"+hour)
}

func setupCart(_ context.Context, a *app, mux *http.ServeMux) (func() error, error) {
	s := &shop{
		kit:     a.kit,
		popular: collection.NewSortedSet[string](a.kit, "popular:pizzas"),
		kitchen: queue.NewPriority[kitchenOrder](a.kit, kitchenQueue, &queue.Options{Visibility: kitchenVisibility}),
	}
	mux.HandleFunc("GET /cart/{user}", s.getCart)
	mux.HandleFunc("PUT /cart/{user}/items/{pizza}", s.putItem)
	mux.HandleFunc("DELETE /cart/{user}/items/{pizza}", s.deleteItem)
	mux.HandleFunc("POST /cart/{user}/checkout", s.checkout)
	mux.HandleFunc("POST /cart/{user}/viewed/{pizza}", s.view)
	mux.HandleFunc("GET /cart/{user}/viewed", s.getViewed)
	mux.HandleFunc("PUT /cart/{user}/segments/{segment}", s.joinSegment)
	mux.HandleFunc("GET /activity", s.getActivity)
	mux.HandleFunc("GET /segments", s.getSegments)
	mux.HandleFunc("GET /popular", s.getPopular)
	mux.HandleFunc("GET /popular/hourly", s.getHourly)
	mux.HandleFunc("GET /popular/{pizza}", s.getPizza)
	return nil, nil
}

func utcDay(t time.Time) string  { return t.UTC().Format("20060102") }
func utcHour(t time.Time) string { return t.UTC().Format("2006010215") }

// touch records that user was active today.
func (s *shop) touch(ctx context.Context, user string) error {
	set := s.active(utcDay(time.Now()))
	if _, err := set.Add(ctx, user); err != nil {
		return err
	}
	_, err := set.Expire(ctx, activityTTL)
	return err
}

// GET /cart/{user} → {"user": "ada", "items": {"margherita": 2}}
func (s *shop) getCart(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("user")
	items, err := s.cart(user).GetAll(r.Context())
	if err != nil {
		shopError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": user, "items": items})
}

// PUT /cart/{user}/items/{pizza} {"qty": 2} sets the quantity (0 removes);
// {"add": 1} adds to it.
func (s *shop) putItem(w http.ResponseWriter, r *http.Request) {
	user, pizza := r.PathValue("user"), r.PathValue("pizza")
	var body struct {
		Qty *int64 `json:"qty"`
		Add int64  `json:"add"`
	}
	if !shopReadJSON(w, r, &body) {
		return
	}
	ctx := r.Context()
	cart := s.cart(user)
	var qty int64
	var err error
	switch {
	case body.Qty != nil && *body.Qty < 0, body.Qty == nil && body.Add == 0:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `give "qty" >= 0 or a non-zero "add"`})
		return
	case body.Qty != nil:
		qty = *body.Qty
		err = cart.Set(ctx, pizza, qty)
	default:
		qty, err = cart.Incr(ctx, pizza, body.Add)
	}
	if err == nil && qty <= 0 {
		_, err = cart.Delete(ctx, pizza)
		qty = 0
	}
	if err == nil {
		_, err = cart.Expire(ctx, cartTTL)
	}
	if err == nil {
		err = s.touch(ctx, user)
	}
	if err != nil {
		shopError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"pizza": pizza, "qty": qty})
}

// DELETE /cart/{user}/items/{pizza}
func (s *shop) deleteItem(w http.ResponseWriter, r *http.Request) {
	n, err := s.cart(r.PathValue("user")).Delete(r.Context(), r.PathValue("pizza"))
	if err != nil {
		shopError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"removed": n == 1})
}

// POST /cart/{user}/checkout {"express": true} empties the cart, counts the
// sales (popularity and hourly analytics) and sends the order to the
// kitchen queue, express orders first.
func (s *shop) checkout(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("user")
	var body struct {
		Express bool `json:"express"`
	}
	if r.ContentLength != 0 && !shopReadJSON(w, r, &body) {
		return
	}
	ctx := r.Context()
	cart := s.cart(user)
	items, err := cart.GetAll(ctx)
	if err != nil {
		shopError(w, err)
		return
	}
	if len(items) == 0 {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "the cart is empty"})
		return
	}
	order := kitchenOrder{User: user, Items: items, Express: body.Express, PlacedAt: time.Now().UTC()}
	prio := 0.0
	if body.Express {
		prio = 10
	}
	id, err := s.kitchen.Push(ctx, order, prio)
	if err != nil {
		shopError(w, err)
		return
	}
	// The order is in; the rest is bookkeeping.
	h := s.hourly(utcHour(order.PlacedAt))
	for pizza, qty := range items {
		if _, err = s.popular.IncrBy(ctx, pizza, float64(qty)); err != nil {
			break
		}
		if _, err = h.Incr(ctx, pizza, qty); err != nil {
			break
		}
	}
	if err == nil {
		_, err = h.Expire(ctx, hourlyTTL)
	}
	if err == nil {
		_, err = s.segment("buyers").Add(ctx, user)
	}
	if err == nil {
		_, err = cart.DeleteKey(ctx)
	}
	if err != nil {
		shopError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"order": id, "items": items, "express": body.Express})
}

// POST /cart/{user}/viewed/{pizza} records a view: the pizza moves to the
// front of the user's recently viewed list.
func (s *shop) view(w http.ResponseWriter, r *http.Request) {
	user, pizza := r.PathValue("user"), r.PathValue("pizza")
	ctx := r.Context()
	l := s.viewed(user)
	_, err := l.Remove(ctx, pizza, 0)
	if err == nil {
		_, err = l.PushFront(ctx, pizza)
	}
	if err == nil {
		err = l.Trim(ctx, 0, recentlyViewedMax-1)
	}
	if err == nil {
		err = s.touch(ctx, user)
	}
	if err != nil {
		shopError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"viewed": pizza})
}

// GET /cart/{user}/viewed → newest first.
func (s *shop) getViewed(w http.ResponseWriter, r *http.Request) {
	items, err := s.viewed(r.PathValue("user")).Range(r.Context(), 0, -1)
	if err != nil {
		shopError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"viewed": items})
}

// PUT /cart/{user}/segments/{segment} adds the user to a segment
// (vegetarian, newsletter...).
func (s *shop) joinSegment(w http.ResponseWriter, r *http.Request) {
	seg := r.PathValue("segment")
	if _, err := s.segment(seg).Add(r.Context(), r.PathValue("user")); err != nil {
		shopError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"segment": seg})
}

// GET /activity?day=20250101&day=20250102 → customers active on each day,
// on all of them (retention: SINTER) and on any (reach: SUNION). Without
// day, today.
func (s *shop) getActivity(w http.ResponseWriter, r *http.Request) {
	days := r.URL.Query()["day"]
	if len(days) == 0 {
		days = []string{utcDay(time.Now())}
	}
	ctx := r.Context()
	sets := make([]*collection.Set[string], len(days))
	perDay := map[string]int64{}
	for i, d := range days {
		sets[i] = s.active(d)
		n, err := sets[i].Len(ctx)
		if err != nil {
			shopError(w, err)
			return
		}
		perDay[d] = n
	}
	all, err := sets[0].Inter(ctx, sets[1:]...)
	if err != nil {
		shopError(w, err)
		return
	}
	anyDay, err := sets[0].Union(ctx, sets[1:]...)
	if err != nil {
		shopError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"per_day": perDay, "every_day": sortedCopy(all), "any_day": sortedCopy(anyDay)})
}

// GET /segments?op=inter|union|diff&s=vegetarian&s=buyers → the customers
// in every segment (inter, the default), in any (union), or in the first
// and none of the others (diff).
func (s *shop) getSegments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	names := q["s"]
	if len(names) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "name one or more segments with ?s="})
		return
	}
	first := s.segment(names[0])
	var others []*collection.Set[string]
	for _, n := range names[1:] {
		others = append(others, s.segment(n))
	}
	var users []string
	var err error
	switch op := q.Get("op"); op {
	case "", "inter":
		users, err = first.Inter(r.Context(), others...)
	case "union":
		users, err = first.Union(r.Context(), others...)
	case "diff":
		users, err = first.Diff(r.Context(), others...)
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "op must be inter, union or diff, not " + strconv.Quote(op)})
		return
	}
	if err != nil {
		shopError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"segments": names, "users": sortedCopy(users)})
}

type ranked struct {
	Rank  int64   `json:"rank"` // 1 = best seller
	Pizza string  `json:"pizza"`
	Sold  float64 `json:"sold"`
}

func toRanked(ms []collection.Member[string]) []ranked {
	out := make([]ranked, len(ms))
	for i, m := range ms {
		out[i] = ranked{m.Rank + 1, m.Value, m.Score}
	}
	return out
}

// GET /popular?n=10 → the best sellers with their sales and ranks (one
// round trip).
func (s *shop) getPopular(w http.ResponseWriter, r *http.Request) {
	n := int64(10)
	if v := r.URL.Query().Get("n"); v != "" {
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil || n < 1 || n > 1000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "n must be between 1 and 1000"})
			return
		}
	}
	top, err := s.popular.Range(r.Context(), 0, n-1, true)
	if err != nil {
		shopError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"top": toRanked(top)})
}

// GET /popular/{pizza} → its sales, rank and neighbours on the leaderboard
// (one round trip).
func (s *shop) getPizza(w http.ResponseWriter, r *http.Request) {
	pizza := r.PathValue("pizza")
	around, err := s.popular.Around(r.Context(), pizza, 2, true)
	if err != nil {
		shopError(w, err)
		return
	}
	for _, m := range around {
		if m.Value == pizza {
			writeJSON(w, http.StatusOK, map[string]any{
				"pizza": pizza, "rank": m.Rank + 1, "sold": m.Score, "around": toRanked(around)})
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "no sales of " + strconv.Quote(pizza) + " yet"})
}

// GET /popular/hourly?hour=2025010112 → pizzas sold in that hour (UTC);
// without hour, the current one.
func (s *shop) getHourly(w http.ResponseWriter, r *http.Request) {
	h := r.URL.Query().Get("hour")
	if h == "" {
		h = utcHour(time.Now())
	}
	if _, err := time.Parse("2006010215", h); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "hour must look like 2025010112"})
		return
	}
	sales, err := s.hourly(h).GetAll(r.Context())
	if err != nil {
		shopError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"hour": h, "sales": sales})
}

func sortedCopy(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

// readJSON decodes the request body into v, answering 400 when it cannot.
func shopReadJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad JSON body: " + err.Error()})
		return false
	}
	return true
}

// httpError answers with a status that fits err: 503 when Redis is
// unavailable, 409 for data of the wrong type, 500 otherwise.
func shopError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, redkit.ErrUnavailable):
		code = http.StatusServiceUnavailable
	case errors.Is(err, redkit.ErrWrongType), errors.Is(err, redkit.ErrDecode):
		code = http.StatusConflict
	case errors.Is(err, context.Canceled):
		code = 499 // the client went away
	}
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
