package collection_test

import (
	"maps"
	"testing"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/codec"
	"github.com/redkit-go/redkit/collection"
)

func hashRoundTrip[T comparable](t *testing.T, h *collection.Hash[T], a, b, c T) {
	t.Helper()
	ctx := t.Context()
	if v, ok, err := h.Get(ctx, "a"); err != nil || ok {
		t.Fatalf("Get on a missing hash = %v, %v, %v; want not ok", v, ok, err)
	}
	mustNil(t, "Set", h.Set(ctx, "a", a))
	mustNil(t, "SetMany", h.SetMany(ctx, map[string]T{"b": b, "c": c, "": a}))
	mustNil(t, "SetMany()", h.SetMany(ctx, nil))
	if v, ok, err := h.Get(ctx, "b"); err != nil || !ok || v != b {
		t.Fatalf("Get(b) = %v, %v, %v; want %v", v, ok, err, b)
	}
	if v, ok, err := h.Get(ctx, ""); err != nil || !ok || v != a {
		t.Fatalf("Get(\"\") = %v, %v, %v; want %v", v, ok, err, a)
	}
	if v, ok, err := h.Get(ctx, "nope"); err != nil || ok {
		t.Fatalf("Get(nope) = %v, %v, %v; want not ok", v, ok, err)
	}
	all, err := h.GetAll(ctx)
	mustNil(t, "GetAll", err)
	if want := map[string]T{"a": a, "b": b, "c": c, "": a}; !maps.Equal(all, want) {
		t.Fatalf("GetAll = %v, want %v", all, want)
	}
	many, err := h.GetMany(ctx, "c", "nope", "a")
	mustNil(t, "GetMany", err)
	if want := map[string]T{"a": a, "c": c}; !maps.Equal(many, want) {
		t.Fatalf("GetMany = %v, want %v", many, want)
	}
	if ok, err := h.Exists(ctx, "c"); err != nil || !ok {
		t.Fatalf("Exists(c) = %v, %v", ok, err)
	}
	if n, err := h.Len(ctx); err != nil || n != 4 {
		t.Fatalf("Len = %d, %v; want 4", n, err)
	}
	if n, err := h.Delete(ctx, "c", "", "nope"); err != nil || n != 2 {
		t.Fatalf("Delete(c, \"\", nope) = %d, %v; want 2", n, err)
	}
	if ok, err := h.Exists(ctx, "c"); err != nil || ok {
		t.Fatalf("Exists(deleted) = %v, %v", ok, err)
	}
	if n, err := h.Len(ctx); err != nil || n != 2 {
		t.Fatalf("Len = %d, %v; want 2", n, err)
	}
	if ok, err := h.DeleteKey(ctx); err != nil || !ok {
		t.Fatalf("DeleteKey = %v, %v", ok, err)
	}
	if all, err := h.GetAll(ctx); err != nil || len(all) != 0 || all == nil {
		t.Fatalf("GetAll of a missing hash = %#v, %v; want empty, non-nil", all, err)
	}
}

func testHashRoundTrip(t *testing.T, k *redkit.Kit, stem string) {
	t.Run("string", func(t *testing.T) {
		hashRoundTrip(t, collection.NewHash[string](k, stem+":strings"), "1", "two", "")
	})
	t.Run("float", func(t *testing.T) {
		hashRoundTrip(t, collection.NewHash[float64](k, stem+":floats"), 1.5, -2, 1e300)
	})
	t.Run("struct", func(t *testing.T) {
		hashRoundTrip(t, collection.NewHash[pizza](k, stem+":pizzas"), margherita, diavola, funghi)
	})
	t.Run("map", func(t *testing.T) {
		ctx := t.Context()
		h := collection.NewHash[map[string]int](k, stem+":maps")
		mustNil(t, "Set", h.Set(ctx, "cart", map[string]int{"margherita": 2, "diavola": 1}))
		v, ok, err := h.Get(ctx, "cart")
		if err != nil || !ok || !maps.Equal(v, map[string]int{"margherita": 2, "diavola": 1}) {
			t.Fatalf("Get = %v, %v, %v", v, ok, err)
		}
	})
	t.Run("incr", func(t *testing.T) {
		ctx := t.Context()
		h := collection.NewHash[int64](k, stem+":counts")
		if k.Format().Codec == codec.MsgPack {
			// MessagePack stores integers in binary: HINCRBY cannot
			// add to them, and Redis says so.
			mustNil(t, "Set", h.Set(ctx, "x", 1))
			if _, err := h.Incr(ctx, "x", 1); err == nil {
				t.Fatal("Incr on a MessagePack integer succeeded")
			}
			return
		}
		mustNil(t, "Set", h.Set(ctx, "x", 40))
		if n, err := h.Incr(ctx, "x", 2); err != nil || n != 42 {
			t.Fatalf("Incr(x, 2) = %d, %v; want 42", n, err)
		}
		if n, err := h.Incr(ctx, "new", -5); err != nil || n != -5 {
			t.Fatalf("Incr(new, -5) = %d, %v; want -5", n, err)
		}
		if v, ok, err := h.Get(ctx, "x"); err != nil || !ok || v != 42 {
			t.Fatalf("Get(x) after Incr = %d, %v, %v; want 42", v, ok, err)
		}
	})
}
