package cache_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/cache"
	"github.com/redkit-go/redkit/redistest"
)

// exampleKit starts a real redis-server and opens a Kit on it; use your
// own URL in production.
func exampleKit() (*redkit.Kit, func(), error) {
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

type Product struct {
	SKU   string
	Price int
}

func ExampleCache_GetOrSet() {
	kit, done, err := exampleKit()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	ctx := context.Background()

	products := cache.New[Product](kit, "product", &cache.Options{
		TTL:       10 * time.Minute,
		NearCache: &cache.NearCacheOptions{}, // decoded values in process, kept fresh by Redis
		FailSafe:  time.Hour,                 // serve the last good value if the database fails
	})
	defer products.Close()

	load := func(ctx context.Context) (Product, error) {
		fmt.Println("loading from the database")
		return Product{SKU: "p-1", Price: 1299}, nil
	}
	for range 3 {
		p, err := products.GetOrSet(ctx, "p-1", load, 0)
		fmt.Println(p, err)
	}
	fmt.Println(products.Key("p-1"))
	// Output:
	// loading from the database
	// {p-1 1299} <nil>
	// {p-1 1299} <nil>
	// {p-1 1299} <nil>
	// shop:product:p-1
}

func ExampleCache_GetOrSet_notFound() {
	kit, done, err := exampleKit()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	ctx := context.Background()

	products := cache.New[Product](kit, "product", &cache.Options{NegativeTTL: time.Minute})
	defer products.Close()
	missing := func(ctx context.Context) (Product, error) {
		fmt.Println("asking the database")
		return Product{}, redkit.ErrNotFound
	}
	for range 2 {
		_, err := products.GetOrSet(ctx, "p-404", missing, 0)
		fmt.Println(errors.Is(err, redkit.ErrNotFound))
	}
	// Output:
	// asking the database
	// true
	// true
}

func ExampleCache_DeleteByTag() {
	kit, done, err := exampleKit()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	ctx := context.Background()

	pages := cache.New[string](kit, "page", nil)
	defer pages.Close()
	_ = pages.SetWithTags(ctx, "/menu", "<html>menu</html>", 0, "menu")
	_ = pages.SetWithTags(ctx, "/menu/1", "<html>margherita</html>", 0, "menu", "item:1")
	_ = pages.Set(ctx, "/about", "<html>about</html>", 0)

	n, err := pages.DeleteByTag(ctx, "menu")
	fmt.Println(n, err)
	_, ok, _ := pages.Get(ctx, "/about")
	fmt.Println(ok)
	// Output:
	// 2 <nil>
	// true
}

func ExampleCache_DeleteByPattern() {
	kit, done, err := exampleKit()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	ctx := context.Background()

	c := cache.New[int](kit, "search", nil)
	defer c.Close()
	_ = c.SetMany(ctx, map[string]int{"q:pizza": 3, "q:pizza*": 1, "q:pasta": 2}, 0)

	userInput := "pizza*"
	n, _ := c.DeleteByPattern(ctx, "q:"+redkit.EscapePattern(userInput)) // only the literal key
	fmt.Println(n)
	n, _ = c.DeleteByPattern(ctx, "q:*")
	fmt.Println(n)
	// Output:
	// 1
	// 2
}

func ExampleCounter() {
	kit, done, err := exampleKit()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	ctx := context.Background()

	views := cache.NewCounter(kit, "views")
	views.Incr(ctx, "home", 3)
	views.Decr(ctx, "home", 1)
	n, _ := views.Get(ctx, "home")
	fmt.Println(n)
	// Output: 2
}
