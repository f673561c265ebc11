package main

// The menu, served through package cache:
//   - the menu "database" is a Redis hash (collection.Hash), standing in
//     for the slow source of truth a real shop would have;
//   - GET /menu and GET /menu/{id} read through cache.GetOrSet, with a near
//     cache (decoded values in process, kept fresh by Redis client
//     tracking), fail-safe (the last good menu if the database fails) and
//     negative caching of unknown items;
//   - cached entries are tagged ("menu", "item:<id>"): PUT /menu/{id}
//     writes the database and invalidates by tag, so every instance serves
//     the new menu on its next request.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/cache"
	"github.com/redkit-go/redkit/collection"
)

func init() { register("menu", setupMenu) }

const (
	menuTTL         = 10 * time.Minute
	menuNegativeTTL = time.Minute
	menuFailSafe    = time.Hour
	menuTag         = "menu"
)

// menuItem is a pizza on the menu. Price is in cents.
type menuItem struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Price int    `json:"price"`
	Veg   bool   `json:"veg"`
}

var defaultMenu = []menuItem{
	{"margherita", "Margherita", 900, true},
	{"diavola", "Diavola", 1150, false},
	{"funghi", "Funghi", 1050, true},
	{"quattro", "Quattro formaggi", 1250, true},
}

// menu is the menu feature: the database and the two caches over it.
type menu struct {
	db    *collection.Hash[menuItem]
	list  *cache.Cache[[]menuItem]
	items *cache.Cache[menuItem]
}

func setupMenu(ctx context.Context, a *app, mux *http.ServeMux) (func() error, error) {
	m := &menu{db: collection.NewHash[menuItem](a.kit, "menu:db")}
	if n, err := m.db.Len(ctx); err != nil {
		return nil, err
	} else if n == 0 {
		seed := map[string]menuItem{}
		for _, it := range defaultMenu {
			seed[it.ID] = it
		}
		if err := m.db.SetMany(ctx, seed); err != nil {
			return nil, err
		}
	}
	opts := &cache.Options{
		TTL:         menuTTL,
		NearCache:   &cache.NearCacheOptions{MaxEntries: 1000},
		NegativeTTL: menuNegativeTTL,
		FailSafe:    menuFailSafe,
	}
	m.list = cache.New[[]menuItem](a.kit, "menu:list", opts)
	m.items = cache.New[menuItem](a.kit, "menu:item", opts)
	mux.HandleFunc("GET /menu", m.getMenu)
	mux.HandleFunc("GET /menu/{id}", m.getItem)
	mux.HandleFunc("PUT /menu/{id}", m.putItem)
	mux.HandleFunc("GET /menu/cache", m.getStats)
	return func() error { return errors.Join(m.list.Close(), m.items.Close()) }, nil
}

// GET /menu → {"items": [...]}, sorted by name.
func (m *menu) getMenu(w http.ResponseWriter, r *http.Request) {
	items, err := m.list.GetOrSetWithTags(r.Context(), "all", m.loadMenu, 0, menuTag)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (m *menu) loadMenu(ctx context.Context) ([]menuItem, error) {
	all, err := m.db.GetAll(ctx)
	if err != nil {
		return nil, err
	}
	items := make([]menuItem, 0, len(all))
	for _, it := range all {
		items = append(items, it)
	}
	slices.SortFunc(items, func(a, b menuItem) int { return strings.Compare(a.Name, b.Name) })
	return items, nil
}

// GET /menu/{id} → the item, or 404.
func (m *menu) getItem(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	it, err := m.items.GetOrSetWithTags(r.Context(), id, func(ctx context.Context) (menuItem, error) {
		it, ok, err := m.db.Get(ctx, id)
		if err == nil && !ok {
			err = redkit.ErrNotFound // remembered for NegativeTTL
		}
		return it, err
	}, 0, menuTag, "item:"+id)
	switch {
	case errors.Is(err, redkit.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no pizza " + id + " on the menu"})
	case err != nil:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, it)
	}
}

// PUT /menu/{id} {"name": "...", "price": 1000, "veg": true} adds or
// changes an item, then invalidates what the caches hold about it.
func (m *menu) putItem(w http.ResponseWriter, r *http.Request) {
	var it menuItem
	if err := json.NewDecoder(r.Body).Decode(&it); err != nil || it.Name == "" || it.Price <= 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"name": "...", "price": cents > 0, "veg": bool}`})
		return
	}
	it.ID = r.PathValue("id")
	ctx := r.Context()
	if err := m.db.Set(ctx, it.ID, it); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	// The item (or its remembered "not found") and the whole-menu list.
	_, err1 := m.items.DeleteByTag(ctx, "item:"+it.ID)
	_, err2 := m.list.DeleteByTag(ctx, menuTag)
	if err := errors.Join(err1, err2); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, it)
}

// GET /menu/cache → the two caches' counters.
func (m *menu) getStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]cache.Stats{"list": m.list.Stats(), "items": m.items.Stats()})
}
