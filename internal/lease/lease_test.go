package lease_test

import (
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/leaktest"
	"github.com/redkit-go/redkit/internal/lease"
	"github.com/redkit-go/redkit/redistest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func TestLease(t *testing.T) {
	srv := redistest.Start(t, nil)
	k, err := redkit.Open(t.Context(), redkit.Config{Addrs: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ctx := t.Context()
	mine, theirs := lease.NewToken(), lease.NewToken()
	if len(mine) != 26 || mine == theirs {
		t.Fatalf("NewToken = %q, %q; want two different 26-character tokens", mine, theirs)
	}

	if ok, err := lease.TryAcquire(ctx, k, "l", mine, time.Minute); !ok || err != nil {
		t.Fatalf("TryAcquire on a free key = %v, %v; want true", ok, err)
	}
	if ok, err := lease.TryAcquire(ctx, k, "l", theirs, time.Minute); ok || err != nil {
		t.Fatalf("TryAcquire on a held key = %v, %v; want false, nil", ok, err)
	}
	if ms, _ := srv.Do("PTTL", "l"); len(ms) != 5 || ms > "60000" {
		t.Fatalf("PTTL = %q; want the lease's ttl, just under 60000", ms)
	}
	if ok, err := lease.Release(ctx, k, "l", theirs); ok || err != nil {
		t.Fatalf("Release with another token = %v, %v; want false, nil", ok, err)
	}
	if v, _ := srv.Do("GET", "l"); v != mine {
		t.Fatalf("after another token's Release, GET = %q; want the holder's token %q", v, mine)
	}
	if ok, err := lease.Release(ctx, k, "l", mine); !ok || err != nil {
		t.Fatalf("Release by the holder = %v, %v; want true", ok, err)
	}
	if n, _ := srv.Do("EXISTS", "l"); n != "0" {
		t.Fatalf("EXISTS after Release = %q; want 0", n)
	}
	if ok, err := lease.Release(ctx, k, "l", mine); ok || err != nil {
		t.Fatalf("second Release = %v, %v; want false, nil", ok, err)
	}
}
