package cache_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redkit-go/redkit/cache"
)

// benchUser is a small struct, the typical cached value.
type benchUser struct {
	ID    int      `json:"id"`
	Name  string   `json:"name"`
	Email string   `json:"email"`
	Roles []string `json:"roles"`
}

var benchValue = benchUser{42, "Ada Lovelace", "ada@example.com", []string{"admin", "dev"}}

func BenchmarkNearHit(b *testing.B) {
	_, k := single(b)
	c := cache.New[benchUser](k, "b", nearOpts())
	defer c.Close()
	ctx := context.Background()
	mustSet(b, c, "hot", benchValue, time.Hour)
	c.Get(ctx, "hot")
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, _ := c.Get(ctx, "hot"); !ok {
				b.Fatal("miss")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(64) // 128 goroutines on 2 cores
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Get(ctx, "hot")
			}
		})
	})
	load := func(context.Context) (benchUser, error) { return benchValue, nil }
	b.Run("GetOrSet/serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if v, _ := c.GetOrSet(ctx, "hot", load, time.Hour); v.ID != 42 {
				b.Fatal("wrong value")
			}
		}
	})
	b.Run("GetOrSet/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(64)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.GetOrSet(ctx, "hot", load, time.Hour)
			}
		})
	})
	// The floor: a sync.Map load of the decoded value's pointer, and the
	// copy a near hit returns.
	var floor sync.Map
	v := benchValue
	floor.Store("hot", &v)
	var sink atomic.Int64
	b.Run("syncMap/serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, _ := floor.Load("hot")
			if u := *p.(*benchUser); u.ID != 42 {
				b.Fatal("wrong value")
			}
		}
	})
	b.Run("syncMap/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(64)
		b.RunParallel(func(pb *testing.PB) {
			n := 0
			for pb.Next() {
				p, _ := floor.Load("hot")
				n += (*p.(*benchUser)).ID
			}
			sink.Add(int64(n))
		})
	})
	if c.Stats().RemoteHits != 1 {
		b.Fatalf("Stats = %+v; the near cache lost the hot key", c.Stats())
	}
}

// BenchmarkNearHitSpread reads 4,096 keys in turn, all in the near
// cache: the case where no key stays in the front table (they share its
// slots), so a hit costs the front's miss plus the tier's lookup.
func BenchmarkNearHitSpread(b *testing.B) {
	_, k := single(b)
	c := cache.New[benchUser](k, "b", nearOpts())
	defer c.Close()
	ctx := context.Background()
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
		mustSet(b, c, keys[i], benchValue, time.Hour)
		c.Get(ctx, keys[i])
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, ok, _ := c.Get(ctx, keys[i&4095]); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(64)
		var seq atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(seq.Add(997))
			for pb.Next() {
				c.Get(ctx, keys[i&4095])
				i++
			}
		})
	})
	if st := c.Stats(); st.RemoteHits != 4096 {
		b.Fatalf("Stats = %+v; want every read after the first a near hit", st)
	}
}

func BenchmarkRemoteGet(b *testing.B) {
	_, k := single(b)
	c := cache.New[benchUser](k, "b", nil)
	defer c.Close()
	ctx := context.Background()
	mustSet(b, c, "k", benchValue, time.Hour)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, err := c.Get(ctx, "k"); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(64)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Get(ctx, "k")
			}
		})
	})
}

// BenchmarkGetOrSetMiss measures the miss path: a remote miss, the
// shared load (recheck, load, SET) and the return; "distributed" adds the
// stampede lock (SET NX, re-read, compare-and-delete release).
func BenchmarkGetOrSetMiss(b *testing.B) {
	_, k := single(b)
	for _, name := range []string{"plain", "near", "distributed"} {
		b.Run(name, func(b *testing.B) {
			opts := &cache.Options{}
			switch name {
			case "near":
				opts.NearCache = &cache.NearCacheOptions{}
			case "distributed":
				opts.Stampede = cache.StampedeDistributed
			}
			c := cache.New[benchUser](k, "miss"+name, opts)
			defer c.Close()
			ctx := context.Background()
			load := func(context.Context) (benchUser, error) { return benchValue, nil }
			var i atomic.Int64
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.GetOrSet(ctx, strconv.FormatInt(i.Add(1), 10), load, time.Minute); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
