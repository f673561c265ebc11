package lock_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/lock"
	"github.com/redkit-go/redkit/redistest"
)

// At maxmemory with noeviction, acquiring is an OOM error, not "not
// acquired"; releasing still works. (maxmemory is 2mb, not 1mb: an empty
// redis-server 7.0 with a connected Kit already uses about 1.1mb.)
func TestOOMIsAnError(t *testing.T) {
	srv := redistest.Start(t, &redistest.Options{Args: []string{"maxmemory 2mb", "maxmemory-policy noeviction"}})
	k := testutil.OpenKit(t, "lt:", srv.Addr())
	l := lock.New(k, nil)
	defer l.Close()
	ctx := t.Context()
	held, err := l.Acquire(ctx, "before", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 16<<10)
	for i := 0; ; i++ {
		_, err := srv.Do("SET", "fill:"+strconv.Itoa(i), big)
		if err != nil && strings.HasPrefix(err.Error(), "OOM") {
			break
		}
		if err != nil {
			t.Fatalf("filling: %v", err)
		}
		if i > 10000 {
			t.Fatal("maxmemory never reached")
		}
	}
	// The filling connection's buffers are freed when it closes, which
	// would bring memory back under the limit: pin the limit below the
	// memory now in use.
	info := do(t, srv, "INFO", "memory")
	used := 0
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			used, _ = strconv.Atoi(v)
		}
	}
	if used == 0 {
		t.Fatalf("no used_memory in INFO memory: %s", info)
	}
	do(t, srv, "CONFIG", "SET", "maxmemory", strconv.Itoa(used-64<<10))
	for _, call := range []struct {
		name string
		fn   func() error
	}{
		{"TryAcquire", func() error { _, err := l.TryAcquire(ctx, "k", time.Second); return err }},
		{"Acquire", func() error { _, err := l.Acquire(ctx, "k", time.Second, nil); return err }},
		{"Do", func() error {
			return l.Do(ctx, "k", time.Second, func(context.Context) error { t.Error("fn ran"); return nil })
		}},
		{"RLock", func() error { _, err := l.RWMutex("rw").RLock(ctx, time.Second, nil); return err }},
		{"Semaphore", func() error { _, err := l.Semaphore("s", 2).Acquire(ctx, time.Second, nil); return err }},
	} {
		err := call.fn()
		if !errors.Is(err, redkit.ErrOOM) || errors.Is(err, lock.ErrNotAcquired) {
			t.Errorf("%s at maxmemory: %v; want ErrOOM and not ErrNotAcquired", call.name, err)
		}
	}
	if err := held.Release(ctx); err != nil {
		t.Errorf("Release at maxmemory: %v", err)
	}
}

// With Redis down, acquiring is an unavailability error, at once.
func TestUnavailableIsAnError(t *testing.T) {
	l, _, srv := newLocker(t, nil)
	ctx := t.Context()
	srv.Kill()
	if _, err := l.TryAcquire(ctx, "k", time.Second); !errors.Is(err, redkit.ErrUnavailable) || errors.Is(err, lock.ErrNotAcquired) {
		t.Errorf("TryAcquire with Redis down: %v; want ErrUnavailable", err)
	}
	if _, err := l.Acquire(ctx, "k", time.Second, nil); !errors.Is(err, redkit.ErrUnavailable) || errors.Is(err, lock.ErrNotAcquired) {
		t.Errorf("Acquire with Redis down: %v; want ErrUnavailable", err)
	}
}

// A ctx that ends while the acquire script is on its way leaves no lock:
// the script ran (the fence moved) but the lock was released again.
func TestCancelMidAcquireLeavesNoLock(t *testing.T) {
	srv := redistest.Start(t, nil)
	proxy := redistest.NewProxy(t, srv.Addr())
	k := testutil.OpenKit(t, "lt:", proxy.Addr())
	l := lock.New(k, nil)
	defer l.Close()
	// Load the script first: a first call's EVALSHA fails with NOSCRIPT
	// and its EVAL fallback is not sent once ctx is done.
	if _, err := l.TryAcquire(t.Context(), "warm-up", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(t.Context(), "warm-up", time.Millisecond, &lock.AcquireOptions{WaitTimeout: time.Millisecond}); err != nil && !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatal(err) // loads the clean-up script when the wait times out
	}
	proxy.SetLatency(300 * time.Millisecond)

	for _, wait := range []bool{false, true} {
		// On a loaded machine the request may not leave before ctx ends
		// (then it never runs); try until one attempt ran on the server.
		ran := false
		for attempt := 0; attempt < 5 && !ran; attempt++ {
			key := fmt.Sprintf("slow-%v-%d", wait, attempt)
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			var err error
			if wait {
				_, err = l.Acquire(ctx, key, time.Minute, nil)
			} else {
				_, err = l.TryAcquire(ctx, key, time.Minute)
			}
			cancel()
			if !errors.Is(err, lock.ErrNotAcquired) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("wait=%v: %v, want ErrNotAcquired joined with DeadlineExceeded", wait, err)
			}
			for end := time.Now().Add(3 * time.Second); !ran && time.Now().Before(end); {
				time.Sleep(10 * time.Millisecond)
				ran = do(t, srv, "EXISTS", "lt:lock:{"+key+"}:fence") == "1"
			}
			if !ran {
				continue
			}
			// The clean-up follows the acquire on the same connection
			// (and is retried in the background if it times out).
			waitUntil(t, "the orphan lock to be released", func() bool {
				return do(t, srv, "EXISTS", "lt:lock:{"+key+"}") == "0"
			})
		}
		if !ran {
			t.Errorf("wait=%v: the acquire never reached the server in 5 attempts", wait)
		}
	}
}
