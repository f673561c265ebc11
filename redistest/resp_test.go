package redistest

import (
	"bufio"
	"strings"
	"testing"
)

func TestReadFormatReply(t *testing.T) {
	tests := []struct {
		wire string
		want string
	}{
		{"+OK\r\n", "OK"},
		{":-42\r\n", "-42"},
		{"$5\r\nhe\r\no\r\n", "he\r\no"},
		{"$0\r\n\r\n", ""},
		{"$-1\r\n", ""},
		{"*-1\r\n", ""},
		{"*0\r\n", "[]"},
		{"*3\r\n$1\r\na\r\n$-1\r\n*2\r\n:1\r\n-ERR x\r\n", "[a (nil) [1 (error) ERR x]]"},
	}
	for _, tt := range tests {
		v, err := readReply(bufio.NewReader(strings.NewReader(tt.wire)))
		if err != nil {
			t.Errorf("readReply(%q): %v", tt.wire, err)
			continue
		}
		if got := formatReply(v); got != tt.want {
			t.Errorf("formatReply(readReply(%q)) = %q, want %q", tt.wire, got, tt.want)
		}
	}
	for _, bad := range []string{"", "+OK\n", "?x\r\n", ":x\r\n", "$3\r\nab", "*2\r\n+a\r\n"} {
		if v, err := readReply(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("readReply(%q) = %v, want an error", bad, v)
		}
	}
}

func TestParseClusterNodes(t *testing.T) {
	text := "07c3 127.0.0.1:30004@40004 slave e7d1 0 1426238317239 4 connected\n" +
		"e7d1 127.0.0.1:30001@40001,host myself,master - 0 0 1 connected 0-5460 [5461->-abc]\n" +
		"6ec2 127.0.0.1:30003@40003 master,fail - 0 0 3 disconnected 10923-16383\n"
	nodes := parseClusterNodes(text)
	if len(nodes) != 3 {
		t.Fatalf("parsed %d nodes, want 3", len(nodes))
	}
	if n := nodes[0]; n.port != 30004 || !n.flags["slave"] || n.master != "e7d1" || n.firstSlot != -1 {
		t.Errorf("replica parsed as %+v", n)
	}
	if n := nodes[1]; n.port != 30001 || !n.flags["master"] || !n.flags["myself"] || n.firstSlot != 0 || n.failing() {
		t.Errorf("master parsed as %+v", n)
	}
	if n := nodes[2]; !n.failing() || n.firstSlot != 10923 {
		t.Errorf("failed master parsed as %+v", n)
	}
}
