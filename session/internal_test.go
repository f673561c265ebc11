package session

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newID()
		if !validID(id) {
			t.Fatalf("newID() = %q is not validID", id)
		}
		if seen[id] {
			t.Fatalf("newID() repeated %q", id)
		}
		seen[id] = true
	}
	if fp := fingerprint(newID()); len(fp) != 16 {
		t.Fatalf("fingerprint %q", fp)
	}
}

// FuzzValidID: any cookie value is judged without panicking, and only the
// canonical encoding of 256 bits passes.
func FuzzValidID(f *testing.F) {
	for _, s := range []string{newID(), "", "short", strings.Repeat("A", 43), strings.Repeat("A", 42) + "B",
		strings.Repeat("_", 43), strings.Repeat("A", 42) + "=", "{" + strings.Repeat("a", 41) + "}", strings.Repeat("é", 21) + "a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !validID(s) {
			return
		}
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != idBytes || base64.RawURLEncoding.EncodeToString(b) != s {
			t.Fatalf("validID(%q) but it is not a canonical 32-byte base64url string", s)
		}
		if strings.ContainsAny(s, "{}*?[]\\:") {
			t.Fatalf("validID(%q) with a character that matters in keys or patterns", s)
		}
	})
}

// FuzzParseHash: stored fields of any shape decode or fail cleanly, never
// panic, and a decoded session has a creation time.
func FuzzParseHash(f *testing.F) {
	f.Add("_c\x001700000000000\x00.cart\x00{\"n\":1}")
	f.Add("_c\x001700000000000\x00_u\x00alice\x00_future\x00x")
	f.Add("_c\x00-5")
	f.Add("_c\x00abc\x00.a\x00b")
	f.Add(".a\x00b")
	f.Add("bogus\x00x\x00_c\x001")
	f.Add("\x00\x00\x00")
	f.Add("odd")
	f.Fuzz(func(t *testing.T, in string) {
		m, err := parsePairs(strings.Split(in, "\x00"))
		if err != nil {
			return
		}
		st, err := parseHash(m)
		if err != nil {
			return
		}
		if st.created.UnixMilli() <= 0 {
			t.Fatalf("parsed %q with creation time %v", in, st.created)
		}
		for k, v := range st.values {
			if m[valuePrefix+k] != v {
				t.Fatalf("value %q = %q not from field %q", k, v, valuePrefix+k)
			}
		}
	})
}
