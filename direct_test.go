package redkit_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/redistest"
)

// A sequential caller with a ctx that cannot be cancelled takes the direct
// path; a cancellable ctx takes the pipeline; DisableDirect turns it off.
func TestDirectPathRouting(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	bg := context.Background()
	for _, disable := range []bool{false, true} {
		k := open(t, redkit.Config{URL: srv.URL(), Engine: redkit.EngineConfig{DisableDirect: disable}})
		for i := range 10 {
			if _, err := k.Do(bg, k.B().Set().Key("d").Value(strconv.Itoa(i)).Build()); err != nil {
				t.Fatalf("SET: %v", err)
			}
		}
		if _, err := k.DoMulti(bg, k.B().Get().Key("d").Build(), k.B().Get().Key("d").Build()); err != nil {
			t.Fatalf("DoMulti: %v", err)
		}
		want := int64(11)
		if disable {
			want = 0
		}
		if got := k.Stats().Direct; got != want {
			t.Errorf("DisableDirect=%v: Stats().Direct = %d after 11 sequential calls, want %d", disable, got, want)
		}
		before := k.Stats().Direct
		if _, err := k.Do(t.Context(), k.B().Get().Key("d").Build()); err != nil {
			t.Fatalf("GET: %v", err)
		}
		if got := k.Stats().Direct; got != before {
			t.Errorf("a call with a cancellable ctx went on the direct path")
		}
		// Blocking commands keep their dedicated connections.
		if _, err := k.Do(bg, k.B().Blpop().Key("empty").Timeout(0.01).Build()); !rueidis.IsRedisNil(err) {
			t.Errorf("BLPOP on an empty list = %v, want nil reply", err)
		}
		if got := k.Stats().Direct; got != before {
			t.Errorf("a blocking command went on the direct path")
		}
	}
}

// After a restart the direct path's idle connection is dead; the next
// write must neither fail nor be lost, although writes are not retried.
func TestDirectPathAfterRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	k := open(t, redkit.Config{URL: srv.URL(), Retry: redkit.RetryPolicy{Retries: -1}})
	bg := context.Background()
	script := rueidis.NewLuaScript("return redis.call('INCR', KEYS[1])")
	for round := range 3 {
		if _, err := k.Do(bg, k.B().Incr().Key("n").Build()); err != nil {
			t.Fatalf("round %d: INCR: %v", round, err)
		}
		srv.Restart() // no persistence: n starts again from nothing
		direct := k.Stats().Direct
		if _, err := k.Do(bg, k.B().Incr().Key("n").Build()); err != nil {
			t.Fatalf("round %d: first INCR after a restart: %v", round, err)
		}
		if _, err := k.Exec(bg, script, []string{"n"}, nil); err != nil {
			t.Fatalf("round %d: script after a restart: %v", round, err)
		}
		res, err := k.DoMulti(bg, k.B().Incr().Key("n").Build(), k.B().Incr().Key("n").Build())
		if err != nil {
			t.Fatalf("round %d: DoMulti: %v", round, err)
		}
		for _, r := range res {
			if err := r.Error(); err != nil {
				t.Fatalf("round %d: INCR in a batch after a restart: %v", round, err)
			}
		}
		if got, _ := srv.Do("GET", "n"); got != "4" {
			t.Fatalf("round %d: n = %q after 4 INCRs since the restart: a write was lost or doubled", round, got)
		}
		if k.Stats().Direct == direct {
			t.Fatalf("round %d: the calls after the restart did not take the direct path", round)
		}
		if _, err := srv.Do("DEL", "n"); err != nil {
			t.Fatal(err)
		}
	}
}

// Callers that come and go switch between the direct path and the
// pipeline; every command runs exactly once.
func TestDirectPathUnderChangingLoad(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	k := open(t, redkit.Config{URL: srv.URL()})
	bg := context.Background()
	const workers, each = 8, 500
	for burst := range 4 {
		var wg sync.WaitGroup
		n := 1 + burst*burst // 1, 2, 5, 10 goroutines
		n = min(n, workers)
		for range n {
			wg.Go(func() {
				for range each {
					if _, err := k.Do(bg, k.B().Incr().Key("c").Build()); err != nil {
						t.Errorf("INCR: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	m, err := k.Do(bg, k.B().Get().Key("c").Build())
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for burst := range 4 {
		want += min(1+burst*burst, workers) * each
	}
	if got, _ := m.AsInt64(); got != int64(want) {
		t.Fatalf("c = %d, want %d", got, want)
	}
	if k.Stats().Direct == 0 {
		t.Error("the lone goroutine never took the direct path")
	}
}
