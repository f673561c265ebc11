// Package testutil holds small checks that several redkit packages'
// tests share.
package testutil

import (
	"strings"
	"testing"
)

// WantValid checks an Options.Validate result: nil when want is nil,
// else an error whose text contains every string of want (each bad field
// named with its value).
func WantValid(t testing.TB, err error, want []string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("Validate() = %v; want nil", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("Validate() = nil; want an error naming %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %q; want it to contain %q", err, w)
		}
	}
}
