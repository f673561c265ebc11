package collection_test

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/collection"
)

func collectionSet(k *redkit.Kit, key string) *collection.Set[string] {
	return collection.NewSet[string](k, key)
}

func sorted[T any](vs []T, key func(T) string) []T {
	out := slices.Clone(vs)
	slices.SortFunc(out, func(a, b T) int {
		ka, kb := key(a), key(b)
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	return out
}

// setRoundTrip checks every single-set method for one element type.
func setRoundTrip[T comparable](t *testing.T, s *collection.Set[T], a, b, c T, key func(T) string) {
	t.Helper()
	ctx := t.Context()
	n, err := s.Add(ctx, a, b, a)
	if err != nil || n != 2 {
		t.Fatalf("Add(a, b, a) = %d, %v; want 2", n, err)
	}
	if n, err = s.Add(ctx, b, c); err != nil || n != 1 {
		t.Fatalf("Add(b, c) = %d, %v; want 1", n, err)
	}
	if n, err = s.Add(ctx); err != nil || n != 0 {
		t.Fatalf("Add() = %d, %v; want 0", n, err)
	}
	if n, err = s.Len(ctx); err != nil || n != 3 {
		t.Fatalf("Len = %d, %v; want 3", n, err)
	}
	for _, v := range []T{a, b, c} {
		// A value built anew encodes to the same bytes: membership works.
		if ok, err := s.Contains(ctx, v); err != nil || !ok {
			t.Fatalf("Contains(%v) = %v, %v; want true", v, ok, err)
		}
	}
	got, err := s.Members(ctx)
	mustNil(t, "Members", err)
	if want := sorted([]T{a, b, c}, key); !slices.Equal(sorted(got, key), want) {
		t.Fatalf("Members = %v, want %v", got, want)
	}
	if n, err = s.Remove(ctx, a, a, c); err != nil || n != 2 {
		t.Fatalf("Remove(a, a, c) = %d, %v; want 2", n, err)
	}
	if ok, err := s.Contains(ctx, a); err != nil || ok {
		t.Fatalf("Contains(removed) = %v, %v; want false", ok, err)
	}
	if got, err = s.Members(ctx); err != nil || len(got) != 1 || got[0] != b {
		t.Fatalf("Members = %v, %v; want [%v]", got, err, b)
	}
	if ok, err := s.Delete(ctx); err != nil || !ok {
		t.Fatalf("Delete = %v, %v; want true", ok, err)
	}
	if got, err = s.Members(ctx); err != nil || len(got) != 0 || got == nil {
		t.Fatalf("Members of a missing set = %#v, %v; want empty, non-nil", got, err)
	}
}

func testSetRoundTrip(t *testing.T, k *redkit.Kit, stem string) {
	t.Run("string", func(t *testing.T) {
		s := collection.NewSet[string](k, stem+":strings")
		if want := k.Key(stem + ":strings"); s.Key() != want {
			t.Fatalf("Key = %q, want %q", s.Key(), want)
		}
		setRoundTrip(t, s, "a", "", "naïve {tag} \xff\x00", func(s string) string { return s })
	})
	t.Run("int", func(t *testing.T) {
		s := collection.NewSet[int64](k, stem+":ints")
		setRoundTrip(t, s, -1, 0, 1<<60, func(v int64) string { return strconv.FormatInt(v, 10) })
	})
	t.Run("float", func(t *testing.T) {
		s := collection.NewSet[float64](k, stem+":floats")
		setRoundTrip(t, s, 0.1, -2.5e-10, 3, func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) })
	})
	t.Run("struct", func(t *testing.T) {
		s := collection.NewSet[pizza](k, stem+":pizzas")
		setRoundTrip(t, s, margherita, diavola, funghi, func(p pizza) string { return p.Name })
	})
}

// testSetAlgebraRandom checks Inter, Union, Diff and their Store forms
// against a Go computation on random sets.
func testSetAlgebraRandom(t *testing.T, k *redkit.Kit, stem string) {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(1, uint64(len(stem))))
	for round := range 20 {
		nSets := 2 + rng.IntN(3)
		sets := make([]*collection.Set[int], nSets)
		local := make([]map[int]bool, nSets)
		for i := range sets {
			sets[i] = collection.NewSet[int](k, tagged(stem, strconv.Itoa(round), strconv.Itoa(i)))
			local[i] = map[int]bool{}
			var vs []int
			for range rng.IntN(40) {
				v := rng.IntN(60)
				vs = append(vs, v)
				local[i][v] = true
			}
			_, err := sets[i].Add(ctx, vs...)
			mustNil(t, "Add", err)
		}
		inter, union, diff := map[int]bool{}, map[int]bool{}, map[int]bool{}
		for v := range local[0] {
			inInter, inDiff := true, true
			for _, o := range local[1:] {
				inInter = inInter && o[v]
				inDiff = inDiff && !o[v]
			}
			if inInter {
				inter[v] = true
			}
			if inDiff {
				diff[v] = true
			}
		}
		for _, m := range local {
			for v := range m {
				union[v] = true
			}
		}
		keys := func(m map[int]bool) []int {
			out := make([]int, 0, len(m))
			for v := range m {
				out = append(out, v)
			}
			slices.Sort(out)
			return out
		}
		s, others := sets[0], sets[1:]
		check := func(name string, got []int, err error, want map[int]bool) {
			t.Helper()
			mustNil(t, name, err)
			slices.Sort(got)
			if w := keys(want); !slices.Equal(got, w) {
				t.Fatalf("round %d %s = %v, want %v", round, name, got, w)
			}
		}
		got, err := s.Inter(ctx, others...)
		check("Inter", got, err, inter)
		got, err = s.Union(ctx, others...)
		check("Union", got, err, union)
		got, err = s.Diff(ctx, others...)
		check("Diff", got, err, diff)

		dst := collection.NewSet[int](k, tagged(stem, strconv.Itoa(round), "dst"))
		for _, st := range []struct {
			name  string
			store func() (int64, error)
			want  map[int]bool
		}{
			{"InterStore", func() (int64, error) { return s.InterStore(ctx, dst, others...) }, inter},
			{"UnionStore", func() (int64, error) { return s.UnionStore(ctx, dst, others...) }, union},
			{"DiffStore", func() (int64, error) { return s.DiffStore(ctx, dst, others...) }, diff},
		} {
			n, err := st.store()
			mustNil(t, st.name, err)
			if n != int64(len(st.want)) {
				t.Fatalf("round %d %s = %d, want %d", round, st.name, n, len(st.want))
			}
			got, err := dst.Members(ctx)
			check(st.name+" stored", got, err, st.want)
		}
	}
}
