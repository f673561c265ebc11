package collection_test

import (
	"context"
	"fmt"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/collection"
	"github.com/redkit-go/redkit/redistest"
)

// openExample starts a real redis-server for the example and opens a Kit
// on it; use your own URL in production.
func openExample() (*redkit.Kit, func(), error) {
	srv, err := redistest.Launch(nil)
	if err != nil {
		return nil, nil, err
	}
	kit, err := redkit.Open(context.Background(), redkit.Config{URL: srv.URL(), KeyPrefix: "shop:"})
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	return kit, func() { kit.Close(); srv.Close() }, nil
}

func ExampleSortedSet_Range() {
	kit, done, err := openExample()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	ctx := context.Background()

	board := collection.NewSortedSet[string](kit, "leaderboard")
	board.AddMany(ctx, map[string]float64{"ada": 310, "bob": 120, "cy": 250, "dee": 90})
	board.IncrBy(ctx, "bob", 200) // bob: 320

	// The top 3 with scores and ranks, in one round trip.
	top, _ := board.Range(ctx, 0, 2, true)
	for _, m := range top {
		fmt.Printf("#%d %s %.0f\n", m.Rank+1, m.Value, m.Score)
	}
	// Output:
	// #1 bob 320
	// #2 ada 310
	// #3 cy 250
}

func ExampleSortedSet_Around() {
	kit, done, err := openExample()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	ctx := context.Background()

	board := collection.NewSortedSet[string](kit, "leaderboard")
	board.AddMany(ctx, map[string]float64{"ada": 50, "bob": 40, "cy": 30, "dee": 20, "eve": 10})

	// cy and one neighbour either side, ranked from the top.
	near, _ := board.Around(ctx, "cy", 1, true)
	for _, m := range near {
		fmt.Printf("#%d %s\n", m.Rank+1, m.Value)
	}
	// Output:
	// #2 bob
	// #3 cy
	// #4 dee
}

func ExampleSet_Inter() {
	kit, done, err := openExample()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	ctx := context.Background()

	// Keys that are combined share a hash tag, so this works on a cluster.
	vegetarian := collection.NewSet[string](kit, redkit.HashTag("segments")+":vegetarian")
	weekly := collection.NewSet[string](kit, redkit.HashTag("segments")+":weekly")
	vegetarian.Add(ctx, "ada", "cy")
	weekly.Add(ctx, "cy", "dee")

	both, _ := vegetarian.Inter(ctx, weekly)
	fmt.Println(both)
	// Output: [cy]
}

func ExampleSet_Contains() {
	kit, done, err := openExample()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	ctx := context.Background()

	type topping struct {
		Name  string
		Extra bool
	}
	toppings := collection.NewSet[topping](kit, "order:42:toppings")
	toppings.Add(ctx, topping{"basil", false}, topping{"mozzarella", true})

	// Encoding is deterministic: an equal struct is found.
	ok, _ := toppings.Contains(ctx, topping{"mozzarella", true})
	fmt.Println(ok)
	// Output: true
}

func ExampleHash() {
	kit, done, err := openExample()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	ctx := context.Background()

	cart := collection.NewHash[int64](kit, "cart:ada")
	cart.Set(ctx, "margherita", 1)
	n, _ := cart.Incr(ctx, "margherita", 2)
	qty, ok, _ := cart.Get(ctx, "diavola")
	fmt.Println(n, qty, ok)
	// Output: 3 0 false
}

func ExampleList() {
	kit, done, err := openExample()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	ctx := context.Background()

	// Recently viewed: newest first, keep five.
	recent := collection.NewList[string](kit, "viewed:ada")
	for _, p := range []string{"margherita", "diavola", "funghi"} {
		recent.Remove(ctx, p, 0)
		recent.PushFront(ctx, p)
		recent.Trim(ctx, 0, 4)
	}
	items, _ := recent.Range(ctx, 0, -1)
	fmt.Println(items)
	// Output: [funghi diavola margherita]
}
