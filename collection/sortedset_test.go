package collection_test

import (
	"cmp"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/collection"
)

func testSortedSetRoundTrip(t *testing.T, k *redkit.Kit, stem string) {
	ctx := t.Context()
	z := collection.NewSortedSet[pizza](k, stem+":pizzas")
	n, err := z.AddMany(ctx, map[pizza]float64{margherita: 10, diavola: 30, funghi: 20})
	if err != nil || n != 3 {
		t.Fatalf("AddMany = %d, %v; want 3", n, err)
	}
	if added, err := z.Add(ctx, quattro, 5); err != nil || !added {
		t.Fatalf("Add(new) = %v, %v; want true", added, err)
	}
	if added, err := z.Add(ctx, quattro, 25); err != nil || added {
		t.Fatalf("Add(existing) = %v, %v; want false", added, err)
	}
	if n, err = z.AddMany(ctx, nil); err != nil || n != 0 {
		t.Fatalf("AddMany(nil) = %d, %v", n, err)
	}
	if s, err := z.IncrBy(ctx, margherita, 2.5); err != nil || s != 12.5 {
		t.Fatalf("IncrBy = %v, %v; want 12.5", s, err)
	}
	// Scores: margherita 12.5, funghi 20, quattro 25, diavola 30.
	asc := []collection.Member[pizza]{{margherita, 12.5, 0}, {funghi, 20, 1}, {quattro, 25, 2}, {diavola, 30, 3}}
	desc := []collection.Member[pizza]{{diavola, 30, 0}, {quattro, 25, 1}, {funghi, 20, 2}, {margherita, 12.5, 3}}
	eq := func(what string, got []collection.Member[pizza], err error, want []collection.Member[pizza]) {
		t.Helper()
		mustNil(t, what, err)
		if !slices.Equal(got, want) {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
	}
	got, err := z.Range(ctx, 0, -1, false)
	eq("Range(0, -1, asc)", got, err, asc)
	got, err = z.Range(ctx, 0, 1, true)
	eq("Range(0, 1, desc)", got, err, desc[:2])
	got, err = z.Range(ctx, 1, 2, false)
	eq("Range(1, 2, asc)", got, err, asc[1:3])
	got, err = z.Range(ctx, -2, -1, true)
	eq("Range(-2, -1, desc)", got, err, desc[2:])
	got, err = z.Range(ctx, -10, 0, false)
	eq("Range(-10, 0, asc)", got, err, asc[:1])
	got, err = z.Range(ctx, 7, 9, false)
	eq("Range(7, 9)", got, err, []collection.Member[pizza]{})
	got, err = z.RangeByScore(ctx, 20, 25)
	eq("RangeByScore(20, 25)", got, err, asc[1:3])
	got, err = z.RangeByScore(ctx, math.Inf(-1), 20)
	eq("RangeByScore(-inf, 20)", got, err, asc[:2])
	got, err = z.RangeByScore(ctx, 12.6, math.Inf(1))
	eq("RangeByScore(12.6, +inf)", got, err, asc[1:])
	if _, err = z.RangeByScore(ctx, math.NaN(), 1); err == nil {
		t.Fatal("RangeByScore(NaN) succeeded")
	}
	got, err = z.Around(ctx, funghi, 1, false)
	eq("Around(funghi, 1, asc)", got, err, asc[0:3])
	got, err = z.Around(ctx, diavola, 2, true)
	eq("Around(diavola, 2, desc)", got, err, desc[0:3])
	got, err = z.Around(ctx, margherita, 0, true)
	eq("Around(margherita, 0, desc)", got, err, desc[3:])
	got, err = z.Around(ctx, pizza{Name: "hawaii"}, 5, true)
	eq("Around(absent)", got, err, []collection.Member[pizza]{})
	if s, ok, err := z.Score(ctx, pizza{"funghi", 26, 9.25}); err != nil || !ok || s != 20 {
		t.Fatalf("Score(funghi) = %v, %v, %v; want 20", s, ok, err)
	}
	if _, ok, err := z.Score(ctx, pizza{Name: "hawaii"}); err != nil || ok {
		t.Fatalf("Score(absent) = %v, %v; want not ok", ok, err)
	}
	if r, ok, err := z.Rank(ctx, quattro, false); err != nil || !ok || r != 2 {
		t.Fatalf("Rank(quattro, asc) = %d, %v, %v; want 2", r, ok, err)
	}
	if r, ok, err := z.Rank(ctx, quattro, true); err != nil || !ok || r != 1 {
		t.Fatalf("Rank(quattro, desc) = %d, %v, %v; want 1", r, ok, err)
	}
	if _, ok, err := z.Rank(ctx, pizza{Name: "hawaii"}, true); err != nil || ok {
		t.Fatalf("Rank(absent) = %v, %v; want not ok", ok, err)
	}
	if n, err := z.Len(ctx); err != nil || n != 4 {
		t.Fatalf("Len = %d, %v; want 4", n, err)
	}
	if n, err := z.Remove(ctx, funghi, pizza{Name: "hawaii"}); err != nil || n != 1 {
		t.Fatalf("Remove = %d, %v; want 1", n, err)
	}
	if n, err := z.RemoveRangeByRank(ctx, 0, -2); err != nil || n != 2 {
		t.Fatalf("RemoveRangeByRank(0, -2) = %d, %v; want 2", n, err)
	}
	got, err = z.Range(ctx, 0, -1, false)
	eq("Range after removals", got, err, []collection.Member[pizza]{{diavola, 30, 0}})

	t.Run("numbers", func(t *testing.T) {
		z := collection.NewSortedSet[int](k, stem+":ints")
		_, err := z.AddMany(ctx, map[int]float64{1: 1, 2: 4, 3: 9})
		mustNil(t, "AddMany", err)
		got, err := z.Range(ctx, 0, -1, true)
		want := []collection.Member[int]{{3, 9, 0}, {2, 4, 1}, {1, 1, 2}}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("Range = %v, %v; want %v", got, err, want)
		}
		if s, err := z.IncrBy(ctx, 4, -1.5); err != nil || s != -1.5 {
			t.Fatalf("IncrBy(new) = %v, %v", s, err)
		}
		if _, err := z.Add(ctx, 5, math.NaN()); err == nil {
			t.Fatal("Add(NaN) succeeded")
		}
		if _, err := z.Add(ctx, 6, math.Inf(1)); err != nil {
			t.Fatalf("Add(+Inf): %v", err)
		}
		if s, ok, err := z.Score(ctx, 6); err != nil || !ok || !math.IsInf(s, 1) {
			t.Fatalf("Score(+Inf member) = %v, %v, %v", s, ok, err)
		}
	})
}

// testLeaderboard checks Range, Around, RangeByScore and Rank against a Go
// computation on random scores with ties, and that Range and Around cost
// one round trip each.
func testLeaderboard(t *testing.T, k *redkit.Kit, stem string) {
	ctx := t.Context()
	z := collection.NewSortedSet[string](k, stem+":board")
	rng := rand.New(rand.NewPCG(7, uint64(len(stem))))
	type entry struct {
		name  string
		score float64
	}
	var all []entry
	scores := map[string]float64{}
	for i := range 200 {
		e := entry{"player-" + strconv.Itoa(i), float64(rng.IntN(50))}
		all = append(all, e)
		scores[e.name] = e.score
	}
	_, err := z.AddMany(ctx, scores)
	mustNil(t, "AddMany", err)
	// Redis orders ties by the member's bytes; descending is the exact
	// reverse of ascending.
	slices.SortFunc(all, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.score, b.score), cmp.Compare(a.name, b.name))
	})
	asc := make([]collection.Member[string], len(all))
	desc := make([]collection.Member[string], len(all))
	for i, e := range all {
		asc[i] = collection.Member[string]{Value: e.name, Score: e.score, Rank: int64(i)}
		j := len(all) - 1 - i
		desc[j] = collection.Member[string]{Value: e.name, Score: e.score, Rank: int64(j)}
	}

	// A Kit of its own, so that its command count is this test's alone.
	k2 := open(t, k.Config())
	z2 := collection.NewSortedSet[string](k2, stem+":board")
	ops := func(f func()) int64 {
		before := k2.Stats().Ops
		f()
		return k2.Stats().Ops - before
	}
	var got []collection.Member[string]
	if n := ops(func() { got, err = z2.Range(ctx, 0, 9, true) }); n != 1 {
		t.Fatalf("Range sent %d commands, want 1", n)
	}
	mustNil(t, "Range", err)
	if !slices.Equal(got, desc[:10]) {
		t.Fatalf("top 10 = %v, want %v", got, desc[:10])
	}
	for _, i := range []int{0, 1, 57, 198, 199} {
		name := asc[i].Value
		var around []collection.Member[string]
		if n := ops(func() { around, err = z2.Around(ctx, name, 3, true) }); n != 1 {
			t.Fatalf("Around sent %d commands, want 1", n)
		}
		mustNil(t, "Around", err)
		r := len(all) - 1 - i
		if want := desc[max(r-3, 0):min(r+4, len(desc))]; !slices.Equal(around, want) {
			t.Fatalf("Around(%s, 3, desc) = %v, want %v", name, around, want)
		}
		around, err = z.Around(ctx, name, 3, false)
		mustNil(t, "Around", err)
		if want := asc[max(i-3, 0):min(i+4, len(asc))]; !slices.Equal(around, want) {
			t.Fatalf("Around(%s, 3, asc) = %v, want %v", name, around, want)
		}
		if rank, ok, err := z.Rank(ctx, name, true); err != nil || !ok || rank != int64(r) {
			t.Fatalf("Rank(%s, desc) = %d, %v, %v; want %d", name, rank, ok, err, r)
		}
	}
	got, err = z.Range(ctx, -5, -1, false)
	mustNil(t, "Range", err)
	if !slices.Equal(got, asc[len(asc)-5:]) {
		t.Fatalf("Range(-5, -1) = %v, want %v", got, asc[len(asc)-5:])
	}
	got, err = z.RangeByScore(ctx, 10, 12)
	mustNil(t, "RangeByScore", err)
	var want []collection.Member[string]
	for _, m := range asc {
		if m.Score >= 10 && m.Score <= 12 {
			want = append(want, m)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("RangeByScore(10, 12) = %v, want %v", got, want)
	}
	// Keep the top 100.
	if n, err := z.RemoveRangeByRank(ctx, 0, -101); err != nil || n != 100 {
		t.Fatalf("RemoveRangeByRank(0, -101) = %d, %v; want 100", n, err)
	}
	got, err = z.Range(ctx, 0, -1, true)
	mustNil(t, "Range", err)
	if !slices.Equal(got, desc[:100]) {
		t.Fatalf("after trimming, Range = %v, want the top 100", got)
	}
}

// testSortedSetExtremeIndexes checks that indexes beyond the set, up to the
// int64 limits, mean what they mean in Redis (the end), and that Around
// refuses a negative n instead of quietly returning only the member.
func testSortedSetExtremeIndexes(t *testing.T, k *redkit.Kit, stem string) {
	ctx := t.Context()
	z := collection.NewSortedSet[string](k, stem+":z")
	if _, err := z.AddMany(ctx, map[string]float64{"a": 1, "b": 2, "c": 3, "d": 4}); err != nil {
		t.Fatal(err)
	}
	asc := []collection.Member[string]{{"a", 1, 0}, {"b", 2, 1}, {"c", 3, 2}, {"d", 4, 3}}
	desc := []collection.Member[string]{{"d", 4, 0}, {"c", 3, 1}, {"b", 2, 2}, {"a", 1, 3}}
	none := []collection.Member[string]{}
	tests := []struct {
		start, stop int64
		desc        bool
		want        []collection.Member[string]
	}{
		{-2, math.MaxInt64, false, asc[2:]},
		{-2, math.MaxInt64, true, desc[2:]},
		{0, math.MaxInt64, false, asc},
		{math.MinInt64, math.MaxInt64, false, asc},
		{math.MinInt64, math.MaxInt64, true, desc},
		{math.MinInt64, -3, false, asc[:2]},
		{-(1 << 60), 0, true, desc[:1]},
		{-(1<<53 - 1), 1, false, asc[:2]},
		{-5, -3, false, asc[:2]},
		{math.MinInt64, math.MinInt64, false, none},
		{-2, math.MinInt64, false, none},
		{math.MaxInt64, math.MaxInt64, false, none},
		{3, math.MaxInt64, true, desc[3:]},
	}
	for _, tt := range tests {
		got, err := z.Range(ctx, tt.start, tt.stop, tt.desc)
		if err != nil {
			t.Errorf("Range(%d, %d, %v): %v", tt.start, tt.stop, tt.desc, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Range(%d, %d, %v) = %v, want %v", tt.start, tt.stop, tt.desc, got, tt.want)
		}
	}

	got, err := z.Around(ctx, "b", -1, false)
	var re *redkit.Error
	if !errors.As(err, &re) || re.Key != stem+":z" || !strings.Contains(err.Error(), "n (members either side) must not be negative, got -1") {
		t.Errorf("Around(n=-1) = %v, %v; want a *redkit.Error for key %q naming n", got, err, stem+":z")
	}
	if got != nil {
		t.Errorf("Around(n=-1) returned members %v", got)
	}
	got, err = z.Around(ctx, "b", math.MaxInt64, true)
	mustNil(t, "Around(n=MaxInt64)", err)
	if !slices.Equal(got, desc) {
		t.Errorf("Around(b, MaxInt64, desc) = %v, want %v", got, desc)
	}
	got, err = z.Around(ctx, "c", 0, false)
	mustNil(t, "Around(n=0)", err)
	if !slices.Equal(got, asc[2:3]) {
		t.Errorf("Around(c, 0) = %v, want %v", got, asc[2:3])
	}
}
