package collection_test

import (
	"slices"
	"testing"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/collection"
)

func listRoundTrip[T comparable](t *testing.T, l *collection.List[T], a, b, c T) {
	t.Helper()
	ctx := t.Context()
	rangeIs := func(want ...T) {
		t.Helper()
		got, err := l.Range(ctx, 0, -1)
		mustNil(t, "Range", err)
		if !slices.Equal(got, want) {
			t.Fatalf("Range(0, -1) = %v, want %v", got, want)
		}
	}
	if v, ok, err := l.PopFront(ctx); err != nil || ok {
		t.Fatalf("PopFront on a missing list = %v, %v, %v; want not ok", v, ok, err)
	}
	n, err := l.PushBack(ctx, a, b)
	if err != nil || n != 2 {
		t.Fatalf("PushBack(a, b) = %d, %v; want 2", n, err)
	}
	if n, err = l.PushFront(ctx, c, a); err != nil || n != 4 {
		t.Fatalf("PushFront(c, a) = %d, %v; want 4", n, err)
	}
	rangeIs(a, c, a, b) // LPUSH c then a: a ends up first
	if n, err = l.Len(ctx); err != nil || n != 4 {
		t.Fatalf("Len = %d, %v; want 4", n, err)
	}
	if got, err := l.Range(ctx, 1, 2); err != nil || !slices.Equal(got, []T{c, a}) {
		t.Fatalf("Range(1, 2) = %v, %v; want [%v %v]", got, err, c, a)
	}
	if got, err := l.Range(ctx, -2, -1); err != nil || !slices.Equal(got, []T{a, b}) {
		t.Fatalf("Range(-2, -1) = %v, %v", got, err)
	}
	if got, err := l.Range(ctx, 10, 20); err != nil || len(got) != 0 {
		t.Fatalf("Range(10, 20) = %v, %v; want empty", got, err)
	}
	// Remove finds values equal to a built anew (deterministic encoding).
	if n, err = l.Remove(ctx, a, -1); err != nil || n != 1 {
		t.Fatalf("Remove(a, -1) = %d, %v; want 1", n, err)
	}
	rangeIs(a, c, b)
	if _, err = l.PushBack(ctx, a, a); err != nil {
		t.Fatal(err)
	}
	rangeIs(a, c, b, a, a)
	if n, err = l.Remove(ctx, a, 0); err != nil || n != 3 {
		t.Fatalf("Remove(a, 0) = %d, %v; want 3", n, err)
	}
	rangeIs(c, b)
	if _, err = l.PushBack(ctx, a, b, c); err != nil {
		t.Fatal(err)
	}
	mustNil(t, "Trim", l.Trim(ctx, 1, -2))
	rangeIs(b, a, b)
	if v, ok, err := l.PopFront(ctx); err != nil || !ok || v != b {
		t.Fatalf("PopFront = %v, %v, %v; want %v", v, ok, err, b)
	}
	if v, ok, err := l.PopBack(ctx); err != nil || !ok || v != b {
		t.Fatalf("PopBack = %v, %v, %v; want %v", v, ok, err, b)
	}
	if v, ok, err := l.PopBack(ctx); err != nil || !ok || v != a {
		t.Fatalf("PopBack = %v, %v, %v; want %v", v, ok, err, a)
	}
	if v, ok, err := l.PopBack(ctx); err != nil || ok {
		t.Fatalf("PopBack on an empty list = %v, %v, %v; want not ok", v, ok, err)
	}
	if n, err = l.PushBack(ctx); err != nil || n != 0 {
		t.Fatalf("PushBack() = %d, %v", n, err)
	}
}

func testListRoundTrip(t *testing.T, k *redkit.Kit, stem string) {
	t.Run("string", func(t *testing.T) {
		listRoundTrip(t, collection.NewList[string](k, stem+":strings"), "x", "", "\xffRKz looks like a frame")
	})
	t.Run("int", func(t *testing.T) {
		listRoundTrip(t, collection.NewList[int](k, stem+":ints"), 7, -3, 0)
	})
	t.Run("struct", func(t *testing.T) {
		listRoundTrip(t, collection.NewList[pizza](k, stem+":pizzas"), margherita, diavola, quattro)
	})
	t.Run("bytes", func(t *testing.T) {
		ctx := t.Context()
		l := collection.NewList[[]byte](k, stem+":bytes")
		_, err := l.PushBack(ctx, []byte{0, 1, 2}, []byte("\xffRKz raw"))
		mustNil(t, "PushBack", err)
		got, err := l.Range(ctx, 0, -1)
		mustNil(t, "Range", err)
		if len(got) != 2 || string(got[0]) != "\x00\x01\x02" || string(got[1]) != "\xffRKz raw" {
			t.Fatalf("Range = %q", got)
		}
	})
}
