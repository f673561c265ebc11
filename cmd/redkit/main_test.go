package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/redkit-go/redkit/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// runCLI runs the tool in process.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestUsage(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string // in stdout
		stderr string // in stderr
	}{
		{args: nil, code: exitUsage, stderr: "Commands:"},
		{args: []string{"--help"}, code: exitOK, stdout: "Commands:"},
		{args: []string{"-h"}, code: exitOK, stdout: "redkit <command> [flags]"},
		{args: []string{"help"}, code: exitOK, stdout: "Commands:"},
		{args: []string{"help", "doctor"}, code: exitOK, stdout: "Usage: redkit doctor"},
		{args: []string{"frobnicate"}, code: exitUsage, stderr: `unknown command "frobnicate"`},
		{args: []string{"health", "--help"}, code: exitOK, stdout: "Usage: redkit health"},
		{args: []string{"doctor", "--help"}, code: exitOK, stdout: "Usage: redkit doctor"},
		{args: []string{"inspect", "--help"}, code: exitOK, stdout: "Usage: redkit inspect"},
		{args: []string{"demo", "--help"}, code: exitOK, stdout: "Usage: redkit demo"},
		{args: []string{"bench", "--help"}, code: exitOK, stdout: "Usage: redkit bench"},
		{args: []string{"health", "--nope"}, code: exitUsage, stderr: "flag provided but not defined: -nope"},
		{args: []string{"health", "extra"}, code: exitUsage, stderr: `unexpected argument "extra"`},
		{args: []string{"doctor", "--timeout", "soon"}, code: exitUsage, stderr: "invalid value"},
		{args: []string{"health", "--url", "foo://x"}, code: exitUsage, stderr: "unsupported scheme"},
		{args: []string{"inspect", "--limit", "0"}, code: exitUsage, stderr: "--limit must be at least 1"},
		{args: []string{"bench", "--rounds", "0"}, code: exitUsage, stderr: "--rounds must be at least 1"},
		{args: []string{"bench", "extra"}, code: exitUsage, stderr: `unexpected argument "extra"`},
		{args: []string{"bench", "--embedded", "--url", "redis://x"}, code: exitUsage, stderr: "exclude each other"},
		{args: []string{"version"}, code: exitOK, stdout: "redkit "},
		{args: []string{"--version"}, code: exitOK, stdout: "redkit "},
		{args: []string{"version", "--help"}, code: exitOK, stdout: "Usage: redkit version"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			if !strings.Contains(stdout, tc.stdout) {
				t.Errorf("stdout does not contain %q:\n%s", tc.stdout, stdout)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr does not contain %q:\n%s", tc.stderr, stderr)
			}
		})
	}
}

func TestBadRedisURLEnv(t *testing.T) {
	t.Setenv("REDIS_URL", "nope")
	code, _, stderr := runCLI(t, "health")
	if code != exitUsage || !strings.Contains(stderr, "REDIS_URL") && !strings.Contains(stderr, "scheme") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
}
