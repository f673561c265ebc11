package lock_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/lock"
)

// wantKey checks that err is a *redkit.Error whose Key is key: the name the
// caller gave, without the Kit's prefix or the lock's hash tag.
func wantKey(t *testing.T, what string, err error, key string) *redkit.Error {
	t.Helper()
	var re *redkit.Error
	if !errors.As(err, &re) {
		t.Fatalf("%s: err = %v (%T), want a *redkit.Error", what, err, err)
	}
	if re.Key != key {
		t.Errorf("%s: Error.Key = %q, want the caller's key %q", what, re.Key, key)
	}
	return re
}

// TestErrorKeyIsCallersKey: every kind of lock reports the caller's name
// as Error.Key, for Redis failures and for the package's own sentinels.
func TestErrorKeyIsCallersKey(t *testing.T) {
	l, _, srv := newLocker(t, nil)
	ctx := t.Context()
	// Hashes where each lock keeps its main key: every call gets WRONGTYPE.
	do(t, srv, "HSET", "lt:lock:{m}", "a", "b")
	do(t, srv, "HSET", "lt:rwlock:{rw}:r", "a", "b") // the readers' zset
	do(t, srv, "HSET", "lt:semaphore:{sem}", "a", "b")
	for _, c := range []struct {
		op, key string
		call    func() error
	}{
		{"Acquire", "m", func() error { _, err := l.Acquire(ctx, "m", time.Second, nil); return err }},
		{"TryAcquire", "m", func() error { _, err := l.TryAcquire(ctx, "m", time.Second); return err }},
		{"Release", "m", func() error { _, err := l.Release(ctx, "m", "token"); return err }},
		{"Extend", "m", func() error { _, err := l.Extend(ctx, "m", "token", time.Second); return err }},
		{"RWMutex.Lock", "rw", func() error { _, err := l.RWMutex("rw").Lock(ctx, time.Second, nil); return err }},
		{"RWMutex.TryRLock", "rw", func() error { _, err := l.RWMutex("rw").TryRLock(ctx, time.Second); return err }},
		{"Semaphore.Acquire", "sem", func() error { _, err := l.Semaphore("sem", 2).Acquire(ctx, time.Second, nil); return err }},
	} {
		err := c.call()
		if !errors.Is(err, redkit.ErrWrongType) {
			t.Fatalf("%s: err = %v, want ErrWrongType", c.op, err)
		}
		wantKey(t, c.op, err, c.key)
	}

	// The package's sentinels: the caller's key, and no Kind (they are not
	// Redis failures).
	m, err := l.Acquire(ctx, "busy", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.TryAcquire(ctx, "busy", time.Second)
	if !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryAcquire on a held lock: %v, want ErrNotAcquired", err)
	}
	if re := wantKey(t, "TryAcquire on a held lock", err, "busy"); re.Kind != nil {
		t.Errorf("ErrNotAcquired has Kind %v, want nil", re.Kind)
	}
	if err := m.Release(ctx); err != nil {
		t.Fatal(err)
	}
	err = m.Release(ctx)
	if !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("second Release: %v, want ErrLockLost", err)
	}
	if re := wantKey(t, "second Release", err, "busy"); re.Kind != nil {
		t.Errorf("ErrLockLost has Kind %v, want nil", re.Kind)
	}
}
