package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/redkit-go/redkit/redistest"
)

// doctor runs doctor --json and returns the exit code and each check's
// status by name.
func doctor(t *testing.T, url string) (int, map[string]check) {
	t.Helper()
	code, stdout, stderr := runCLI(t, "doctor", "--json", "--url", url)
	var checks []check
	if err := json.Unmarshal([]byte(stdout), &checks); err != nil {
		t.Fatalf("doctor --json output is not a list of checks: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	m := map[string]check{}
	for _, c := range checks {
		if c.Status != statusOK && c.Status != statusWarn && c.Status != statusFail {
			t.Errorf("check %s: status %q", c.Check, c.Status)
		}
		if c.Status != statusOK && c.Advice == "" {
			t.Errorf("check %s is %s without advice: %s", c.Check, c.Status, c.Detail)
		}
		m[c.Check] = c
	}
	return code, m
}

func wantStatuses(t *testing.T, got map[string]check, want map[string]string) {
	t.Helper()
	for name, status := range want {
		c, ok := got[name]
		if !ok {
			t.Errorf("no %s check", name)
			continue
		}
		if c.Status != status {
			t.Errorf("%s: %s (%s), want %s", name, c.Status, c.Detail, status)
		}
	}
}

func TestDoctorDefaultServer(t *testing.T) {
	srv := redistest.Start(t, nil) // no persistence, no maxmemory
	code, got := doctor(t, srv.URL())
	if code != exitOK {
		t.Errorf("exit %d, want 0 (warnings only)", code)
	}
	wantStatuses(t, got, map[string]string{
		"connect": statusOK, "version": statusOK, "tracking": statusOK, "keyspace": statusOK,
		"eviction": statusOK, "persistence": statusWarn, "cluster": statusOK, "sentinel": statusOK,
	})

	// The text output: one line per check, advice under the warnings.
	code, stdout, _ := runCLI(t, "doctor", "--url", srv.URL())
	if code != exitOK || !strings.Contains(stdout, "warn  persistence") || !strings.Contains(stdout, "→ ") {
		t.Errorf("exit %d, text output:\n%s", code, stdout)
	}
}

func TestDoctorConfigurations(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts redistest.Options
		want map[string]string
	}{
		{"allkeys", redistest.Options{Args: []string{"maxmemory 64mb", "maxmemory-policy allkeys-lru"}},
			map[string]string{"eviction": statusWarn}},
		{"volatile", redistest.Options{Args: []string{"maxmemory 64mb", "maxmemory-policy volatile-ttl"}},
			map[string]string{"eviction": statusWarn}},
		{"noeviction", redistest.Options{Args: []string{"maxmemory 64mb", "maxmemory-policy noeviction"}},
			map[string]string{"eviction": statusOK}},
		{"aof", redistest.Options{Persistence: true}, map[string]string{"persistence": statusOK}},
		{"rdb", redistest.Options{Args: []string{"save 60 1"}}, map[string]string{"persistence": statusWarn}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t, &tc.opts)
			code, got := doctor(t, srv.URL())
			if code != exitOK {
				t.Errorf("exit %d, want 0", code)
			}
			wantStatuses(t, got, tc.want)
		})
	}
}

func TestDoctorUnreachable(t *testing.T) {
	srv := redistest.Start(t, nil)
	srv.Stop()
	code, got := doctor(t, srv.URL())
	if code != exitFail {
		t.Errorf("exit %d, want 1", code)
	}
	wantStatuses(t, got, map[string]string{"connect": statusFail})
}

func TestDoctorCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3, 0)
	code, got := doctor(t, "redis://"+strings.Join(c.Addrs(), ","))
	if code != exitOK {
		t.Errorf("exit %d, want 0", code)
	}
	wantStatuses(t, got, map[string]string{
		"connect": statusOK, "version": statusOK, "tracking": statusOK, "cluster": statusOK, "persistence": statusWarn,
	})
	if d := got["connect"].Detail; !strings.Contains(d, "3 master(s)") {
		t.Errorf("connect: %s", d)
	}
}

func TestDoctorSentinel(t *testing.T) {
	s := redistest.StartSentinel(t, 0)
	code, got := doctor(t, s.URL())
	if code != exitOK {
		t.Errorf("exit %d, want 0", code)
	}
	wantStatuses(t, got, map[string]string{"connect": statusOK, "sentinel": statusOK, "cluster": statusOK})
	if d := got["sentinel"].Detail; !strings.Contains(d, "3/3 sentinels") {
		t.Errorf("sentinel: %s", d)
	}

	s.Sentinels()[0].Stop()
	_, got = doctor(t, s.URL())
	wantStatuses(t, got, map[string]string{"sentinel": statusWarn})
}

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		less bool // than minVersion
		ok   bool
	}{
		{"7.0.15", false, true}, {"6.2.14", true, true}, {"8.2", false, true}, {"255.255.255", false, true},
		{"x", false, false},
	} {
		v, ok := parseVersion(tc.in)
		if ok != tc.ok || ok && versionLess(v, minVersion) != tc.less {
			t.Errorf("%s: %v ok=%v", tc.in, v, ok)
		}
	}
}
