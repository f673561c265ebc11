package collection_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/codec"
	"github.com/redkit-go/redkit/internal/leaktest"
	"github.com/redkit-go/redkit/redistest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// pizza is a struct element: comparable, so it fits sets and sorted sets.
type pizza struct {
	Name  string  `json:"name" msgpack:"name"`
	Size  int     `json:"size" msgpack:"size"`
	Price float64 `json:"price" msgpack:"price"`
}

var (
	margherita = pizza{"margherita", 30, 8.5}
	diavola    = pizza{"diavola", 30, 10}
	funghi     = pizza{"funghi", 26, 9.25}
	quattro    = pizza{"quattro formaggi", 33, 12}
)

// suite is the set of tests run on one node and on a cluster. Each gets a
// Kit and a key stem unique to the test; keys a test combines share a
// hash tag, so they work on a cluster too.
var suite = []struct {
	name string
	fn   func(t *testing.T, k *redkit.Kit, stem string)
}{
	{"SetRoundTrip", testSetRoundTrip},
	{"SetAlgebraRandom", testSetAlgebraRandom},
	{"ListRoundTrip", testListRoundTrip},
	{"HashRoundTrip", testHashRoundTrip},
	{"SortedSetRoundTrip", testSortedSetRoundTrip},
	{"SortedSetExtremeIndexes", testSortedSetExtremeIndexes},
	{"Leaderboard", testLeaderboard},
	{"ExpireTTLDelete", testExpireTTLDelete},
	{"WrongType", testWrongType},
	{"Corrupt", testCorrupt},
}

func open(t *testing.T, cfg redkit.Config) *redkit.Kit {
	t.Helper()
	k, err := redkit.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

func TestSingleNode(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := open(t, redkit.Config{URL: srv.URL(), KeyPrefix: "ct:"})
	for _, s := range suite {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			s.fn(t, k, "single:"+s.name)
		})
	}
}

// TestMsgPack runs the suite with the MessagePack codec, whose encoding is
// deterministic too (sorted map keys), so membership works for structs.
func TestMsgPack(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := open(t, redkit.Config{URL: srv.URL(), KeyPrefix: "mp:", Codec: codec.MsgPack})
	for _, s := range suite {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			s.fn(t, k, "msgpack:"+s.name)
		})
	}
}

func TestCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0)
	k := open(t, redkit.Config{Addrs: cl.Addrs()[:1], KeyPrefix: "cl:"})
	if k.Mode() != "cluster" {
		t.Fatalf("Mode = %q, want cluster", k.Mode())
	}
	for _, s := range suite {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			s.fn(t, k, "cluster:"+s.name)
		})
	}
	t.Run("CrossSlot", func(t *testing.T) { testCrossSlot(t, k) })
}

// tagged returns a key under a hash tag shared by every key of the test.
func tagged(stem string, parts ...string) string {
	return redkit.JoinKey("", append([]string{redkit.HashTag(stem)}, parts...)...)
}

func mustNil(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want errors.Is %v", what, err, target)
	}
}

func testCrossSlot(t *testing.T, k *redkit.Kit) {
	ctx := t.Context()
	// "a" and "b" hash to different slots (15495 and 3300).
	a := collectionSet(k, "a")
	b := collectionSet(k, "b")
	if redkit.Slot(a.Key()) == redkit.Slot(b.Key()) {
		t.Fatalf("test keys share a slot")
	}
	mustNil(t, "add", ignoreN(a.Add(ctx, "x", "y")))
	mustNil(t, "add", ignoreN(b.Add(ctx, "y", "z")))
	calls := map[string]func() error{
		"Inter": func() error { _, err := a.Inter(ctx, b); return err },
		"Union": func() error { _, err := a.Union(ctx, b); return err },
		"Diff":  func() error { _, err := a.Diff(ctx, b); return err },
		"InterStore": func() error {
			_, err := a.InterStore(ctx, collectionSet(k, "{a}dst"), b)
			return err
		},
		"UnionStore": func() error {
			_, err := a.UnionStore(ctx, collectionSet(k, "{a}dst"), b)
			return err
		},
		"DiffStore(dst elsewhere)": func() error {
			_, err := a.DiffStore(ctx, b, collectionSet(k, "{b}other"))
			return err
		},
	}
	for name, call := range calls {
		err := call()
		wantIs(t, name, err, redkit.ErrCrossSlot)
		if !strings.Contains(err.Error(), "HashTag") {
			t.Errorf("%s: error %q does not explain hash tags", name, err)
		}
		// Key is a caller's key (the set in another slot), not a Redis key.
		var re *redkit.Error
		if !errors.As(err, &re) || (re.Key != "a" && re.Key != "b" && re.Key != "{b}other") {
			t.Errorf("%s: Error.Key = %q, want one of the caller's keys", name, keyOf(err))
		}
	}
	// The same sets under one hash tag work.
	x := collectionSet(k, redkit.HashTag("user42")+":a")
	y := collectionSet(k, redkit.HashTag("user42")+":b")
	mustNil(t, "add", ignoreN(x.Add(ctx, "x", "y")))
	mustNil(t, "add", ignoreN(y.Add(ctx, "y", "z")))
	got, err := x.Inter(ctx, y)
	mustNil(t, "inter", err)
	if len(got) != 1 || got[0] != "y" {
		t.Fatalf("Inter = %v, want [y]", got)
	}
	n, err := x.UnionStore(ctx, collectionSet(k, redkit.HashTag("user42")+":u"), y)
	if err != nil || n != 3 {
		t.Fatalf("UnionStore = %d, %v; want 3", n, err)
	}
}

func ignoreN[N any](_ N, err error) error { return err }

func keyOf(err error) string {
	var re *redkit.Error
	if errors.As(err, &re) {
		return re.Key
	}
	return ""
}
