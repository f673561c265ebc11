package redkit_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/redistest"
)

// A sequential caller takes the direct path, whatever its ctx (one that
// cannot be cancelled, a request's with a deadline, one that can be
// cancelled); blocking commands do not; DisableDirect turns it off.
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
		dctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		for _, ctx := range []context.Context{t.Context(), dctx} {
			if _, err := k.Do(ctx, k.B().Get().Key("d").Build()); err != nil {
				t.Fatalf("GET: %v", err)
			}
		}
		cancel()
		want = before + 2
		if disable {
			want = 0
		}
		if got := k.Stats().Direct; got != want {
			t.Errorf("DisableDirect=%v: Stats().Direct = %d after 2 calls with request contexts, want %d", disable, got, want)
		}
		before = k.Stats().Direct
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

// A request's ctx on the direct path: a cancellation or a deadline breaks
// a read the server does not answer, well before CommandTimeout; the
// connection is discarded, so the late reply is never read as the answer
// to the next command; and a caller giving up is no failure to the
// breaker.
func TestDirectPathRequestContext(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	k := open(t, redkit.Config{URL: srv.URL(), CommandTimeout: 20 * time.Second,
		Breaker: redkit.BreakerPolicy{FailureThreshold: 1}})
	bg := context.Background()
	for _, kv := range [][2]string{{"a", "A"}, {"b", "B"}, {"c", "C"}} {
		if _, err := k.Do(bg, k.B().Set().Key(kv[0]).Value(kv[1]).Build()); err != nil {
			t.Fatal(err)
		}
	}
	cancelled, cancel := context.WithCancel(bg)
	time.AfterFunc(200*time.Millisecond, cancel)
	deadline, cancel2 := context.WithTimeout(bg, 200*time.Millisecond)
	defer cancel2()
	for _, c := range []struct {
		name string
		ctx  context.Context
		key  string
		want error
	}{
		{"cancelled", cancelled, "a", context.Canceled},
		{"deadline", deadline, "b", context.DeadlineExceeded},
	} {
		srv.Pause(0)
		direct := k.Stats().Direct
		start := time.Now()
		_, err := k.Do(c.ctx, k.B().Get().Key(c.key).Build())
		took := time.Since(start)
		srv.Resume()
		if !errors.Is(err, c.want) {
			t.Fatalf("%s: GET on a paused server = %v, want %v", c.name, err, c.want)
		}
		if took > 5*time.Second {
			t.Errorf("%s: the call returned after %s: the ctx did not break the read", c.name, took)
		}
		if k.Stats().Direct != direct+1 {
			t.Errorf("%s: the call did not take the direct path", c.name)
		}
		// The server now answers the abandoned GET on that connection;
		// the next command must get its own reply.
		m, err := k.Do(bg, k.B().Get().Key("c").Build())
		if got, _ := m.ToString(); err != nil || got != "C" {
			t.Fatalf("%s: GET c after the abandoned call = %q, %v; want \"C\" (a connection was reused mid-reply)", c.name, got, err)
		}
	}
	if s := k.Stats(); s.Breaker != redkit.BreakerClosed {
		t.Errorf("breaker %s after callers gave up (threshold 1): a cancelled call counted as a failure", s.Breaker)
	}
}

// A subscription and a blocking command wait on connections of their own:
// while they wait, a lone call still takes the direct path.
func TestDirectPathBesideLongCalls(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, nil)
	k := open(t, redkit.Config{URL: srv.URL()})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	subscribed := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		c := k.Client()
		_ = c.Receive(ctx, c.B().Subscribe().Channel("news").Build(), func(rueidis.PubSubMessage) {})
	})
	wg.Go(func() {
		close(subscribed)
		_, _ = k.Do(ctx, k.B().Blpop().Key("nothing").Timeout(30).Build())
	})
	defer wg.Wait()
	<-subscribed
	deadline := time.Now().Add(10 * time.Second)
	for { // both are on their own connections once the server lists three clients
		m, _ := srv.Do("CLIENT", "LIST")
		if strings.Count(m, "cmd=subscribe") >= 1 && strings.Count(m, "cmd=blpop") >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no subscription and BLPOP in CLIENT LIST:\n%s", m)
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := k.Stats().Direct
	for range 5 {
		if _, err := k.Do(t.Context(), k.B().Set().Key("x").Value("1").Build()); err != nil {
			t.Fatal(err)
		}
	}
	if got := k.Stats().Direct - before; got != 5 {
		t.Errorf("%d of 5 lone calls took the direct path beside a subscription and a BLPOP, want 5", got)
	}
	cancel()
}
