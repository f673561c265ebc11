package redkit

import (
	"strconv"
	"testing"

	"github.com/redkit-go/redkit/redistest"
)

// tagInputs are names that once produced an empty or early-ended tag.
var tagInputs = []string{"", "{", "}", "{}", "}{", "{{", "}}", "a{b}c", "%", "%7B", "%7D", "%25", "{a}", "a}", "plain", "user:42"}

func TestHashTagIsAlwaysARealTag(t *testing.T) {
	k := &Kit{cfg: Config{KeyPrefix: "app:"}}
	seen := map[string]string{}
	for _, s := range tagInputs {
		tag := HashTag(s)
		inner, ok := hashTag(tag)
		if !ok || inner == "" || "{"+inner+"}" != tag {
			t.Errorf("HashTag(%q) = %q: not one non-empty hash tag", s, tag)
		}
		if prev, dup := seen[tag]; dup {
			t.Errorf("HashTag(%q) = HashTag(%q) = %q: distinct names share a tag", s, prev, tag)
		}
		seen[tag] = s
		x, y := k.Key("x", tag), k.Key("y", tag, "z")
		if !HasHashTag(x) || Slot(x) != Slot(y) {
			t.Errorf("HashTag(%q): %q (slot %d) and %q (slot %d) must share a slot", s, x, Slot(x), y, Slot(y))
		}
		if Slot(x) != crc16(inner)&16383 {
			t.Errorf("Slot(%q) = %d, want the slot of its tag %q", x, Slot(x), inner)
		}
	}
	if got := HashTag("user42"); got != "{user42}" {
		t.Errorf("HashTag(%q) = %q: a plain name must be kept as it is", "user42", got)
	}
}

func TestHasHashTagFollowsRedis(t *testing.T) {
	for key, want := range map[string]bool{
		"x:{u1}:y": true, "{a}": true, "{}": false, "x:{}:y": false, "{}{a}": false,
		"}{a}": true, "{": false, "}": false, "a{b": false, "plain": false, "{{a}}": true, "": false,
	} {
		if got := HasHashTag(key); got != want {
			t.Errorf("HasHashTag(%q) = %v, want %v", key, got, want)
		}
	}
}

// TestSlotMatchesClusterKeyslot checks Slot against CLUSTER KEYSLOT of a
// real cluster for the tricky keys, the keys HashTag builds from them, and
// their variants without a tag.
func TestSlotMatchesClusterKeyslot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	node := redistest.StartCluster(t, 3, 0).Nodes()[0]
	keys := []string{"", "foo", "{user1000}.following", "{}", "x:{}:y", "{}{a}", "}{a}", "{{a}}", "a{b", "{", "}", "}{"}
	for _, s := range tagInputs {
		keys = append(keys, "app:x:"+HashTag(s), "app:y:"+HashTag(s)+":z", s)
	}
	for _, key := range keys {
		got, err := node.Do("CLUSTER", "KEYSLOT", key)
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %q: %v", key, err)
		}
		want, err := strconv.Atoi(got)
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT %q = %q: %v", key, got, err)
		}
		if s := Slot(key); int(s) != want {
			t.Errorf("Slot(%q) = %d, CLUSTER KEYSLOT = %d", key, s, want)
		}
	}
}
