package ratelimit_test

import (
	"testing"
	"time"

	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/ratelimit"
	"github.com/redkit-go/redkit/redistest"
)

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *ratelimit.Options
		want []string
	}{
		{"nil", nil, nil},
		{"zero", &ratelimit.Options{}, nil},
		{"set", &ratelimit.Options{Fallback: ratelimit.FallbackDeny, LocalKeys: 10}, nil},
		{"Fallback", &ratelimit.Options{Fallback: 7}, []string{"ratelimit: Options.Fallback must be FallbackLocal, FallbackAllow or FallbackDeny (got 7)"}},
		{"Timeout", &ratelimit.Options{Timeout: -time.Second}, []string{"ratelimit: Options.Timeout must not be negative (got -1s)"}},
		{"several", &ratelimit.Options{Fallback: -1, LocalKeys: -1}, []string{
			"Options.Fallback", "(got -1)", "ratelimit: Options.LocalKeys must not be negative (got -1)"}},
	} {
		t.Run(tc.name, func(t *testing.T) { testutil.WantValid(t, tc.opts.Validate(), tc.want) })
	}
}

func TestNewPanics(t *testing.T) {
	srv := redistest.Start(t, nil)
	k := testutil.OpenKit(t, "rl:", srv.Addr())
	for name, fn := range map[string]func(){
		"nil kit":     func() { ratelimit.New(nil, "x", nil) },
		"empty name":  func() { ratelimit.New(k, "", nil) },
		"bad options": func() { ratelimit.New(k, "x", &ratelimit.Options{LocalKeys: -1}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			fn()
		}()
	}
}

func TestFallbackString(t *testing.T) {
	for f, want := range map[ratelimit.Fallback]string{ratelimit.FallbackLocal: "local", ratelimit.FallbackAllow: "allow", ratelimit.FallbackDeny: "deny", 9: "Fallback(9)"} {
		if got := f.String(); got != want {
			t.Errorf("%d.String() = %q; want %q", int(f), got, want)
		}
	}
}
