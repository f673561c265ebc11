package main

import (
	"testing"

	"github.com/redkit-go/redkit/cache"
)

func TestMenu(t *testing.T) {
	a := shopTestApp(t, setupMenu)
	h := a.routes()

	var menu struct {
		Items []menuItem `json:"items"`
	}
	for range 3 {
		wantCode(t, "menu", call(t, h, "GET", "/menu", nil, &menu), 200)
		if len(menu.Items) != len(defaultMenu) || menu.Items[0].Name != "Diavola" {
			t.Fatalf("menu = %v; want the %d default pizzas sorted by name", menu.Items, len(defaultMenu))
		}
	}
	var it menuItem
	wantCode(t, "item", call(t, h, "GET", "/menu/funghi", nil, &it), 200)
	wantCode(t, "item", call(t, h, "GET", "/menu/funghi", nil, &it), 200)
	if it.Price != 1050 {
		t.Fatalf("funghi = %+v", it)
	}
	for range 2 {
		wantCode(t, "unknown item", call(t, h, "GET", "/menu/hawaii", nil, nil), 404)
	}
	var st map[string]cache.Stats
	call(t, h, "GET", "/menu/cache", nil, &st)
	if st["list"].Loads != 1 || st["items"].Loads != 2 || st["list"].NearHits+st["list"].RemoteHits != 2 {
		t.Fatalf("cache stats = %+v; want 1 menu load, 2 item loads (funghi, hawaii), 2 menu hits", st)
	}

	// Changing an item invalidates it and the menu by tag.
	wantCode(t, "put", call(t, h, "PUT", "/menu/funghi", map[string]any{"name": "Funghi", "price": 1100, "veg": true}, nil), 200)
	call(t, h, "GET", "/menu/funghi", nil, &it)
	if it.Price != 1100 {
		t.Fatalf("funghi after PUT = %+v; want the new price", it)
	}
	call(t, h, "GET", "/menu", nil, &menu)
	for _, m := range menu.Items {
		if m.ID == "funghi" && m.Price != 1100 {
			t.Fatalf("menu after PUT still has %+v", m)
		}
	}
	// A new item replaces the remembered "not found".
	wantCode(t, "put", call(t, h, "PUT", "/menu/hawaii", map[string]any{"name": "Hawaii", "price": 1000}, nil), 200)
	wantCode(t, "new item", call(t, h, "GET", "/menu/hawaii", nil, &it), 200)
	call(t, h, "GET", "/menu", nil, &menu)
	if len(menu.Items) != len(defaultMenu)+1 {
		t.Fatalf("menu after adding hawaii has %d items", len(menu.Items))
	}
	wantCode(t, "bad put", call(t, h, "PUT", "/menu/x", map[string]any{"name": ""}, nil), 400)
}
