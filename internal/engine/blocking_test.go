package engine

import (
	"testing"
	"time"
)

func TestBlockingWait(t *testing.T) {
	for _, c := range []struct {
		args []string
		want time.Duration
		ok   bool
	}{
		{[]string{"BLPOP", "a", "b", "1.5"}, 1500 * time.Millisecond, true},
		{[]string{"BLPOP", "a", "0"}, 0, false},
		{[]string{"BLMOVE", "a", "b", "LEFT", "RIGHT", "2"}, 2 * time.Second, true},
		{[]string{"BLMPOP", "3", "1", "a", "LEFT"}, 3 * time.Second, true},
		{[]string{"XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "BLOCK", "250", "STREAMS", "s", ">"}, 250 * time.Millisecond, true},
		{[]string{"XREAD", "STREAMS", "BLOCK", "0"}, 0, false},
		{[]string{"WAIT", "1", "100"}, 100 * time.Millisecond, true},
		{[]string{"UNKNOWN", "1"}, 0, false},
	} {
		got, ok := blockingWait(c.args)
		if got != c.want || ok != c.ok {
			t.Errorf("blockingWait(%q) = %v, %v; want %v, %v", c.args, got, ok, c.want, c.ok)
		}
	}
}
