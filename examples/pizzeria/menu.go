package main

// The menu, served through package cache:
//   - the menu "database" is a Redis hash (collection.Hash), standing in
//     for the slow source of truth a real shop would have (loads are
//     slowed down to make the cache's work visible);
//   - GET /api/menu and GET /api/menu/{id} read through cache.GetOrSet,
//     with a near cache (decoded values in process, kept fresh by Redis
//     client tracking), fail-safe (the last good menu if the database
//     fails) and negative caching of unknown items;
//   - cached entries are tagged ("menu", "item:<id>"): PUT /api/menu/{id}
//     writes the database and invalidates by tag, so every instance serves
//     the new menu on its next request, and a data change on pub/sub tells
//     the other instances' browsers to re-read it.

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
	About string `json:"about,omitempty"`
}

var defaultMenu = []menuItem{
	{"margherita", "Margherita", 900, true, "Tomato, mozzarella, basil"},
	{"diavola", "Diavola", 1150, false, "Tomato, mozzarella, spicy salami"},
	{"funghi", "Funghi", 1050, true, "Tomato, mozzarella, mushrooms"},
	{"quattro", "Quattro formaggi", 1250, true, "Mozzarella, gorgonzola, parmesan, fontina"},
	{"capricciosa", "Capricciosa", 1300, false, "Ham, artichokes, mushrooms, olives"},
	{"marinara", "Marinara", 800, true, "Tomato, garlic, oregano"},
}

// menuLoadDelay is the "database" latency a cache miss pays.
var menuLoadDelay = 30 * time.Millisecond

// menu is the menu feature: the database and the two caches over it.
type menu struct {
	s     *shop
	db    *collection.Hash[menuItem]
	list  *cache.Cache[[]menuItem]
	items *cache.Cache[menuItem]
}

func (s *shop) setupMenu(ctx, _ context.Context) error {
	m := &menu{s: s, db: collection.NewHash[menuItem](s.kit, "menu:db")}
	if n, err := m.db.Len(ctx); err != nil {
		return err
	} else if n == 0 {
		seed := map[string]menuItem{}
		for _, it := range defaultMenu {
			seed[it.ID] = it
		}
		if err := m.db.SetMany(ctx, seed); err != nil {
			return err
		}
	}
	opts := &cache.Options{
		TTL:         menuTTL,
		NearCache:   &cache.NearCacheOptions{MaxEntries: 1000},
		NegativeTTL: menuNegativeTTL,
		FailSafe:    menuFailSafe,
	}
	m.list = cache.New[[]menuItem](s.kit, "menu:list", opts)
	m.items = cache.New[menuItem](s.kit, "menu:item", opts)
	s.menu = m
	s.onClose(func() error { return errors.Join(m.list.Close(), m.items.Close()) })
	s.mux.HandleFunc("GET /api/menu", m.getMenu)
	s.mux.HandleFunc("GET /api/menu/{id}", m.getItem)
	s.mux.HandleFunc("PUT /api/menu/{id}", m.putItem)
	return nil
}

// item reads one pizza through the item cache; redkit.ErrNotFound when
// it is not on the menu.
func (m *menu) item(ctx context.Context, id string) (menuItem, error) {
	return m.items.GetOrSetWithTags(ctx, id, func(ctx context.Context) (menuItem, error) {
		time.Sleep(menuLoadDelay)
		it, ok, err := m.db.Get(ctx, id)
		if err == nil && !ok {
			err = redkit.ErrNotFound // remembered for NegativeTTL
		}
		return it, err
	}, 0, menuTag, "item:"+id)
}

// exists reports whether id is on the menu.
func (m *menu) exists(ctx context.Context, id string) (bool, error) {
	_, err := m.item(ctx, id)
	if errors.Is(err, redkit.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// GET /api/menu → {"items": [...]}, sorted by name.
func (m *menu) getMenu(w http.ResponseWriter, r *http.Request) {
	items, err := m.list.GetOrSetWithTags(r.Context(), "all", m.loadMenu, 0, menuTag)
	if err != nil {
		writeRedisError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (m *menu) loadMenu(ctx context.Context) ([]menuItem, error) {
	time.Sleep(menuLoadDelay)
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

// GET /api/menu/{id} → the item, or 404.
func (m *menu) getItem(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	it, err := m.item(r.Context(), id)
	switch {
	case errors.Is(err, redkit.ErrNotFound):
		writeError(w, http.StatusNotFound, "no pizza "+id+" on the menu")
	case err != nil:
		writeRedisError(w, err)
	default:
		writeJSON(w, http.StatusOK, it)
	}
}

// PUT /api/menu/{id} {"name": "...", "price": 1000, "veg": true} adds or
// changes an item, then invalidates what the caches hold about it, on
// every instance.
func (m *menu) putItem(w http.ResponseWriter, r *http.Request) {
	var it menuItem
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&it); err != nil || it.Name == "" || it.Price <= 0 || it.Price > 100000 {
		writeError(w, http.StatusBadRequest, `want {"name": "...", "price": cents (1..100000), "veg": bool}`)
		return
	}
	it.ID = r.PathValue("id")
	ctx := r.Context()
	if err := m.db.Set(ctx, it.ID, it); err != nil {
		writeRedisError(w, err)
		return
	}
	// The item (or its remembered "not found") and the whole-menu list.
	_, err1 := m.items.DeleteByTag(ctx, "item:"+it.ID)
	_, err2 := m.list.DeleteByTag(ctx, menuTag)
	if err := errors.Join(err1, err2); err != nil {
		writeRedisError(w, err)
		return
	}
	m.s.live.dataChanged(ctx, "menu", it.ID)
	writeJSON(w, http.StatusOK, it)
}
