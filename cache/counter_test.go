package cache_test

import (
	"errors"
	"testing"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/cache"
)

func TestCounter(t *testing.T) {
	srv, k := single(t)
	ctx := t.Context()
	c := cache.NewCounter(k, "visits")
	if n, err := c.Get(ctx, "home"); err != nil || n != 0 {
		t.Fatalf("Get(missing) = %d, %v; want 0", n, err)
	}
	if n, err := c.Incr(ctx, "home", 5); err != nil || n != 5 {
		t.Fatalf("Incr = %d, %v; want 5", n, err)
	}
	if n, err := c.Decr(ctx, "home", 2); err != nil || n != 3 {
		t.Fatalf("Decr = %d, %v; want 3", n, err)
	}
	if n, err := c.Get(ctx, "home"); err != nil || n != 3 {
		t.Fatalf("Get = %d, %v; want 3", n, err)
	}
	if raw, _ := srv.Do("GET", k.Key("visits", "home")); raw != "3" {
		t.Fatalf("stored %q under %q; want 3", raw, k.Key("visits", "home"))
	}
	if f, err := c.IncrFloat(ctx, "score", 1.5); err != nil || f != 1.5 {
		t.Fatalf("IncrFloat = %v, %v; want 1.5", f, err)
	}
	if f, err := c.IncrFloat(ctx, "score", -0.25); err != nil || f != 1.25 {
		t.Fatalf("IncrFloat = %v, %v; want 1.25", f, err)
	}
	if _, err := c.Get(ctx, "score"); err == nil {
		t.Fatal("Get of a float counter: want an error")
	}
	if _, err := srv.Do("LPUSH", k.Key("visits", "list"), "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Incr(ctx, "list", 1); !errors.Is(err, redkit.ErrWrongType) {
		t.Fatalf("Incr on a list: err = %v; want ErrWrongType", err)
	}
	if _, err := c.Incr(ctx, "", 1); !errors.Is(err, redkit.ErrEmptyKey) {
		t.Fatalf("Incr(\"\"): err = %v; want ErrEmptyKey", err)
	}
}
