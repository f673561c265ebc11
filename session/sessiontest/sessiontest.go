// Package sessiontest is a conformance suite for scs session stores
// (github.com/alexedwards/scs/v2), in the spirit of testing/slogtest: any
// scs.Store can run it, and it checks what scs relies on, as the
// interfaces' documentation states it. Stores that also implement
// scs.CtxStore, scs.IterableStore or scs.IterableCtxStore are checked for
// those too.
//
//	func TestStore(t *testing.T) {
//		sessiontest.Run(t, func(t *testing.T) scs.Store { return newStore(t) })
//	}
//
// newStore must return an empty store (or one whose other tokens do not
// collide with the random tokens the suite uses) for each subtest; it may
// register cleanups on t. The suite's timing checks are tolerant: expiry
// is polled for up to ten seconds, and a value committed for a minute must
// still be there.
package sessiontest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Run runs the suite as subtests of t, each on a store from newStore.
func Run(t *testing.T, newStore func(t *testing.T) scs.Store) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newStore(t))
		})
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, s scs.Store)
}

// token returns a random token like scs's own (32 bytes, base64url).
func token() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func mustCommit(t *testing.T, s scs.Store, tok string, b []byte, expiry time.Time) {
	t.Helper()
	if err := s.Commit(tok, b, expiry); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func wantFound(t *testing.T, s scs.Store, tok string, want []byte) {
	t.Helper()
	got, found, err := s.Find(tok)
	if err != nil || !found {
		t.Fatalf("Find = %q, %v, %v; want %q, true, nil", got, found, err, want)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Find = %q; want %q", got, want)
	}
}

func wantMissing(t *testing.T, s scs.Store, tok string) {
	t.Helper()
	got, found, err := s.Find(tok)
	if err != nil || found {
		t.Fatalf("Find = %q, %v, %v; want not found, nil error", got, found, err)
	}
}

// eventually polls cond for up to ten seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func later() time.Time { return time.Now().Add(time.Minute) }

var cases = []testCase{
	{"FindMissing", func(t *testing.T, s scs.Store) {
		wantMissing(t, s, token())
	}},
	{"CommitFind", func(t *testing.T, s scs.Store) {
		tok := token()
		mustCommit(t, s, tok, []byte("data"), later())
		wantFound(t, s, tok, []byte("data"))
	}},
	{"Overwrite", func(t *testing.T, s scs.Store) {
		tok := token()
		mustCommit(t, s, tok, []byte("one"), later())
		mustCommit(t, s, tok, []byte("two"), later())
		wantFound(t, s, tok, []byte("two"))
	}},
	{"OverwriteExpiry", func(t *testing.T, s scs.Store) {
		// Commit replaces the expiry too: a short one after a long one ends
		// the session.
		tok := token()
		mustCommit(t, s, tok, []byte("long"), later())
		mustCommit(t, s, tok, []byte("short"), time.Now().Add(100*time.Millisecond))
		eventually(t, "the shortened session to expire", func() bool {
			_, found, err := s.Find(tok)
			return err == nil && !found
		})
	}},
	{"Delete", func(t *testing.T, s scs.Store) {
		tok := token()
		mustCommit(t, s, tok, []byte("data"), later())
		if err := s.Delete(tok); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		wantMissing(t, s, tok)
	}},
	{"DeleteMissing", func(t *testing.T, s scs.Store) {
		if err := s.Delete(token()); err != nil {
			t.Fatalf("Delete of a missing token = %v; want nil", err)
		}
	}},
	{"Expiry", func(t *testing.T, s scs.Store) {
		tok, keep := token(), token()
		mustCommit(t, s, tok, []byte("soon"), time.Now().Add(150*time.Millisecond))
		mustCommit(t, s, keep, []byte("later"), later())
		eventually(t, "the session to expire", func() bool {
			_, found, err := s.Find(tok)
			return err == nil && !found
		})
		wantFound(t, s, keep, []byte("later"))
	}},
	{"PastExpiry", func(t *testing.T, s scs.Store) {
		tok := token()
		mustCommit(t, s, tok, []byte("old"), time.Now().Add(-time.Second))
		wantMissing(t, s, tok)
	}},
	{"BinaryData", func(t *testing.T, s scs.Store) {
		b := make([]byte, 0, 256*2)
		for i := range 256 {
			b = append(b, byte(i))
		}
		b = append(b, b...)
		tok := token()
		mustCommit(t, s, tok, b, later())
		wantFound(t, s, tok, b)
	}},
	{"EmptyData", func(t *testing.T, s scs.Store) {
		tok := token()
		mustCommit(t, s, tok, []byte{}, later())
		got, found, err := s.Find(tok)
		if err != nil || !found || len(got) != 0 {
			t.Fatalf("Find = %q, %v, %v; want empty, true, nil", got, found, err)
		}
	}},
	{"LargeData", func(t *testing.T, s scs.Store) {
		b := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
		tok := token()
		mustCommit(t, s, tok, b, later())
		wantFound(t, s, tok, b)
	}},
	{"OddTokens", func(t *testing.T, s scs.Store) {
		// Tampered or malformed tokens are not found, with a nil error,
		// and do not collide with each other.
		odd := []string{"", "{", "}", "{}", "{a}", "%", "%7B", "*", "?", "[a]", `\`, "a:b", "é", "\x00", " ", string(bytes.Repeat([]byte("x"), 4096))}
		for _, tok := range odd {
			wantMissing(t, s, tok)
		}
		for i, tok := range odd {
			mustCommit(t, s, tok, fmt.Appendf(nil, "v%d", i), later())
		}
		for i, tok := range odd {
			wantFound(t, s, tok, fmt.Appendf(nil, "v%d", i))
		}
		for _, tok := range odd {
			if err := s.Delete(tok); err != nil {
				t.Fatalf("Delete(%q): %v", tok, err)
			}
			wantMissing(t, s, tok)
		}
	}},
	{"Concurrent", func(t *testing.T, s scs.Store) {
		const n = 32
		toks := make([]string, n)
		for i := range toks {
			toks[i] = token()
		}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i, tok := range toks {
			wg.Go(func() {
				for j := range 5 {
					if err := s.Commit(tok, fmt.Appendf(nil, "%d-%d", i, j), later()); err != nil {
						errs <- err
						return
					}
					if _, _, err := s.Find(tok); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for i, tok := range toks {
			wantFound(t, s, tok, fmt.Appendf(nil, "%d-4", i))
		}
	}},
	{"CtxStore", func(t *testing.T, s scs.Store) {
		cs, ok := s.(scs.CtxStore)
		if !ok {
			t.Skip("not an scs.CtxStore")
		}
		ctx := context.Background()
		tok := token()
		if _, found, err := cs.FindCtx(ctx, tok); err != nil || found {
			t.Fatalf("FindCtx of a missing token = %v, %v", found, err)
		}
		if err := cs.CommitCtx(ctx, tok, []byte("ctx"), later()); err != nil {
			t.Fatalf("CommitCtx: %v", err)
		}
		if b, found, err := cs.FindCtx(ctx, tok); err != nil || !found || string(b) != "ctx" {
			t.Fatalf("FindCtx = %q, %v, %v", b, found, err)
		}
		wantFound(t, s, tok, []byte("ctx")) // the same data as Find's
		if err := cs.DeleteCtx(ctx, tok); err != nil {
			t.Fatalf("DeleteCtx: %v", err)
		}
		wantMissing(t, s, tok)
	}},
	{"Iterable", func(t *testing.T, s scs.Store) {
		var all func() (map[string][]byte, error)
		switch is := s.(type) {
		case scs.IterableStore:
			all = is.All
		case scs.IterableCtxStore:
			all = func() (map[string][]byte, error) { return is.AllCtx(context.Background()) }
		default:
			t.Skip("not an scs.IterableStore")
		}
		before, err := all()
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		if before == nil {
			t.Fatal("All = nil map; want an empty map when there are no sessions")
		}
		want := map[string][]byte{}
		for i := range 20 {
			tok := token()
			want[tok] = fmt.Appendf(nil, "v%d", i)
			mustCommit(t, s, tok, want[tok], later())
		}
		odd := "{odd}%7B*"
		want[odd] = []byte("odd")
		mustCommit(t, s, odd, want[odd], later())
		gone, short := token(), token()
		mustCommit(t, s, gone, []byte("deleted"), later())
		if err := s.Delete(gone); err != nil {
			t.Fatal(err)
		}
		mustCommit(t, s, short, []byte("expires"), time.Now().Add(100*time.Millisecond))
		eventually(t, "the short session to expire", func() bool {
			_, found, err := s.Find(short)
			return err == nil && !found
		})
		got, err := all()
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		for tok, b := range want {
			if !bytes.Equal(got[tok], b) {
				t.Errorf("All()[%q] = %q; want %q", tok, got[tok], b)
			}
		}
		for _, tok := range []string{gone, short} {
			if _, ok := got[tok]; ok {
				t.Errorf("All() has a deleted or expired session")
			}
		}
		if len(got) != len(before)+len(want) {
			t.Errorf("All() has %d sessions; want %d", len(got), len(before)+len(want))
		}
	}},
}
