package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/codec"
	"github.com/redkit-go/redkit/collection"
	"github.com/redkit-go/redkit/queue"
)

func init() {
	register(Suite{Name: "collection", Title: "Typed collections and the priority queue (collection, queue)", Run: runCollection})
}

const (
	collMembers = 1000 // members of the set, fields of the hash, players on the board
	collTop     = 10   // leaderboard page
)

var errCollMismatch = errors.New("collection: unexpected result")

// collItem is the struct element: typed calls encode and decode it with
// the Kit's codec (JSON), the raw variants with codec.Encode/Decode.
type collItem struct {
	ID    int     `json:"id"`
	Name  string  `json:"name"`
	Price float64 `json:"price"`
}

type collClients struct {
	kit      *redkit.Kit
	raw      rueidis.Client // rueidis with the Kit's engine settings
	f        codec.Format
	deadline context.Context // with a deadline (and so cancellable: the Kit keeps it on the pipeline)

	items   []collItem
	encoded []string // items[i] encoded, for the raw variants' reads
	fields  []string
	players []string

	set   *collection.Set[collItem]
	hash  *collection.Hash[collItem]
	board *collection.SortedSet[string]
}

func openCollection(env *Env, cl *closers) (*collClients, error) {
	c := &collClients{}
	prefix := env.KeyPrefix("collection")
	var err error
	if c.kit, err = env.OpenKit(redkit.Config{KeyPrefix: prefix}); err != nil {
		return nil, err
	}
	cl.add(func() { c.kit.Close() })
	if c.raw, err = env.OpenRueidis(env.KitEngineOption(c.kit)); err != nil {
		return nil, err
	}
	cl.add(c.raw.Close)
	ctx, cancel := context.WithTimeout(env.ctx, 24*time.Hour)
	cl.add(cancel)
	c.deadline = ctx
	c.f = c.kit.Format()

	c.set = collection.NewSet[collItem](c.kit, "set")
	c.hash = collection.NewHash[collItem](c.kit, "hash")
	c.board = collection.NewSortedSet[string](c.kit, "board")
	for _, k := range []string{c.set.Key(), c.hash.Key(), c.board.Key()} {
		if err := c.raw.Do(env.ctx, c.raw.B().Del().Key(k).Build()).Error(); err != nil {
			return nil, err
		}
	}
	fields := map[string]collItem{}
	scores := map[string]float64{}
	for i := range collMembers {
		it := collItem{ID: i, Name: "pizza-" + strconv.Itoa(i), Price: 5 + float64(i%20)/2}
		b, err := codec.Encode(c.f, it)
		if err != nil {
			return nil, err
		}
		c.items = append(c.items, it)
		c.encoded = append(c.encoded, string(b))
		c.fields = append(c.fields, "f"+strconv.Itoa(i))
		c.players = append(c.players, "player-"+strconv.Itoa(i))
		fields[c.fields[i]] = it
		scores[c.players[i]] = float64(i * 7 % 1000)
	}
	if _, err := c.set.Add(env.ctx, c.items...); err != nil {
		return nil, err
	}
	if err := c.hash.SetMany(env.ctx, fields); err != nil {
		return nil, err
	}
	if _, err := c.board.AddMany(env.ctx, scores); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *collClients) idx(g, i int) int { return (g*131 + i) % collMembers }

// Variants of one operation, in this order.
const (
	collKit         = 0
	collKitDeadline = 1
	collRaw         = 2 // the baseline
)

type collOp struct {
	name     string
	variants []Variant
}

func (c *collClients) ops() []collOp {
	raw, f := c.raw, c.f
	setKey, hashKey, boardKey := c.set.Key(), c.hash.Key(), c.board.Key()

	contains := func(ctx context.Context, g, i int) error {
		ok, err := c.set.Contains(ctx, c.items[c.idx(g, i)])
		if err == nil && !ok {
			return errCollMismatch
		}
		return err
	}
	hget := func(ctx context.Context, g, i int) error {
		j := c.idx(g, i)
		v, ok, err := c.hash.Get(ctx, c.fields[j])
		if err == nil && (!ok || v.ID != j) {
			return errCollMismatch
		}
		return err
	}
	top := func(ctx context.Context, _, _ int) error {
		ms, err := c.board.Range(ctx, 0, collTop-1, true)
		if err == nil && len(ms) != collTop {
			return errCollMismatch
		}
		return err
	}
	incr := func(ctx context.Context, g, i int) error {
		_, err := c.board.IncrBy(ctx, c.players[c.idx(g, i)], 1)
		return err
	}
	withDeadline := func(op Op) Op {
		return func(_ context.Context, g, i int) error { return op(c.deadline, g, i) }
	}
	variants := func(typed Op, rawOp Op) []Variant {
		return []Variant{
			collKit:         {"redkit collection", typed},
			collKitDeadline: {"redkit collection, ctx with deadline", withDeadline(typed)},
			collRaw:         {"rueidis + codec, Kit's engine settings", rawOp},
		}
	}
	return []collOp{
		{"Set.Contains (SISMEMBER, struct)", variants(contains, func(ctx context.Context, g, i int) error {
			b, err := codec.Encode(f, c.items[c.idx(g, i)])
			if err != nil {
				return err
			}
			ok, err := raw.Do(ctx, raw.B().Sismember().Key(setKey).Member(unsafe.String(unsafe.SliceData(b), len(b))).Build()).AsBool()
			if err == nil && !ok {
				return errCollMismatch
			}
			return err
		})},
		{"Hash.Get (HGET, struct)", variants(hget, func(ctx context.Context, g, i int) error {
			j := c.idx(g, i)
			b, err := raw.Do(ctx, raw.B().Hget().Key(hashKey).Field(c.fields[j]).Build()).AsBytes()
			if err != nil {
				return err
			}
			v, err := codec.Decode[collItem](f, b)
			if err == nil && v.ID != j {
				return errCollMismatch
			}
			return err
		})},
		{fmt.Sprintf("SortedSet.Range top %d with scores and ranks", collTop), variants(top, func(ctx context.Context, _, _ int) error {
			zs, err := raw.Do(ctx, raw.B().Zrange().Key(boardKey).Min("0").Max(strconv.Itoa(collTop-1)).Rev().Withscores().Build()).AsZScores()
			if err != nil {
				return err
			}
			out := make([]collection.Member[string], len(zs))
			for i, z := range zs {
				v, err := codec.Decode[string](f, unsafe.Slice(unsafe.StringData(z.Member), len(z.Member)))
				if err != nil {
					return err
				}
				out[i] = collection.Member[string]{Value: v, Score: z.Score, Rank: int64(i)}
			}
			if len(out) != collTop {
				return errCollMismatch
			}
			return nil
		})},
		{"SortedSet.IncrBy (ZINCRBY)", variants(incr, func(ctx context.Context, g, i int) error {
			return raw.Do(ctx, raw.B().Zincrby().Key(boardKey).Increment(1).Member(c.players[c.idx(g, i)]).Build()).Error()
		})},
	}
}

// queueVariants: one op is a whole job cycle, Push then Pop then Ack.
// The reference is the classic reliable list queue on plain rueidis
// (LPUSH, LMOVE to a processing list, LREM): no priorities, no visibility
// timeout, nothing returns a dead worker's jobs — less work, for scale.
func queueVariants(kit *redkit.Kit, raw rueidis.Client, prefix string) []Variant {
	q := queue.NewPriority[collItem](kit, "bench", nil)
	item := collItem{ID: 1, Name: "margherita", Price: 8.5}
	f := kit.Format()
	src, dst := prefix+"{rq}:ready", prefix+"{rq}:processing"
	return []Variant{
		{"redkit queue.Priority: Push, Pop, Ack", func(ctx context.Context, g, _ int) error {
			if _, err := q.Push(ctx, item, float64(g%3)); err != nil {
				return err
			}
			job, err := q.Pop(ctx, "bench")
			if err != nil {
				return err
			}
			return job.Ack(ctx)
		}},
		{"rueidis LPUSH, LMOVE, LREM + codec", func(ctx context.Context, _, _ int) error {
			b, err := codec.Encode(f, item)
			if err != nil {
				return err
			}
			if err := raw.Do(ctx, raw.B().Lpush().Key(src).Element(unsafe.String(unsafe.SliceData(b), len(b))).Build()).Error(); err != nil {
				return err
			}
			got, err := raw.Do(ctx, raw.B().Lmove().Source(src).Destination(dst).Right().Left().Build()).ToString()
			if err != nil {
				return err
			}
			if _, err := codec.Decode[collItem](f, []byte(got)); err != nil {
				return err
			}
			return raw.Do(ctx, raw.B().Lrem().Key(dst).Count(1).Element(got).Build()).Error()
		}},
	}
}

func runCollection(env *Env) (*Section, error) {
	var cl closers
	defer cl.closeAll()
	c, err := openCollection(env, &cl)
	if err != nil {
		return nil, err
	}
	gs := []int{16, 128}
	if env.Quick {
		gs = []int{128}
	}
	sec := &Section{Intro: fmt.Sprintf(`
Typed operations of package collection against the same commands sent with
plain rueidis (the Kit's engine settings) plus codec.Encode/Decode by hand —
what the typed wrapper costs. Elements are a small struct (JSON, the default
codec); the set and the hash hold %d of them, the leaderboard %d players. The
collection calls run through the Kit (breaker, statistics, the CommandTimeout
watchdog, the direct path for a lone call with context.Background()). Then the queue: one op is a full job cycle (Push,
Pop, Ack: three Lua scripts) on one queue shared by every goroutine, next to
the classic reliable-list pattern on plain rueidis for scale. ops/s is the
median of %d rounds of %s.`, collMembers, collMembers, env.Rounds, env.Duration)}

	ratios := Table{Caption: "Typed / raw throughput:", Header: []string{"operation", "goroutines", "redkit / rueidis+codec", "ctx with deadline / rueidis+codec"}}
	at128 := map[string]float64{}
	for _, op := range c.ops() {
		t := ResultTable(op.name+":", "rueidis + codec")
		for _, g := range gs {
			env.Logf("collection %s, %d goroutines", op.name, g)
			res := env.Compare(g, op.variants...)
			t.AddResults(res, collRaw)
			ratios.AddRow(op.name, g, fmtRatio(res[collKit].Ratio(res[collRaw])), fmtRatio(res[collKitDeadline].Ratio(res[collRaw])))
			if g == 128 {
				at128[op.name] = res[collKit].Ratio(res[collRaw])
			}
			if env.ctx.Err() != nil {
				return nil, env.ctx.Err()
			}
		}
		sec.Tables = append(sec.Tables, t)
	}
	sec.Tables = append(sec.Tables, ratios)
	for _, op := range c.ops() {
		if r, ok := at128[op.name]; ok {
			sec.Targets = append(sec.Targets, Target{
				What: op.name + ", 128 goroutines: redkit/rueidis+codec", Ratio: r, Min: 0.9})
		}
	}

	qt := ResultTable("Queue, one op = Push + Pop + Ack:", "rueidis list queue")
	qv := queueVariants(c.kit, c.raw, env.KeyPrefix("collection"))
	var qres []Result
	for _, g := range []int{8, 128} {
		env.Logf("collection queue cycle, %d goroutines", g)
		qres = env.Compare(g, qv...)
		qt.AddResults(qres, 1)
	}
	sec.Tables = append(sec.Tables, qt)
	if len(qres) == 2 {
		sec.Notes = append(sec.Notes, fmt.Sprintf(
			"Queue at 128 goroutines: %s job cycles/s (%s scripts/s); the plain list queue does %s cycles/s "+
				"without priorities, visibility timeouts or redelivery.",
			fmtOps(qres[0].OpsPerSec), fmtOps(3*qres[0].OpsPerSec), fmtOps(qres[1].OpsPerSec)))
	}
	if n, err := queue.NewPriority[collItem](c.kit, "bench", nil).InFlight(env.ctx); err == nil && n > 0 {
		sec.Notes = append(sec.Notes, fmt.Sprintf("%d jobs left in flight (a cycle cut off at the end of a round)", n))
	}
	sec.Notes = append(sec.Notes, strings.TrimSpace(`
Leaderboard reads are one round trip in both columns: Range is ZRANGE … REV
WITHSCORES, ranks are computed from the start index; the reference designs
fetch each member's score separately (N+1).`))
	return sec, nil
}
