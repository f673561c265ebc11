package cache_test

import (
	"math"
	"testing"
	"time"

	"github.com/redkit-go/redkit/cache"
	"github.com/redkit-go/redkit/internal/testutil"
)

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *cache.Options
		want []string // substrings of the error; nil: valid
	}{
		{"nil", nil, nil},
		{"zero", &cache.Options{}, nil},
		{"all set", &cache.Options{TTL: time.Minute, NegativeTTL: time.Second, Stampede: cache.StampedeDistributed,
			LockTTL: time.Second, LockWait: time.Second, EarlyRefresh: 1, FailSafe: time.Hour,
			NearCache: &cache.NearCacheOptions{MaxEntries: 10, TTL: time.Second}}, nil},
		{"FailSafe", &cache.Options{FailSafe: -time.Second}, []string{"cache: Options.FailSafe must not be negative (got -1s)"}},
		{"EarlyRefresh NaN", &cache.Options{EarlyRefresh: math.NaN()}, []string{"Options.EarlyRefresh", "NaN"}},
		{"Stampede", &cache.Options{Stampede: 7}, []string{"Options.Stampede", "(got 7)"}},
		{"NearCache", &cache.Options{NearCache: &cache.NearCacheOptions{MaxEntries: -1, TTL: -time.Second}},
			[]string{"NearCacheOptions.MaxEntries must not be negative (got -1)", "NearCacheOptions.TTL must not be negative (got -1s)"}},
		{"several", &cache.Options{TTL: -1, LockWait: -time.Millisecond},
			[]string{"Options.TTL must not be negative (got -1ns)", "Options.LockWait must not be negative (got -1ms)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.WantValid(t, tc.opts.Validate(), tc.want)
		})
	}
}

func TestNewPanicsWithValidateError(t *testing.T) {
	_, k := single(t)
	opts := &cache.Options{EarlyRefresh: math.NaN(), FailSafe: -time.Second}
	defer func() {
		r := recover()
		err, ok := r.(error)
		if !ok || err.Error() != opts.Validate().Error() {
			t.Fatalf("New with invalid Options: recover() = %v; want Validate's error %q", r, opts.Validate())
		}
	}()
	cache.New[int](k, "x", opts)
}
