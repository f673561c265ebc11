package cache_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/cache"
	"github.com/redkit-go/redkit/redistest"
)

func TestBadInput(t *testing.T) {
	_, k := single(t)
	ctx := t.Context()
	c := cache.New[user](k, "bad", nil)
	defer c.Close()
	load := func(context.Context) (user, error) { return user{}, nil }
	calls := map[string]error{
		"Get":             func() error { _, _, err := c.Get(ctx, ""); return err }(),
		"Set":             c.Set(ctx, "", user{}, 0),
		"GetOrSet":        func() error { _, err := c.GetOrSet(ctx, "", load, 0); return err }(),
		"GetMany":         func() error { _, err := c.GetMany(ctx, "a", ""); return err }(),
		"SetMany":         c.SetMany(ctx, map[string]user{"": {}}, 0),
		"SetIfNotExists":  func() error { _, err := c.SetIfNotExists(ctx, "", user{}, 0); return err }(),
		"Exists":          func() error { _, err := c.Exists(ctx, ""); return err }(),
		"Delete":          func() error { _, err := c.Delete(ctx, "a", ""); return err }(),
		"DeleteByPattern": func() error { _, err := c.DeleteByPattern(ctx, ""); return err }(),
		"TTL":             func() error { _, _, err := c.TTL(ctx, ""); return err }(),
		"Expire":          func() error { _, err := c.Expire(ctx, "", 0); return err }(),
		"DeleteByTag":     func() error { _, err := c.DeleteByTag(ctx, ""); return err }(),
		"SetWithTags":     c.SetWithTags(ctx, "k", user{}, 0, "ok", ""),
	}
	for name, err := range calls {
		if !errors.Is(err, redkit.ErrEmptyKey) {
			t.Errorf("%s with an empty key: err = %v; want ErrEmptyKey", name, err)
		}
	}
	negs := map[string]error{
		"Set":            c.Set(ctx, "k", user{}, -time.Second),
		"GetOrSet":       func() error { _, err := c.GetOrSet(ctx, "k", load, -1); return err }(),
		"SetMany":        c.SetMany(ctx, map[string]user{"k": {}}, -1),
		"SetIfNotExists": func() error { _, err := c.SetIfNotExists(ctx, "k", user{}, -1); return err }(),
		"Expire":         func() error { _, err := c.Expire(ctx, "k", -1); return err }(),
	}
	for name, err := range negs {
		if !errors.Is(err, redkit.ErrNegativeTTL) {
			t.Errorf("%s with a negative TTL: err = %v; want ErrNegativeTTL", name, err)
		}
	}
	if ok, _ := c.Exists(ctx, "k"); ok {
		t.Error("a call with a negative TTL stored something")
	}
	defer func() {
		if recover() == nil {
			t.Error("New with negative Options.TTL did not panic")
		}
	}()
	cache.New[int](k, "x", &cache.Options{TTL: -1})
}

func TestNearCacheNeedsClientCache(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := openKit(t, prefixFor(t), []string{srv.Addr()}, func(c *redkit.Config) { c.ClientCache.Disable = true })
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "ClientCache") {
			t.Errorf("New with NearCache on a Kit without client cache: recover() = %v; want a panic naming ClientCache", r)
		}
	}()
	cache.New[int](k, "x", &cache.Options{NearCache: &cache.NearCacheOptions{}})
}

func TestWrongTypeAndDecode(t *testing.T) {
	srv, k := single(t)
	ctx := t.Context()
	for _, near := range []bool{false, true} {
		var opts cache.Options
		if near {
			opts.NearCache = &cache.NearCacheOptions{}
		}
		name := map[bool]string{false: "plain", true: "near"}[near]
		c := cache.New[user](k, name, &opts)
		defer c.Close()
		if _, err := srv.Do("HSET", c.Key("hash"), "f", "v"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Get(ctx, "hash"); !errors.Is(err, redkit.ErrWrongType) {
			t.Errorf("%s: Get on a hash: err = %v; want ErrWrongType", name, err)
		}

		if _, err := srv.Do("SET", c.Key("junk"), "{not json"); err != nil {
			t.Fatal(err)
		}
		_, _, err := c.Get(ctx, "junk")
		if !errors.Is(err, redkit.ErrDecode) || !strings.Contains(err.Error(), "junk") {
			t.Errorf("%s: Get of corrupt bytes: err = %v; want ErrDecode naming the key", name, err)
		}
		if c.Stats().DecodeErrors != 1 {
			t.Errorf("%s: DecodeErrors = %d; want 1", name, c.Stats().DecodeErrors)
		}
		// GetOrSet treats it as a miss and overwrites it.
		v, err := c.GetOrSet(ctx, "junk", func(context.Context) (user, error) { return user{7, "fixed"}, nil }, 0)
		if err != nil || v != (user{7, "fixed"}) {
			t.Fatalf("%s: GetOrSet over corrupt bytes = %v, %v; want the loaded value", name, v, err)
		}
		if v, ok, err := c.Get(ctx, "junk"); err != nil || !ok || v.Name != "fixed" {
			t.Fatalf("%s: Get after GetOrSet = %v, %v, %v; want the overwritten value", name, v, ok, err)
		}
	}
}

func TestValueTooLarge(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Args: []string{"proto-max-bulk-len 1mb"}})
	k := openKit(t, prefixFor(t), []string{srv.Addr()}, nil)
	ctx := t.Context()
	c := cache.New[string](k, "big", nil)
	defer c.Close()
	huge := strings.Repeat("x", 2<<20)
	err := c.Set(ctx, "huge", huge, 0)
	if !errors.Is(err, cache.ErrValueTooLarge) || !strings.Contains(err.Error(), "huge") {
		t.Fatalf("Set of 2 MiB with proto-max-bulk-len 1mb: err = %v; want ErrValueTooLarge naming the key", err)
	}
	_, err = c.GetOrSet(ctx, "huge2", func(context.Context) (string, error) { return huge, nil }, 0)
	if !errors.Is(err, cache.ErrValueTooLarge) {
		t.Fatalf("GetOrSet loading 2 MiB: err = %v; want ErrValueTooLarge", err)
	}
	// Nothing else broke: the connection still serves, values near the
	// limit still go through.
	mustSet(t, c, "ok", strings.Repeat("y", 1<<20-100), 0)
	if v, ok, err := c.Get(ctx, "ok"); err != nil || !ok || len(v) != 1<<20-100 {
		t.Fatalf("Get after the refused Set = %d bytes, %v, %v", len(v), ok, err)
	}
	if s := k.Stats(); s.Errors != 0 {
		t.Fatalf("Kit errors = %d; want 0 (nothing sent that the server would drop)", s.Errors)
	}
}

func TestCancelledContext(t *testing.T) {
	_, k := single(t)
	c := cache.New[user](k, "cancel", &cache.Options{NearCache: &cache.NearCacheOptions{}})
	defer c.Close()
	mustSet(t, c, "k", user{1, "a"}, 0)
	if _, _, err := c.Get(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := c.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled ctx (near hit available): err = %v; want context.Canceled", err)
	}
	if err := c.Set(ctx, "k", user{}, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Set with a cancelled ctx: err = %v", err)
	}
	if _, err := c.GetMany(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("GetMany with a cancelled ctx: err = %v", err)
	}
	if _, err := c.DeleteByPattern(ctx, "*"); !errors.Is(err, context.Canceled) {
		t.Errorf("DeleteByPattern with a cancelled ctx: err = %v", err)
	}

	// A caller that stops waiting gets its ctx's error at once; the load
	// goes on and stores the value for the next caller.
	release := make(chan struct{})
	slow := func(context.Context) (user, error) {
		<-release
		return user{2, "slow"}, nil
	}
	tctx, tcancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer tcancel()
	start := time.Now()
	_, err := c.GetOrSet(tctx, "slow", slow, 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetOrSet past its deadline: err = %v; want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("GetOrSet returned %v after its deadline", d)
	}
	close(release)
	eventually(t, "the abandoned load to store its value", func() bool {
		v, ok, _ := c.Get(t.Context(), "slow")
		return ok && v.Name == "slow"
	})
}

func TestLoaderPanicAndClose(t *testing.T) {
	_, k := single(t)
	ctx := t.Context()
	c := cache.New[int](k, "p", nil)
	_, err := c.GetOrSet(ctx, "k", func(context.Context) (int, error) { panic("boom") }, 0)
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("GetOrSet with a panicking loader: err = %v; want the panic as an error", err)
	}
	c.Close()
	c.Close()
	if _, _, err := c.Get(ctx, "k"); !errors.Is(err, redkit.ErrClosed) {
		t.Fatalf("Get after Close: err = %v; want ErrClosed", err)
	}
}

// TestErrorKeyIsCallersKey: errors report the caller's key (or tag, or
// pattern) as Error.Key, never the Redis key with the Kit's prefix and
// the cache's name.
func TestErrorKeyIsCallersKey(t *testing.T) {
	srv, k := single(t)
	ctx := t.Context()
	c := cache.New[user](k, "users", nil)
	defer c.Close()
	counter := cache.NewCounter(k, "hits")
	for _, key := range []string{c.Key("h"), counter.Key("h"), k.Key("users#tag:t")} {
		if _, err := srv.Do("HSET", key, "f", "v"); err != nil {
			t.Fatal(err)
		}
	}
	load := func(context.Context) (user, error) { return user{1, "x"}, nil }
	// check wants err to match kind (any error when kind is nil) and to
	// name key.
	check := func(op, key string, err error, kind error) {
		t.Helper()
		if err == nil || kind != nil && !errors.Is(err, kind) {
			t.Errorf("%s: err = %v; want %v", op, err, kind)
			return
		}
		var re *redkit.Error
		if !errors.As(err, &re) {
			t.Errorf("%s: err = %v (%T); want a *redkit.Error", op, err, err)
			return
		}
		if re.Key != key {
			t.Errorf("%s: Error.Key = %q; want the caller's %q", op, re.Key, key)
		}
	}
	for _, tc := range []struct {
		op, key string
		call    func() error
	}{
		{"Get", "h", func() error { _, _, err := c.Get(ctx, "h"); return err }},
		{"GetOrSet", "h", func() error { _, err := c.GetOrSet(ctx, "h", load, 0); return err }},
		{"Counter.Incr", "h", func() error { _, err := counter.Incr(ctx, "h", 1); return err }},
		{"Counter.Get", "h", func() error { _, err := counter.Get(ctx, "h"); return err }},
		{"Tag", "t", func() error { return c.Tag(ctx, "t", 0, "h") }},
		{"DeleteByTag", "t", func() error { _, err := c.DeleteByTag(ctx, "t"); return err }},
	} {
		check(tc.op, tc.key, tc.call(), redkit.ErrWrongType)
	}

	// A user that may not UNLINK: the deletes fail in the UNLINK step.
	if _, err := srv.Do("ACL", "SETUSER", "nounlink", "on", ">pw", "~*", "&*", "+@all", "-unlink"); err != nil {
		t.Fatal(err)
	}
	k2 := openKit(t, k.Config().KeyPrefix, []string{srv.Addr()}, func(cfg *redkit.Config) {
		cfg.Username, cfg.Password = "nounlink", "pw"
	})
	c2 := cache.New[user](k2, "users", nil)
	defer c2.Close()
	mustSet(t, c2, "a", user{2, "a"}, 0)
	if err := c2.SetWithTags(ctx, "b", user{3, "b"}, 0, "t2"); err != nil {
		t.Fatal(err)
	}
	_, err := c2.Delete(ctx, "a")
	check("Delete", "a", err, nil)
	_, err = c2.DeleteByPattern(ctx, "a*")
	check("DeleteByPattern", "a*", err, nil)
	_, err = c2.DeleteByTag(ctx, "t2")
	check("DeleteByTag (UNLINK)", "t2", err, nil)
	if n, _ := srv.Do("EXISTS", c.Key("a"), c.Key("b")); n != "2" {
		t.Fatalf("EXISTS after refused deletes = %q; want 2", n)
	}
}

// TestLoaderGoexit: a loader that calls runtime.Goexit (as t.FailNow in a
// loader does) ends its own goroutine only: every caller waiting for that
// load returns an error, and neither the shared load nor the stampede
// lock is left behind.
func TestLoaderGoexit(t *testing.T) {
	srv, k := single(t)
	for _, st := range []cache.Stampede{cache.StampedeLocal, cache.StampedeDistributed} {
		t.Run(st.String(), func(t *testing.T) {
			c := cache.New[int](k, "goexit-"+st.String(), &cache.Options{Stampede: st})
			defer c.Close()
			entered, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			load := func(context.Context) (int, error) {
				once.Do(func() { close(entered) })
				<-release
				runtime.Goexit()
				return 0, nil
			}
			const n = 8
			errs := make(chan error, n)
			call := func() {
				_, err := c.GetOrSet(t.Context(), "k", load, 0)
				errs <- err
			}
			go call()
			<-entered
			for range n - 1 {
				go call()
			}
			time.Sleep(50 * time.Millisecond) // let them join the load
			close(release)
			timeout := time.After(10 * time.Second)
			for i := range n {
				select {
				case err := <-errs:
					if err == nil || !strings.Contains(err.Error(), "Goexit") {
						t.Errorf("GetOrSet with a loader calling runtime.Goexit: err = %v; want an error saying so", err)
					}
				case <-timeout:
					t.Fatalf("%d of %d GetOrSet calls still blocked 10s after the loader called runtime.Goexit", n-i, n)
				}
			}
			if n, err := srv.Do("EXISTS", k.Key(c.Name())+"#lock:k"); err != nil || n != "0" {
				t.Fatalf("EXISTS stampede lock after the Goexit = %q, %v; want 0", n, err)
			}
			v, err := c.GetOrSet(t.Context(), "k", func(context.Context) (int, error) { return 7, nil }, 0)
			if err != nil || v != 7 {
				t.Fatalf("GetOrSet after the Goexit = %v, %v; want a new load's 7", v, err)
			}
		})
	}
}

// TestGetManyWrongType: GetMany of a key that holds another Redis type
// says ErrWrongType, with or without a near cache (MGET alone answers nil
// for it, as for a missing key), and still reports missing keys as absent.
func TestGetManyWrongType(t *testing.T) {
	srv, k := single(t)
	ctx := t.Context()
	for _, near := range []bool{false, true} {
		var opts cache.Options
		if near {
			opts.NearCache = &cache.NearCacheOptions{}
		}
		name := map[bool]string{false: "plain", true: "near"}[near]
		c := cache.New[user](k, name, &opts)
		defer c.Close()
		// Written by another client: with a near cache, GetMany then reads
		// through the tracking cache (its own writes it reads plainly).
		if _, err := srv.Do("SET", c.Key("a"), `{"id":1,"name":"a"}`); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Do("HSET", c.Key("hash"), "f", "v"); err != nil {
			t.Fatal(err)
		}
		got, err := c.GetMany(ctx, "a", "missing")
		if err != nil || len(got) != 1 || got["a"].Name != "a" {
			t.Fatalf("%s: GetMany(a, missing) = %v, %v; want only a", name, got, err)
		}
		got, err = c.GetMany(ctx, "a", "hash", "missing")
		if !errors.Is(err, redkit.ErrWrongType) || !strings.Contains(err.Error(), "hash") {
			t.Errorf("%s: GetMany with a hash key = %v, %v; want ErrWrongType naming the key", name, got, err)
		}
		// And when this process just wrote a key (plain reads, near or not).
		mustSet(t, c, "b", user{2, "b"}, time.Minute)
		got, err = c.GetMany(ctx, "b", "hash")
		if !errors.Is(err, redkit.ErrWrongType) {
			t.Errorf("%s: GetMany(b, hash) after Set(b) = %v, %v; want ErrWrongType", name, got, err)
		}
	}
}
