package cache_test

import (
	"testing"
	"time"

	"github.com/redkit-go/redkit/cache"
	"github.com/redkit-go/redkit/redistest"
)

// TestCluster runs the cluster cases on one 3-master, 3-replica cluster.
func TestCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 1)
	exists := func(key string) bool {
		n, err := cl.MasterFor(key).Do("EXISTS", key)
		if err != nil {
			t.Fatal(err)
		}
		return n == "1"
	}
	do := func(args ...string) (string, error) { return cl.MasterFor(args[1]).Do(args...) }

	t.Run("NearInvalidation", func(t *testing.T) {
		a, b := twoInstances(t, cl.Addrs())
		testNearInvalidation(t, a, b, do)
	})
	t.Run("DeleteByPattern", func(t *testing.T) {
		k := openKit(t, prefixFor(t), cl.Addrs(), nil)
		// The keys must be spread over every master for the test to mean
		// anything.
		c := cache.New[string](k, "pages", nil)
		seen := map[int]bool{}
		for i := range 300 {
			seen[cl.MasterFor(c.Key("user:"+itoa(i))).Port()] = true
		}
		if len(seen) != 3 {
			t.Fatalf("test keys land on %d masters; want 3", len(seen))
		}
		testDeleteByPattern(t, k, exists)
	})
	t.Run("Tags", func(t *testing.T) {
		testTags(t, openKit(t, prefixFor(t), cl.Addrs(), nil), exists)
	})
	t.Run("ManyExistsDelete", func(t *testing.T) {
		k := openKit(t, prefixFor(t), cl.Addrs(), nil)
		for _, opts := range []*cache.Options{nil, nearOpts()} {
			c := cache.New[user](k, map[bool]string{true: "plain", false: "near"}[opts == nil], opts)
			defer c.Close()
			testManyExistsDelete(t, c)
		}
	})
	t.Run("Distributed", func(t *testing.T) {
		testDistributed(t, cl.Addrs())
	})
	t.Run("EarlyRefreshAndNegative", func(t *testing.T) {
		k := openKit(t, prefixFor(t), cl.Addrs(), nil)
		c := cache.New[user](k, "x", &cache.Options{EarlyRefresh: 1, NegativeTTL: time.Minute, NearCache: &cache.NearCacheOptions{}})
		defer c.Close()
		ctx := t.Context()
		v, err := c.GetOrSet(ctx, "k", func(ctx2 contextT) (user, error) { return user{1, "a"}, nil }, time.Minute)
		if err != nil || v.ID != 1 {
			t.Fatalf("GetOrSet = %v, %v", v, err)
		}
		for range 3 {
			if v, ok, err := c.Get(ctx, "k"); err != nil || !ok || v.ID != 1 {
				t.Fatalf("Get = %v, %v, %v", v, ok, err)
			}
		}
	})
}
