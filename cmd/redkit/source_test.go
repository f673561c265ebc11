package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSourceTree(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(filepath.Dir(wd)) // cmd/redkit -> the module root
	for _, dir := range []string{wd, root, filepath.Join(root, "bench"), filepath.Join(root, "examples", "pizzeria")} {
		got, err := sourceTree(dir)
		if err != nil || got != root {
			t.Errorf("sourceTree(%s) = %q, %v; want %s", dir, got, err, root)
		}
	}

	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(other, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := sourceTree(sub); !errors.Is(err, errNoSource) {
		t.Errorf("outside the tree: %v, want errNoSource", err)
	}

	t.Setenv(sourceEnv, root)
	if got, err := findSource(); err != nil || got != root {
		t.Errorf("findSource with $%s: %q, %v", sourceEnv, got, err)
	}
	t.Setenv(sourceEnv, filepath.Join(root, "cmd"))
	if _, err := findSource(); err == nil || !strings.Contains(err.Error(), "not the root") {
		t.Errorf("findSource with $%s below the root: %v", sourceEnv, err)
	}
}

func TestDemoOutsideTree(t *testing.T) {
	t.Setenv(sourceEnv, t.TempDir())
	code, _, stderr := runCLI(t, "demo")
	if code != exitFail || !strings.Contains(stderr, "not the root of redkit's source tree") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "bench", "--quick", "--embedded")
	if code != exitFail || !strings.Contains(stderr, "source tree") {
		t.Errorf("bench: exit %d, stderr %s", code, stderr)
	}
}

func TestDemoArgs(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{nil, []string{"run", "./examples/pizzeria"}},
		{[]string{"-addr", ":9090"}, []string{"run", "./examples/pizzeria", "-addr", ":9090"}},
		{[]string{"--", "-help"}, []string{"run", "./examples/pizzeria", "-help"}},
	} {
		if got := demoArgs(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("demoArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestBenchArgs(t *testing.T) {
	b := benchFlags{suite: "lock,cache", quick: true, rounds: 3, addr: "127.0.0.1:7000",
		set: map[string]bool{"rounds": true}}
	want := []string{"run", ".", "-progress", "-suite", "lock,cache", "-quick", "-rounds", "3", "-redis-addr", "127.0.0.1:7000"}
	if got := b.args(); !slices.Equal(got, want) {
		t.Errorf("args %q, want %q", got, want)
	}
	if got := (benchFlags{list: true}).args(); !slices.Equal(got, []string{"run", ".", "-list"}) {
		t.Errorf("list args %q", got)
	}
}

func TestBenchAddr(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	for _, tc := range []struct {
		url, want string
		bad       bool
	}{
		{"", "", false},
		{"redis://10.0.0.1:7000", "10.0.0.1:7000", false},
		{"redis://10.0.0.1", "10.0.0.1:6379", false},
		{"redis://:secret@10.0.0.1", "", true},
		{"rediss://10.0.0.1", "", true},
		{"redis://a:1,b:2", "", true},
		{"redis+sentinel://a:26379/mymaster", "", true},
		{"redis://10.0.0.1/2", "", true},
	} {
		got, err := benchAddr(tc.url)
		if got != tc.want || (err != nil) != tc.bad {
			t.Errorf("benchAddr(%q) = %q, %v", tc.url, got, err)
		}
	}
	t.Setenv("REDIS_URL", "redis://127.0.0.1:7001")
	if got, err := benchAddr(""); got != "127.0.0.1:7001" || err != nil {
		t.Errorf("from REDIS_URL: %q, %v", got, err)
	}
	code, _, stderr := runCLI(t, "bench", "--url", "rediss://x")
	if code != exitUsage || !strings.Contains(stderr, "plain redis://host:port") {
		t.Errorf("TLS URL: exit %d, %s", code, stderr)
	}
}

func TestProgress(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, false, false)
	p.consume(strings.NewReader(strings.Join([]string{
		"12:00:00 suite cache: Typed cache (cache)",
		"progress 1 2 cache start",
		"12:00:01   redkit cache  g=1  1000 ops/s",
		"progress 1 2 cache done",
		"progress 2 2 lock start",
		"12:00:02 another benchmark run holds /tmp/redkit-bench.lock; waiting for it to finish",
		"progress 2 2 lock failed",
	}, "\n")))
	p.finish(exitFail)
	s := out.String()
	for _, want := range []string{
		"bench: [1/2] cache ...", "bench: [1/2] cache done", "bench: [2/2] lock failed",
		"waiting for it to finish", "the run failed", "redkit cache  g=1",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("progress output lacks %q:\n%s", want, s)
		}
	}
	if p.i != 2 || p.n != 2 || !slices.Equal(p.failed, []string{"lock"}) {
		t.Errorf("state i=%d n=%d failed=%v", p.i, p.n, p.failed)
	}

	// On a terminal the bar is drawn in place.
	out.Reset()
	p = newProgress(&out, true, false)
	p.consume(strings.NewReader("progress 1 4 kv start\nprogress 1 4 kv done\n"))
	p.finish(exitOK)
	if s := out.String(); !strings.Contains(s, "\r\x1b[K") || !strings.Contains(s, "1/4") || strings.Contains(s, "the run failed") {
		t.Errorf("terminal output %q", s)
	}
}
