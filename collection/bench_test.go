package collection_test

import (
	"strconv"
	"testing"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/collection"
	"github.com/redkit-go/redkit/redistest"
)

// Hot paths against a real server; the side-by-side comparison with raw
// rueidis is the "collection" suite in bench/.

func benchKit(b *testing.B) *redkit.Kit {
	srv := redistest.Start(b, nil)
	k, err := redkit.Open(b.Context(), redkit.Config{URL: srv.URL()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { k.Close() })
	return k
}

func BenchmarkSetContainsStruct(b *testing.B) {
	k := benchKit(b)
	s := collection.NewSet[pizza](k, "bench:set")
	if _, err := s.Add(b.Context(), margherita, diavola); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, err := s.Contains(b.Context(), margherita); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
}

func BenchmarkSortedSetTop10(b *testing.B) {
	k := benchKit(b)
	z := collection.NewSortedSet[string](k, "bench:board")
	m := map[string]float64{}
	for i := range 1000 {
		m["player-"+strconv.Itoa(i)] = float64(i)
	}
	if _, err := z.AddMany(b.Context(), m); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if top, err := z.Range(b.Context(), 0, 9, true); err != nil || len(top) != 10 {
			b.Fatal(len(top), err)
		}
	}
}

func BenchmarkSortedSetAround(b *testing.B) {
	k := benchKit(b)
	z := collection.NewSortedSet[string](k, "bench:board")
	m := map[string]float64{}
	for i := range 1000 {
		m["player-"+strconv.Itoa(i)] = float64(i)
	}
	if _, err := z.AddMany(b.Context(), m); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if near, err := z.Around(b.Context(), "player-500", 2, true); err != nil || len(near) != 5 {
			b.Fatal(len(near), err)
		}
	}
}
