package lock_test

import (
	"math"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/lock"
)

// validator is Options and RedlockOptions.
type validator interface{ Validate() error }

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts validator
		want []string // substrings of the error; nil: valid
	}{
		{"nil", (*lock.Options)(nil), nil},
		{"zero", &lock.Options{}, nil},
		{"set", &lock.Options{TTL: time.Second, WaitTimeout: time.Second, PollInterval: 100 * time.Millisecond, WaiterLease: time.Second}, nil},
		{"long poll, default lease", &lock.Options{PollInterval: time.Second}, nil},
		{"WaitTimeout", &lock.Options{WaitTimeout: -time.Second}, []string{"lock: Options.WaitTimeout must not be negative (got -1s)"}},
		{"several", &lock.Options{TTL: -1, PollInterval: -time.Millisecond}, []string{
			"lock: Options.TTL must not be negative (got -1ns)", "lock: Options.PollInterval must not be negative (got -1ms)"}},
		{"short lease", &lock.Options{PollInterval: time.Second, WaiterLease: 2 * time.Second},
			[]string{"lock: Options.WaiterLease must be at least 3*PollInterval (3s) (got 2s)"}},
		{"local handoffs", &lock.Options{MaxLocalHandoffs: 1024, DisableLocalHandoff: true}, nil},
		{"MaxLocalHandoffs negative", &lock.Options{MaxLocalHandoffs: -1},
			[]string{"lock: Options.MaxLocalHandoffs must not be negative (got -1)"}},
		{"MaxLocalHandoffs large", &lock.Options{MaxLocalHandoffs: 1025},
			[]string{"lock: Options.MaxLocalHandoffs must be at most 1024 (got 1025)"}},

		{"redlock nil", (*lock.RedlockOptions)(nil), nil},
		{"redlock zero", &lock.RedlockOptions{}, nil},
		{"redlock set", &lock.RedlockOptions{TTL: time.Second, RetryDelay: time.Millisecond, MasterTimeout: time.Second, DriftFactor: 0.05}, nil},
		{"redlock RetryDelay", &lock.RedlockOptions{RetryDelay: -time.Second},
			[]string{"lock: RedlockOptions.RetryDelay must not be negative (got -1s)"}},
		{"redlock DriftFactor", &lock.RedlockOptions{DriftFactor: 1, WaitTimeout: -1}, []string{
			"lock: RedlockOptions.DriftFactor must be in [0, 1) (got 1)", "RedlockOptions.WaitTimeout must not be negative"}},
		{"redlock DriftFactor NaN", &lock.RedlockOptions{DriftFactor: math.NaN()}, []string{"DriftFactor", "NaN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.WantValid(t, tc.opts.Validate(), tc.want)
		})
	}
}

// TestConstructorsPanicOnInvalidOptions: invalid options used to be
// clamped silently (a negative WaitTimeout meant no limit, a short
// WaiterLease was raised); they are a construction-time error now.
func TestConstructorsPanicOnInvalidOptions(t *testing.T) {
	_, k, _ := newLocker(t, nil)
	wantPanic := func(what string, v validator, build func()) {
		t.Helper()
		defer func() {
			t.Helper()
			r := recover()
			err, ok := r.(error)
			if !ok || err.Error() != v.Validate().Error() {
				t.Errorf("%s: recover() = %v; want Validate's error %v", what, r, v.Validate())
			}
		}()
		build()
	}
	for _, o := range []*lock.Options{{WaitTimeout: -time.Second}, {PollInterval: time.Second, WaiterLease: time.Second}} {
		wantPanic("lock.New", o, func() { lock.New(k, o).Close() })
	}
	ro := &lock.RedlockOptions{RetryDelay: -time.Millisecond}
	wantPanic("lock.NewRedlockWithOptions", ro, func() { lock.NewRedlockWithOptions(ro, []*redkit.Kit{k}...) })
}
