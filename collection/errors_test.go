package collection_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/codec"
	"github.com/redkit-go/redkit/collection"
	"github.com/redkit-go/redkit/redistest"
)

// keyed is what every structure has.
type keyed interface {
	Key() string
	Expire(ctx context.Context, ttl time.Duration) (bool, error)
	TTL(ctx context.Context) (time.Duration, bool, error)
	Persist(ctx context.Context) (bool, error)
}

func testExpireTTLDelete(t *testing.T, k *redkit.Kit, stem string) {
	ctx := t.Context()
	set := collection.NewSet[int](k, stem+":set")
	list := collection.NewList[int](k, stem+":list")
	hash := collection.NewHash[int](k, stem+":hash")
	zset := collection.NewSortedSet[int](k, stem+":zset")
	fill := []func() error{
		func() error { _, err := set.Add(ctx, 1); return err },
		func() error { _, err := list.PushBack(ctx, 1); return err },
		func() error { return hash.Set(ctx, "f", 1) },
		func() error { _, err := zset.Add(ctx, 1, 1); return err },
	}
	del := []func(context.Context) (bool, error){set.Delete, list.Delete, hash.DeleteKey, zset.Delete}
	for i, s := range []keyed{set, list, hash, zset} {
		name := s.Key()
		if ok, err := s.Expire(ctx, time.Minute); err != nil || ok {
			t.Fatalf("%s: Expire on a missing key = %v, %v; want false", name, ok, err)
		}
		if ttl, ok, err := s.TTL(ctx); err != nil || ok || ttl != 0 {
			t.Fatalf("%s: TTL on a missing key = %v, %v, %v; want 0, false", name, ttl, ok, err)
		}
		mustNil(t, "fill", fill[i]())
		if ttl, ok, err := s.TTL(ctx); err != nil || !ok || ttl != 0 {
			t.Fatalf("%s: TTL without expiry = %v, %v, %v; want 0, true (the key exists)", name, ttl, ok, err)
		}
		if ok, err := s.Expire(ctx, time.Minute); err != nil || !ok {
			t.Fatalf("%s: Expire = %v, %v; want true", name, ok, err)
		}
		if ttl, ok, err := s.TTL(ctx); err != nil || !ok || ttl <= 50*time.Second || ttl > time.Minute {
			t.Fatalf("%s: TTL = %v, %v, %v; want about 1m", name, ttl, ok, err)
		}
		// 0 means the Kit's DefaultExpiry (30m by default).
		if ok, err := s.Expire(ctx, 0); err != nil || !ok {
			t.Fatalf("%s: Expire(0) = %v, %v", name, ok, err)
		}
		if ttl, ok, err := s.TTL(ctx); err != nil || !ok || ttl <= 29*time.Minute || ttl > k.Config().DefaultExpiry {
			t.Fatalf("%s: TTL after Expire(0) = %v, %v, %v; want about %v", name, ttl, ok, err, k.Config().DefaultExpiry)
		}
		_, err := s.Expire(ctx, -time.Second)
		wantIs(t, name+": Expire(-1s)", err, redkit.ErrNegativeTTL)
		if ok, err := s.Persist(ctx); err != nil || !ok {
			t.Fatalf("%s: Persist = %v, %v; want true", name, ok, err)
		}
		if ttl, ok, err := s.TTL(ctx); err != nil || !ok || ttl != 0 {
			t.Fatalf("%s: TTL after Persist = %v, %v, %v; want 0, true", name, ttl, ok, err)
		}
		if ok, err := del[i](ctx); err != nil || !ok {
			t.Fatalf("%s: Delete = %v, %v; want true", name, ok, err)
		}
		if ok, err := del[i](ctx); err != nil || ok {
			t.Fatalf("%s: second Delete = %v, %v; want false", name, ok, err)
		}
	}
	// A short TTL really expires the key.
	mustNil(t, "fill", fill[0]())
	if ok, err := set.Expire(ctx, 50*time.Millisecond); err != nil || !ok {
		t.Fatalf("Expire(50ms) = %v, %v", ok, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := set.Len(ctx)
		mustNil(t, "Len", err)
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("set did not expire")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testWrongType(t *testing.T, k *redkit.Kit, stem string) {
	ctx := t.Context()
	key := stem + ":string"
	if _, err := k.Do(ctx, k.B().Set().Key(k.Key(key)).Value("v").Build()); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"Set.Add":      func() error { _, err := collection.NewSet[int](k, key).Add(ctx, 1); return err },
		"Set.Members":  func() error { _, err := collection.NewSet[int](k, key).Members(ctx); return err },
		"List.Range":   func() error { _, err := collection.NewList[int](k, key).Range(ctx, 0, -1); return err },
		"List.PopBack": func() error { _, _, err := collection.NewList[int](k, key).PopBack(ctx); return err },
		"Hash.Get":     func() error { _, _, err := collection.NewHash[int](k, key).Get(ctx, "f"); return err },
		"Hash.GetAll":  func() error { _, err := collection.NewHash[int](k, key).GetAll(ctx); return err },
		"ZSet.Range": func() error {
			_, err := collection.NewSortedSet[int](k, key).Range(ctx, 0, -1, true)
			return err
		},
		"ZSet.RangeNeg": func() error {
			_, err := collection.NewSortedSet[int](k, key).Range(ctx, -3, -1, true)
			return err
		},
		"ZSet.Around": func() error {
			_, err := collection.NewSortedSet[int](k, key).Around(ctx, 1, 2, true)
			return err
		},
		"ZSet.IncrBy": func() error { _, err := collection.NewSortedSet[int](k, key).IncrBy(ctx, 1, 2); return err },
	}
	for name, call := range calls {
		err := call()
		wantIs(t, name, err, redkit.ErrWrongType)
		wantKey(t, name, err, key)
	}
}

// wantKey checks that err is a *redkit.Error whose Key is key: the
// caller's key, without the Kit's prefix.
func wantKey(t *testing.T, what string, err error, key string) {
	t.Helper()
	var re *redkit.Error
	if !errors.As(err, &re) {
		t.Fatalf("%s: err = %v (%T), want a *redkit.Error", what, err, err)
	}
	if re.Key != key {
		t.Errorf("%s: Error.Key = %q, want the caller's key %q", what, re.Key, key)
	}
}

type (
	redkitBuilder   = rueidis.Builder
	redkitCompleted = rueidis.Completed
)

// corrupt is neither JSON nor MessagePack (0xc1 is never used).
const corrupt = "\xc1 not a value"

func wantDecode(t *testing.T, what string, err error, key string) {
	t.Helper()
	wantIs(t, what, err, redkit.ErrDecode)
	wantKey(t, what, err, key)
}

func testCorrupt(t *testing.T, k *redkit.Kit, stem string) {
	ctx := t.Context()
	raw := func(cmd func(b redkitBuilder) redkitCompleted) {
		t.Helper()
		if _, err := k.Do(ctx, cmd(k.B())); err != nil {
			t.Fatal(err)
		}
	}

	set := collection.NewSet[pizza](k, stem+":set")
	_, err := set.Add(ctx, margherita, diavola)
	mustNil(t, "Add", err)
	raw(func(b redkitBuilder) redkitCompleted { return b.Sadd().Key(set.Key()).Member(corrupt).Build() })
	members, err := set.Members(ctx)
	wantDecode(t, "Set.Members", err, stem+":set")
	if len(members) != 2 {
		t.Fatalf("Set.Members returned %v with the error, want the 2 good members", members)
	}

	list := collection.NewList[pizza](k, stem+":list")
	raw(func(b redkitBuilder) redkitCompleted { return b.Rpush().Key(list.Key()).Element(corrupt).Build() })
	_, err = list.PushBack(ctx, funghi)
	mustNil(t, "PushBack", err)
	got, err := list.Range(ctx, 0, -1)
	wantDecode(t, "List.Range", err, stem+":list")
	if len(got) != 1 || got[0] != funghi {
		t.Fatalf("List.Range = %v with the error, want [funghi]", got)
	}
	_, ok, err := list.PopFront(ctx)
	wantDecode(t, "List.PopFront", err, stem+":list")
	if ok {
		t.Fatal("PopFront of a corrupt element reported ok")
	}
	if v, ok, err := list.PopFront(ctx); err != nil || !ok || v != funghi {
		t.Fatalf("PopFront after the corrupt one = %v, %v, %v; want funghi", v, ok, err)
	}

	hash := collection.NewHash[pizza](k, stem+":hash")
	mustNil(t, "Set", hash.Set(ctx, "good", quattro))
	raw(func(b redkitBuilder) redkitCompleted {
		return b.Hset().Key(hash.Key()).FieldValue().FieldValue("bad", corrupt).Build()
	})
	_, _, err = hash.Get(ctx, "bad")
	wantDecode(t, "Hash.Get", err, stem+":hash")
	all, err := hash.GetAll(ctx)
	wantDecode(t, "Hash.GetAll", err, stem+":hash")
	if len(all) != 1 || all["good"] != quattro {
		t.Fatalf("Hash.GetAll = %v with the error, want the good field", all)
	}
	many, err := hash.GetMany(ctx, "bad", "good", "missing")
	wantDecode(t, "Hash.GetMany", err, stem+":hash")
	if len(many) != 1 || many["good"] != quattro {
		t.Fatalf("Hash.GetMany = %v with the error, want the good field", many)
	}

	zset := collection.NewSortedSet[pizza](k, stem+":zset")
	_, err = zset.AddMany(ctx, map[pizza]float64{margherita: 1, diavola: 3})
	mustNil(t, "AddMany", err)
	raw(func(b redkitBuilder) redkitCompleted {
		return b.Zadd().Key(zset.Key()).ScoreMember().ScoreMember(2, corrupt).Build()
	})
	ms, err := zset.Range(ctx, 0, -1, false)
	wantDecode(t, "ZSet.Range", err, stem+":zset")
	want := []collection.Member[pizza]{{margherita, 1, 0}, {diavola, 3, 2}}
	if len(ms) != 2 || ms[0] != want[0] || ms[1] != want[1] {
		t.Fatalf("ZSet.Range = %v with the error, want %v (ranks kept)", ms, want)
	}
	ms, err = zset.Around(ctx, diavola, 5, true)
	wantDecode(t, "ZSet.Around", err, stem+":zset")
	if len(ms) != 2 || ms[0].Value != diavola || ms[1].Rank != 2 {
		t.Fatalf("ZSet.Around = %v with the error", ms)
	}
}

func TestEmptyKey(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := open(t, redkit.Config{URL: srv.URL()})
	ctx := t.Context()
	good := collection.NewSet[int](k, "good")
	calls := map[string]func() error{
		"Set.Add":        func() error { _, err := collection.NewSet[int](k, "").Add(ctx, 1); return err },
		"Set.Inter":      func() error { _, err := good.Inter(ctx, collection.NewSet[int](k, "")); return err },
		"Set.InterNil":   func() error { _, err := good.Inter(ctx, nil); return err },
		"Set.UnionStore": func() error { _, err := good.UnionStore(ctx, nil, good); return err },
		"Set.Expire":     func() error { _, err := collection.NewSet[int](k, "").Expire(ctx, time.Second); return err },
		"List.PushBack":  func() error { _, err := collection.NewList[int](k, "").PushBack(ctx, 1); return err },
		"Hash.Set":       func() error { return collection.NewHash[int](k, "").Set(ctx, "f", 1) },
		"Hash.DeleteKey": func() error { _, err := collection.NewHash[int](k, "").DeleteKey(ctx); return err },
		"ZSet.Range": func() error {
			_, err := collection.NewSortedSet[int](k, "").Range(ctx, 0, 1, false)
			return err
		},
		"ZSet.Delete": func() error { _, err := collection.NewSortedSet[int](k, "").Delete(ctx); return err },
	}
	for name, call := range calls {
		wantIs(t, name, call(), redkit.ErrEmptyKey)
	}
	if st := k.Stats(); st.Ops != 0 {
		t.Errorf("empty keys sent %d commands, want 0", st.Ops)
	}
}

func TestCanceledContext(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := open(t, redkit.Config{URL: srv.URL()})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := collection.NewSet[int](k, "s").Add(ctx, 1)
	wantIs(t, "Add with a cancelled ctx", err, context.Canceled)
	_, err = collection.NewSortedSet[int](k, "z").Around(ctx, 1, 1, true)
	wantIs(t, "Around with a cancelled ctx", err, context.Canceled)
}

func TestNilKitPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("NewSet(nil, ...) did not panic")
		}
	}()
	collection.NewSet[int](nil, "x")
}

// TestCompression: with compression on, elements are stored framed and
// compressed, deterministically, so membership still works.
func TestCompression(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := open(t, redkit.Config{URL: srv.URL(), Compression: codec.Gzip, CompressMin: 1})
	ctx := t.Context()
	long := strings.Repeat("margherita ", 100)
	s := collection.NewSet[string](k, "s")
	if _, err := s.Add(ctx, long, "short"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Contains(ctx, long); err != nil || !ok {
		t.Fatalf("Contains(long) = %v, %v", ok, err)
	}
	got, err := s.Members(ctx)
	mustNil(t, "Members", err)
	if len(got) != 2 || (got[0] != long && got[1] != long) {
		t.Fatalf("Members = %d values, want the long one back", len(got))
	}
	raw, err := k.Do(ctx, k.B().Smembers().Key(s.Key()).Build())
	mustNil(t, "SMEMBERS", err)
	stored, _ := raw.AsStrSlice()
	framed := 0
	for _, m := range stored {
		if strings.HasPrefix(m, codec.Marker) {
			framed++
			if len(m) >= len(long) {
				t.Fatalf("stored %d bytes for a %d-byte value: not compressed", len(m), len(long))
			}
		}
	}
	if framed != 1 {
		t.Fatalf("%d framed members, want 1 (the long one)", framed)
	}
}
