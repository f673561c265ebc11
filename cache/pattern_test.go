package cache_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/cache"
)

func TestDeleteByPattern(t *testing.T) {
	srv, k := single(t)
	testDeleteByPattern(t, k, func(key string) bool {
		n, err := srv.Do("EXISTS", key)
		if err != nil {
			t.Fatal(err)
		}
		return n == "1"
	})
}

// testDeleteByPattern writes keys in this cache, in another cache and
// under another prefix, deletes by pattern, and checks exactly the
// matching keys of this cache went. exists asks the server.
func testDeleteByPattern(t *testing.T, k *redkit.Kit, exists func(string) bool) {
	ctx := t.Context()
	c := cache.New[string](k, "pages", nil)
	defer c.Close()
	other := cache.New[string](k, "pages2", nil) // shares "pages" as a prefix of its name
	defer other.Close()
	items := map[string]string{}
	for i := range 300 {
		items[fmt.Sprint("user:", i)] = "u"
		items[fmt.Sprint("post:", i)] = "p"
	}
	if err := c.SetMany(ctx, items, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := other.SetMany(ctx, map[string]string{"user:1": "x", "user:2": "x"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	n, err := c.DeleteByPattern(ctx, "user:*")
	if err != nil || n != 300 {
		t.Fatalf("DeleteByPattern(user:*) = %d, %v; want 300", n, err)
	}
	for i := range 300 {
		if exists(c.Key(fmt.Sprint("user:", i))) {
			t.Fatalf("user:%d survived", i)
		}
		if !exists(c.Key(fmt.Sprint("post:", i))) {
			t.Fatalf("post:%d was deleted; it does not match", i)
		}
	}
	if !exists(other.Key("user:1")) || !exists(other.Key("user:2")) {
		t.Fatal("another cache's keys were deleted")
	}

	// User input with glob characters: escaped, it matches only itself.
	for _, key := range []string{"q:a*b", "q:axb", "q:a*bc", "q:a?b", "q:[ab]"} {
		mustSet(t, c, key, "v", time.Minute)
	}
	n, err = c.DeleteByPattern(ctx, "q:"+redkit.EscapePattern("a*b"))
	if err != nil || n != 1 {
		t.Fatalf("DeleteByPattern(escaped a*b) = %d, %v; want 1", n, err)
	}
	for key, want := range map[string]bool{"q:a*b": false, "q:axb": true, "q:a*bc": true, "q:a?b": true, "q:[ab]": true} {
		if got := exists(c.Key(key)); got != want {
			t.Fatalf("after deleting the literal a*b, %q exists = %v; want %v", key, got, want)
		}
	}
	n, err = c.DeleteByPattern(ctx, "*")
	if err != nil || n != 304 {
		t.Fatalf("DeleteByPattern(*) = %d, %v; want the 304 left", n, err)
	}
	if !exists(other.Key("user:1")) {
		t.Fatal("DeleteByPattern(*) reached another cache")
	}
}

func TestTags(t *testing.T) {
	srv, k := single(t)
	testTags(t, k, func(key string) bool {
		n, _ := srv.Do("EXISTS", key)
		return n == "1"
	})
}

func testTags(t *testing.T, k *redkit.Kit, exists func(string) bool) {
	ctx := t.Context()
	c := cache.New[string](k, "menu", nearOpts())
	defer c.Close()
	for i := range 100 {
		key := fmt.Sprint("pizza:", i)
		if err := c.SetWithTags(ctx, key, "p", time.Minute, "pizzas", fmt.Sprint("item:", i)); err != nil {
			t.Fatal(err)
		}
	}
	mustSet(t, c, "drink:1", "d", time.Minute)
	if err := c.Tag(ctx, "drinks", time.Minute, "drink:1"); err != nil {
		t.Fatal(err)
	}
	v, err := c.GetOrSetWithTags(ctx, "dessert:1", func(context.Context) (string, error) { return "tiramisu", nil }, time.Minute, "desserts")
	if err != nil || v != "tiramisu" {
		t.Fatalf("GetOrSetWithTags = %q, %v", v, err)
	}
	c.Get(ctx, "pizza:5") // near-cached before the delete

	if n, err := c.DeleteByTag(ctx, "item:5"); err != nil || n != 1 {
		t.Fatalf("DeleteByTag(item:5) = %d, %v; want 1", n, err)
	}
	if _, ok, _ := c.Get(ctx, "pizza:5"); ok {
		t.Fatal("pizza:5 still readable after DeleteByTag")
	}
	if n, err := c.DeleteByTag(ctx, "pizzas"); err != nil || n != 99 {
		t.Fatalf("DeleteByTag(pizzas) = %d, %v; want the 99 left", n, err)
	}
	for i := range 100 {
		if exists(c.Key(fmt.Sprint("pizza:", i))) {
			t.Fatalf("pizza:%d survived DeleteByTag", i)
		}
	}
	if !exists(c.Key("drink:1")) || !exists(c.Key("dessert:1")) {
		t.Fatal("entries with other tags were deleted")
	}
	if n, err := c.DeleteByTag(ctx, "desserts"); err != nil || n != 1 {
		t.Fatalf("DeleteByTag(desserts) = %d, %v; want 1", n, err)
	}
	if n, err := c.DeleteByTag(ctx, "drinks"); err != nil || n != 1 {
		t.Fatalf("DeleteByTag(drinks) = %d, %v; want 1", n, err)
	}
	if n, err := c.DeleteByTag(ctx, "nothing"); err != nil || n != 0 {
		t.Fatalf("DeleteByTag(unknown) = %d, %v; want 0", n, err)
	}
	if exists(k.Key("menu#tag:pizzas")) {
		t.Fatal("the tag set outlived DeleteByTag")
	}
	// Tag sets expire with their entries.
	if err := c.SetWithTags(ctx, "short", "s", 200*time.Millisecond, "brief"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the tag set to expire", func() bool { return !exists(k.Key("menu#tag:brief")) })
	if !strings.HasPrefix(c.Key("x"), k.Key("menu")+":") {
		t.Fatalf("Key = %q", c.Key("x"))
	}
}

// TestNamesDoNotOverlap: caches named "c" and "c:sub" share no key, so
// one's DeleteByPattern("*") leaves the other's entries alone.
func TestNamesDoNotOverlap(t *testing.T) {
	_, k := single(t)
	ctx := t.Context()
	c := cache.New[string](k, "c", nil)
	defer c.Close()
	sub := cache.New[string](k, "c:sub", nil)
	defer sub.Close()
	if c.Key("sub:x") == sub.Key("x") {
		t.Fatalf("c.Key(sub:x) = sub.Key(x) = %q; want distinct keys", sub.Key("x"))
	}
	mustSet(t, c, "sub:x", "c's", time.Minute)
	mustSet(t, sub, "x", "sub's", time.Minute)
	if v, _, err := c.Get(ctx, "sub:x"); err != nil || v != "c's" {
		t.Fatalf("c.Get(sub:x) = %q, %v; want c's", v, err)
	}
	if n, err := c.DeleteByPattern(ctx, "*"); err != nil || n != 1 {
		t.Fatalf("c.DeleteByPattern(*) = %d, %v; want 1", n, err)
	}
	if v, ok, err := sub.Get(ctx, "x"); err != nil || !ok || v != "sub's" {
		t.Fatalf("sub.Get(x) after c.DeleteByPattern(*) = %q, %v, %v; want sub's", v, ok, err)
	}
}
