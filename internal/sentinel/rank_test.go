package sentinel

import (
	"slices"
	"testing"
)

func TestRank(t *testing.T) {
	const a, b, c = "10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"
	ans := func(addr string, epoch int64) answer { return answer{addr: addr, epoch: epoch} }
	tests := []struct {
		name    string
		answers []answer
		prefer  string
		want    []candidate
	}{
		{"agreement", []answer{ans(a, 3), ans(a, 3), ans(a, 3)}, a,
			[]candidate{{a, 3, 3, 0}}},
		{"the leader's newer epoch first, however few name it", []answer{ans(a, 3), ans(b, 4), ans(a, 3)}, a,
			[]candidate{{b, 4, 1, 1}, {a, 3, 2, 0}}},
		{"same epoch: the current address first", []answer{ans(b, 4), ans(b, 4), ans(a, 4)}, a,
			[]candidate{{a, 4, 1, 2}, {b, 4, 2, 0}}},
		{"same epoch: then more sentinels", []answer{ans(b, 4), ans(c, 4), ans(c, 4)}, a,
			[]candidate{{c, 4, 2, 1}, {b, 4, 1, 0}}},
		{"same epoch and votes: then Addrs order", []answer{ans(c, 4), ans(b, 4)}, a,
			[]candidate{{c, 4, 1, 0}, {b, 4, 1, 1}}},
		{"an address counts under its highest epoch", []answer{ans(a, 2), ans(b, 3), ans(a, 5)}, "",
			[]candidate{{a, 5, 1, 2}, {b, 3, 1, 1}}},
		{"none", nil, a, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rank(tt.answers, tt.prefer); !slices.Equal(got, tt.want) {
				t.Errorf("rank(%v, %q) = %v, want %v", tt.answers, tt.prefer, got, tt.want)
			}
		})
	}
}

// The messages are as Redis 7.0 Sentinel publishes them.
func TestEventMaster(t *testing.T) {
	tests := []struct{ channel, msg, want string }{
		{"+switch-master", "mymaster 127.0.0.1 46229 127.0.0.1 44841", "mymaster"},
		{"+promoted-slave", "slave 127.0.0.1:44841 127.0.0.1 44841 @ mymaster 127.0.0.1 46229", "mymaster"},
		{"+failover-state-reconf-slaves", "master mymaster 127.0.0.1 46229", "mymaster"},
		{"+config-update-from", "sentinel c7f775da48644c12bb91bf94e746f42b34ca19c7 127.0.0.1 44743 @ mymaster 127.0.0.1 46229", "mymaster"},
		{"+reset-master", "master other 127.0.0.1 6379", "other"},
		{"+switch-master", "", ""},
		{"+promoted-slave", "garbage", ""},
	}
	for _, tt := range tests {
		if got := eventMaster(tt.channel, tt.msg); got != tt.want {
			t.Errorf("eventMaster(%q, %q) = %q, want %q", tt.channel, tt.msg, got, tt.want)
		}
	}
}

func TestParsePromotion(t *testing.T) {
	p, m, o, ok := parsePromotion("slave 127.0.0.1:44841 127.0.0.1 44841 @ mymaster 127.0.0.1 46229")
	if !ok || p != "127.0.0.1:44841" || m != "mymaster" || o != "127.0.0.1:46229" {
		t.Errorf("parsePromotion = %q, %q, %q, %v; want 127.0.0.1:44841, mymaster, 127.0.0.1:46229, true", p, m, o, ok)
	}
	for _, msg := range []string{"", "master mymaster 127.0.0.1 46229", "slave a b c d e f"} {
		if _, _, _, ok := parsePromotion(msg); ok {
			t.Errorf("parsePromotion(%q) ok, want not", msg)
		}
	}
}
