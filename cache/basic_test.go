package cache_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/redkit-go/redkit/cache"
	"github.com/redkit-go/redkit/codec"
)

func TestSetGetRoundTrip(t *testing.T) {
	srv, k := single(t)
	ctx := t.Context()
	c := cache.New[user](k, "users", nil)
	defer c.Close()

	if _, ok, err := c.Get(ctx, "1"); err != nil || ok {
		t.Fatalf("Get on empty cache = ok %v, err %v; want false, nil", ok, err)
	}
	mustSet(t, c, "1", user{1, "Ada"}, 0)
	got, ok, err := c.Get(ctx, "1")
	if err != nil || !ok || got != (user{1, "Ada"}) {
		t.Fatalf("Get = %+v, %v, %v; want {1 Ada}, true, nil", got, ok, err)
	}
	raw, err := srv.Do("GET", k.Key("users", "1"))
	if err != nil || raw != `{"id":1,"name":"Ada"}` {
		t.Fatalf("stored bytes = %q, %v; want the JSON", raw, err)
	}
	// TTL 0 means the Kit's DefaultExpiry (30m).
	d, ok, err := c.TTL(ctx, "1")
	if err != nil || !ok || d <= 29*time.Minute || d > 30*time.Minute {
		t.Fatalf("TTL = %v, %v, %v; want about 30m", d, ok, err)
	}
	st := c.Stats()
	if st.RemoteHits != 1 || st.Misses != 1 {
		t.Fatalf("Stats = %+v; want 1 remote hit, 1 miss", st)
	}
}

func TestRawStringAndBytes(t *testing.T) {
	srv, k := single(t)
	ctx := t.Context()
	s := cache.New[string](k, "s", nil)
	b := cache.New[[]byte](k, "b", &cache.Options{NearCache: &cache.NearCacheOptions{}})
	defer s.Close()
	defer b.Close()

	mustSet(t, s, "greeting", "hello \"world\"", time.Minute)
	if raw, _ := srv.Do("GET", s.Key("greeting")); raw != `hello "world"` {
		t.Fatalf("Cache[string] stored %q; want the raw string", raw)
	}
	if _, err := srv.Do("SET", s.Key("ext"), "from redis-cli"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.Get(ctx, "ext"); err != nil || !ok || v != "from redis-cli" {
		t.Fatalf("Get(ext) = %q, %v, %v; want the raw value", v, ok, err)
	}

	mustSet(t, b, "blob", []byte{0, 1, 2, 0xff}, time.Minute)
	if raw, _ := srv.Do("GET", b.Key("blob")); raw != "\x00\x01\x02\xff" {
		t.Fatalf("Cache[[]byte] stored %q; want the raw bytes", raw)
	}
	for range 3 { // remote read, then near hits
		v, ok, err := b.Get(ctx, "blob")
		if err != nil || !ok || string(v) != "\x00\x01\x02\xff" {
			t.Fatalf("Get(blob) = %v, %v, %v", v, ok, err)
		}
		v[0] = 'X' // the caller owns its copy
	}
	if st := b.Stats(); st.NearHits < 1 {
		t.Fatalf("Stats = %+v; want near hits", st)
	}
}

func TestPerCacheTTLAndExpire(t *testing.T) {
	srv, k := single(t)
	ctx := t.Context()
	c := cache.New[int](k, "n", &cache.Options{TTL: time.Hour})
	defer c.Close()
	mustSet(t, c, "a", 1, 0)
	if d, ok, err := c.TTL(ctx, "a"); err != nil || !ok || d <= 59*time.Minute || d > time.Hour {
		t.Fatalf("TTL = %v, %v, %v; want about 1h (Options.TTL)", d, ok, err)
	}
	if ok, err := c.Expire(ctx, "a", 10*time.Second); err != nil || !ok {
		t.Fatalf("Expire = %v, %v; want true", ok, err)
	}
	if d, _, _ := c.TTL(ctx, "a"); d <= 8*time.Second || d > 10*time.Second {
		t.Fatalf("TTL after Expire = %v; want about 10s", d)
	}
	if ok, err := c.Expire(ctx, "missing", time.Second); err != nil || ok {
		t.Fatalf("Expire(missing) = %v, %v; want false, nil", ok, err)
	}
	if d, ok, err := c.TTL(ctx, "missing"); err != nil || ok || d != 0 {
		t.Fatalf("TTL(missing) = %v, %v, %v; want 0, false, nil", d, ok, err)
	}
	// A key without expiry (made so by another client) exists: 0, true.
	if n, err := srv.Do("PERSIST", c.Key("a")); err != nil || n != "1" {
		t.Fatalf("PERSIST = %q, %v", n, err)
	}
	if d, ok, err := c.TTL(ctx, "a"); err != nil || !ok || d != 0 {
		t.Fatalf("TTL(persistent) = %v, %v, %v; want 0, true, nil", d, ok, err)
	}
	mustSet(t, c, "short", 1, 200*time.Millisecond)
	eventually(t, "short entry to expire", func() bool {
		_, ok, err := c.Get(ctx, "short")
		return err == nil && !ok
	})
}

func TestManyExistsDelete(t *testing.T) {
	_, k := single(t)
	ctx := t.Context()
	for _, near := range []bool{false, true} {
		opts := &cache.Options{}
		name := "plain"
		if near {
			opts.NearCache = &cache.NearCacheOptions{}
			name = "near"
		}
		t.Run(name, func(t *testing.T) {
			c := cache.New[user](k, name, opts)
			defer c.Close()
			testManyExistsDelete(t, c)
		})
	}
	_ = ctx
}

func testManyExistsDelete(t *testing.T, c *cache.Cache[user]) {
	ctx := t.Context()
	items := map[string]user{}
	for i := range 700 { // more than one MGET batch
		items[fmt.Sprint("u", i)] = user{i, fmt.Sprint("n", i)}
	}
	if err := c.SetMany(ctx, items, time.Minute); err != nil {
		t.Fatal(err)
	}
	keys := []string{"u1", "u2", "nope", "u699", "u1"}
	for range 2 { // the second round is answered by the near cache, if any
		got, err := c.GetMany(ctx, keys...)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]user{"u1": items["u1"], "u2": items["u2"], "u699": items["u699"]}
		if !maps.Equal(got, want) {
			t.Fatalf("GetMany = %v; want %v", got, want)
		}
	}
	all := make([]string, 0, len(items))
	for k := range items {
		all = append(all, k)
	}
	got, err := c.GetMany(ctx, all...)
	if err != nil || len(got) != len(items) {
		t.Fatalf("GetMany(all) = %d values, %v; want %d", len(got), err, len(items))
	}

	if ok, err := c.Exists(ctx, "u5"); err != nil || !ok {
		t.Fatalf("Exists(u5) = %v, %v", ok, err)
	}
	if ok, err := c.Exists(ctx, "nope"); err != nil || ok {
		t.Fatalf("Exists(nope) = %v, %v", ok, err)
	}
	if ok, err := c.SetIfNotExists(ctx, "u5", user{Name: "other"}, 0); err != nil || ok {
		t.Fatalf("SetIfNotExists(existing) = %v, %v; want false", ok, err)
	}
	if ok, err := c.SetIfNotExists(ctx, "fresh", user{Name: "fresh"}, 0); err != nil || !ok {
		t.Fatalf("SetIfNotExists(new) = %v, %v; want true", ok, err)
	}
	if v, _, _ := c.Get(ctx, "u5"); v != items["u5"] {
		t.Fatalf("u5 = %v after SetIfNotExists; want unchanged %v", v, items["u5"])
	}
	n, err := c.Delete(ctx, "u1", "u2", "nope", "fresh")
	if err != nil || n != 3 {
		t.Fatalf("Delete = %d, %v; want 3", n, err)
	}
	if _, ok, _ := c.Get(ctx, "u1"); ok {
		t.Fatal("u1 still there after Delete")
	}
	if n, err := c.Delete(ctx); err != nil || n != 0 {
		t.Fatalf("Delete() = %d, %v", n, err)
	}
}

func TestCodecAndCompressionOptions(t *testing.T) {
	srv, k := single(t)
	ctx := t.Context()
	z := codec.Zstd
	c := cache.New[user](k, "mp", &cache.Options{Codec: codec.MsgPack, Compression: &z})
	defer c.Close()
	big := user{1, strings.Repeat("long name ", 500)}
	mustSet(t, c, "big", big, 0)
	raw, _ := srv.Do("GET", c.Key("big"))
	if !strings.HasPrefix(raw, codec.Marker) || len(raw) > 1000 {
		t.Fatalf("stored %d bytes starting %q; want a compressed frame", len(raw), raw[:min(8, len(raw))])
	}
	if v, ok, err := c.Get(ctx, "big"); err != nil || !ok || v != big {
		t.Fatalf("Get(big) = %v, %v", ok, err)
	}
	// A reader with the same codec but no compression still reads it.
	plain := cache.New[user](k, "mp", &cache.Options{Codec: codec.MsgPack})
	defer plain.Close()
	if v, ok, err := plain.Get(ctx, "big"); err != nil || !ok || v != big {
		t.Fatalf("uncompressed reader Get(big) = %v, %v", ok, err)
	}
}
