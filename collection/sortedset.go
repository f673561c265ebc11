package collection

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
)

var (
	//go:embed range.lua
	rangeSrc string
	//go:embed byscore.lua
	byScoreSrc string
	//go:embed around.lua
	aroundSrc string

	// Read-only scripts (EVALSHA_RO): retried like reads, allowed on
	// replicas.
	rangeScript   = rueidis.NewLuaScriptReadOnly(rangeSrc)
	byScoreScript = rueidis.NewLuaScriptReadOnly(byScoreSrc)
	aroundScript  = rueidis.NewLuaScriptReadOnly(aroundSrc)
)

// maxAround caps Around's n so that rank ± n stays exact in Lua's doubles.
const maxAround = 1 << 40

// minScriptStart bounds a negative Range start passed to range.lua, where
// tonumber makes it a double: below -(2^53-1) it would be inexact and
// ZCARD+start would come out as a float that ZRANGE refuses. No set is
// that large, so clamping keeps Redis's meaning (before the first is 0).
const minScriptStart = -(1<<53 - 1)

// Member is an element of a sorted set with its score and its 0-based rank
// in the order the call asked for (ascending, or descending for desc).
type Member[T any] struct {
	Value T
	Score float64
	Rank  int64
}

// SortedSet is a Redis sorted set of T values bound to one key: the
// building block of leaderboards, priority lists and time indexes.
// Elements are encoded with the Kit's codec, deterministically, so Score,
// Rank and Remove work for structs. A SortedSet is safe for concurrent
// use; build one with NewSortedSet.
type SortedSet[T comparable] struct{ b base }

// NewSortedSet returns the sorted set stored at key (the Kit's prefix is
// added). It does no I/O. An empty key is reported, as redkit.ErrEmptyKey,
// by every call. It panics if k is nil.
func NewSortedSet[T comparable](k *redkit.Kit, key string) *SortedSet[T] {
	return &SortedSet[T]{b: newBase(k, key, "zset")}
}

// Key returns the Redis key of the sorted set, with the Kit's prefix.
func (z *SortedSet[T]) Key() string { return z.b.key }

// Add sets v's score (ZADD) and reports whether v was not a member before.
// A NaN score is an error.
func (z *SortedSet[T]) Add(ctx context.Context, v T, score float64) (bool, error) {
	n, err := z.AddMany(ctx, map[T]float64{v: score})
	return n == 1, err
}

// AddMany sets the scores of every member of members in one command (ZADD)
// and returns how many were not members before. With no members it does
// nothing and returns 0. A NaN score is an error.
func (z *SortedSet[T]) AddMany(ctx context.Context, members map[T]float64) (int64, error) {
	const op = "collection: zset add"
	if err := z.b.check(op); err != nil {
		return 0, err
	}
	if len(members) == 0 {
		return 0, nil
	}
	cmd := z.b.k.B().Zadd().Key(z.b.key).ScoreMember()
	for v, score := range members {
		if err := checkScore(&z.b, op, score); err != nil {
			return 0, err
		}
		m, err := encode(&z.b, op, v)
		if err != nil {
			return 0, err
		}
		cmd = cmd.ScoreMember(score, m)
	}
	return z.b.int(ctx, op, cmd.Build())
}

// IncrBy adds delta to v's score (ZINCRBY; a new member starts at 0) and
// returns the new score. A NaN delta is an error.
func (z *SortedSet[T]) IncrBy(ctx context.Context, v T, delta float64) (float64, error) {
	const op = "collection: zset incr by"
	if err := z.b.check(op); err != nil {
		return 0, err
	}
	if err := checkScore(&z.b, op, delta); err != nil {
		return 0, err
	}
	m, err := encode(&z.b, op, v)
	if err != nil {
		return 0, err
	}
	msg, err := z.b.do(ctx, op, z.b.k.B().Zincrby().Key(z.b.key).Increment(delta).Member(m).Build())
	if err != nil {
		return 0, err
	}
	f, err := msg.AsFloat64()
	if err != nil {
		return 0, z.b.wrap(op, err)
	}
	return f, nil
}

// Range returns the members from rank start to stop, both inclusive, with
// their scores and ranks, in one round trip (ZRANGE … WITHSCORES): the
// top N of a leaderboard is Range(ctx, 0, N-1, true). desc orders by
// descending score (ties in reverse lexicographic order of the stored
// bytes), and ranks are then counted from the highest score. Negative
// indexes count from the end (-1 is the last). As in Redis, indexes past
// either end stand for the end: Range(ctx, -2, math.MaxInt64, false) is
// the last two members.
//
// Members that do not decode are left out and reported by an error
// wrapping redkit.ErrDecode, returned with the members that did decode;
// the ranks of those stay correct.
func (z *SortedSet[T]) Range(ctx context.Context, start, stop int64, desc bool) ([]Member[T], error) {
	const op = "collection: zset range"
	if err := z.b.check(op); err != nil {
		return nil, err
	}
	if start < 0 {
		// The first rank depends on the size: one script reads both. stop
		// goes to ZRANGE as the string it is, never through a Lua number.
		return z.script(ctx, op, rangeScript, []string{
			strconv.FormatInt(max(start, minScriptStart), 10), strconv.FormatInt(stop, 10), flag(desc)})
	}
	var cmd rueidis.Completed
	lo, hi := strconv.FormatInt(start, 10), strconv.FormatInt(stop, 10)
	if desc {
		cmd = z.b.k.B().Zrange().Key(z.b.key).Min(lo).Max(hi).Rev().Withscores().Build()
	} else {
		cmd = z.b.k.B().Zrange().Key(z.b.key).Min(lo).Max(hi).Withscores().Build()
	}
	msg, err := z.b.do(ctx, op, cmd)
	if err != nil {
		return nil, err
	}
	return z.members(op, start, &msg)
}

// RangeByScore returns the members with scores between min and max, both
// inclusive (±Inf for open ends), in ascending order, with their scores
// and ranks, in one round trip. Errors are as for Range.
func (z *SortedSet[T]) RangeByScore(ctx context.Context, min, max float64) ([]Member[T], error) {
	const op = "collection: zset range by score"
	if err := z.b.check(op); err != nil {
		return nil, err
	}
	if err := checkScore(&z.b, op, min); err != nil {
		return nil, err
	}
	if err := checkScore(&z.b, op, max); err != nil {
		return nil, err
	}
	return z.script(ctx, op, byScoreScript, []string{formatScore(min), formatScore(max)})
}

// Around returns up to n members either side of v, and v itself, with
// their scores and ranks, in one round trip (a Lua script: ZRANK, then
// ZRANGE): "your position and your neighbours" on a leaderboard. desc
// orders and ranks by descending score. It returns an empty slice when v
// is not a member. A negative n is an error. Other errors are as for
// Range.
func (z *SortedSet[T]) Around(ctx context.Context, v T, n int64, desc bool) ([]Member[T], error) {
	const op = "collection: zset around"
	if err := z.b.check(op); err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, z.b.wrap(op, fmt.Errorf("collection: n (members either side) must not be negative, got %d", n))
	}
	m, err := encode(&z.b, op, v)
	if err != nil {
		return nil, err
	}
	n = min(n, maxAround)
	return z.script(ctx, op, aroundScript, []string{m, strconv.FormatInt(n, 10), flag(desc)})
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// script runs one of the range scripts, which return {first rank, flat
// member/score pairs}.
func (z *SortedSet[T]) script(ctx context.Context, op string, s *rueidis.Lua, args []string) ([]Member[T], error) {
	msg, err := z.b.k.Exec(ctx, s, []string{z.b.key}, args)
	if err != nil {
		return nil, z.b.wrap(op, err)
	}
	arr, err := msg.ToArray()
	if err != nil || len(arr) != 2 {
		return nil, z.b.wrap(op, fmt.Errorf("unexpected script reply %v: %v", msg, err))
	}
	first, err := arr[0].AsInt64()
	if err != nil {
		return nil, z.b.wrap(op, err)
	}
	return z.members(op, first, &arr[1])
}

// members decodes ZRANGE … WITHSCORES pairs; the i-th has rank first+i.
func (z *SortedSet[T]) members(op string, first int64, msg *rueidis.RedisMessage) ([]Member[T], error) {
	scores, err := msg.AsZScores()
	if err != nil {
		return nil, z.b.wrap(op, err)
	}
	out := make([]Member[T], 0, len(scores))
	var bad decodeErrs
	for i, s := range scores {
		v, err := decode[T](z.b.f, s.Member)
		if err != nil {
			bad.add(err)
			continue
		}
		out = append(out, Member[T]{Value: v, Score: s.Score, Rank: first + int64(i)})
	}
	return out, bad.err(&z.b, op, len(scores))
}

// Score returns v's score (ZSCORE); ok is false when v is not a member.
func (z *SortedSet[T]) Score(ctx context.Context, v T) (score float64, ok bool, err error) {
	const op = "collection: zset score"
	if err := z.b.check(op); err != nil {
		return 0, false, err
	}
	m, err := encode(&z.b, op, v)
	if err != nil {
		return 0, false, err
	}
	msg, err := z.b.do(ctx, op, z.b.k.B().Zscore().Key(z.b.key).Member(m).Build())
	if rueidis.IsRedisNil(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	score, err = msg.AsFloat64()
	if err != nil {
		return 0, false, z.b.wrap(op, err)
	}
	return score, true, nil
}

// Rank returns v's 0-based rank (ZRANK, or ZREVRANK when desc: 0 is then
// the highest score); ok is false when v is not a member.
func (z *SortedSet[T]) Rank(ctx context.Context, v T, desc bool) (rank int64, ok bool, err error) {
	const op = "collection: zset rank"
	if err := z.b.check(op); err != nil {
		return 0, false, err
	}
	m, err := encode(&z.b, op, v)
	if err != nil {
		return 0, false, err
	}
	var cmd rueidis.Completed
	if desc {
		cmd = z.b.k.B().Zrevrank().Key(z.b.key).Member(m).Build()
	} else {
		cmd = z.b.k.B().Zrank().Key(z.b.key).Member(m).Build()
	}
	rank, err = z.b.int(ctx, op, cmd)
	if rueidis.IsRedisNil(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return rank, true, nil
}

// Remove removes vs (ZREM) and returns how many were members. With no vs
// it does nothing and returns 0.
func (z *SortedSet[T]) Remove(ctx context.Context, vs ...T) (int64, error) {
	const op = "collection: zset remove"
	if err := z.b.check(op); err != nil {
		return 0, err
	}
	if len(vs) == 0 {
		return 0, nil
	}
	m, err := encodeAll(&z.b, op, vs)
	if err != nil {
		return 0, err
	}
	return z.b.int(ctx, op, z.b.k.B().Zrem().Key(z.b.key).Member(m...).Build())
}

// RemoveRangeByRank removes the members from rank start to stop, both
// inclusive, in ascending order (ZREMRANGEBYRANK), and returns how many it
// removed. Negative indexes count from the highest score: keep a top-100
// leaderboard with RemoveRangeByRank(ctx, 0, -101).
func (z *SortedSet[T]) RemoveRangeByRank(ctx context.Context, start, stop int64) (int64, error) {
	const op = "collection: zset remove range by rank"
	if err := z.b.check(op); err != nil {
		return 0, err
	}
	return z.b.int(ctx, op, z.b.k.B().Zremrangebyrank().Key(z.b.key).Start(start).Stop(stop).Build())
}

// Len returns the number of members (ZCARD); 0 when the set does not exist.
func (z *SortedSet[T]) Len(ctx context.Context) (int64, error) {
	const op = "collection: zset len"
	if err := z.b.check(op); err != nil {
		return 0, err
	}
	return z.b.int(ctx, op, z.b.k.B().Zcard().Key(z.b.key).Build())
}

// Expire sets the sorted set's time to live (PEXPIRE) and reports whether
// the key exists. A ttl of 0 means the Kit's Config.DefaultExpiry; a
// negative ttl is redkit.ErrNegativeTTL.
func (z *SortedSet[T]) Expire(ctx context.Context, ttl time.Duration) (bool, error) {
	return z.b.expire(ctx, ttl)
}

// TTL returns the sorted set's remaining time to live (PTTL): the time left
// and true for a key with an expiry, 0 and true for a key without one,
// and 0 and false when there is no such key (as cache.Cache.TTL).
func (z *SortedSet[T]) TTL(ctx context.Context) (ttl time.Duration, ok bool, err error) {
	return z.b.ttl(ctx)
}

// Persist removes the sorted set's expiry and reports whether it had one.
func (z *SortedSet[T]) Persist(ctx context.Context) (bool, error) { return z.b.persist(ctx) }

// Delete removes the sorted set (UNLINK) and reports whether it existed.
func (z *SortedSet[T]) Delete(ctx context.Context) (bool, error) { return z.b.delete(ctx) }
