// Package lease is the one short, token-held lease of the module: a key
// set with SET NX PX to a random token, and released by a compare-and-
// delete script so that a holder whose lease ran out never deletes its
// successor's. Package cache takes one per key for distributed stampede
// control; package lock releases Redlock's per-master locks with it.
// (The Locker's mutexes need more — fences, a waiter queue, handoff — and
// have scripts of their own.)
package lease

import (
	"context"
	"crypto/rand"
	_ "embed"
	"errors"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
)

//go:embed release.lua
var releaseLua string

// releaseScript may run at maxmemory (allow-oom): a holder can always let
// go, and deleting frees memory. The flags need Redis 7.0 or later.
var releaseScript = rueidis.NewLuaScript("#!lua flags=allow-oom\n" + releaseLua)

// NewToken returns a lease token: 128 random bits from crypto/rand, in
// base32 (26 characters).
func NewToken() string { return rand.Text() }

// TryAcquire sets key to token for ttl (at least 1ms) unless key exists,
// and reports whether it did. Errors are the Kit's, unwrapped.
func TryAcquire(ctx context.Context, c *redkit.Kit, key, token string, ttl time.Duration) (bool, error) {
	_, err := c.Do(ctx, c.B().Set().Key(key).Value(token).Nx().
		PxMilliseconds(max(ttl.Milliseconds(), 1)).Build())
	if rueidis.IsRedisNil(err) {
		return false, nil
	}
	return err == nil, err
}

// errReply reports a release script reply that is not an integer.
var errReply = errors.New("lease: unexpected release reply")

// Release deletes key if token still holds it, and reports whether it did.
// Errors are the Kit's, unwrapped.
func Release(ctx context.Context, c *redkit.Kit, key, token string) (bool, error) {
	msg, err := c.Exec(ctx, releaseScript, []string{key}, []string{token})
	if err != nil {
		return false, err
	}
	n, err := msg.AsInt64()
	if err != nil {
		return false, errors.Join(errReply, err)
	}
	return n == 1, nil
}
