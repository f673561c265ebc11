package pubsub_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/pubsub"
	"github.com/redkit-go/redkit/redistest"
)

// TestTopicCluster runs sharded pub/sub on a 3-master cluster with one
// replica each: channels over every master deliver, and a subscription
// follows its slot when it is migrated or its master fails over.
func TestTopicCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 1)
	t.Run("AllSlots", func(t *testing.T) { testClusterAllSlots(t, cl) })
	t.Run("SlotMigrated", func(t *testing.T) { testClusterSlotMigrated(t, cl) })
	t.Run("Failover", func(t *testing.T) { testClusterFailover(t, cl) })
	t.Run("ClassicPattern", func(t *testing.T) { testClusterClassicPattern(t, cl) })
}

func clusterKit(t *testing.T, cl *redistest.Cluster) *redkit.Kit {
	t.Helper()
	k := open(t, cl.Addrs()[:1]...)
	if k.Mode() != "cluster" {
		t.Fatalf("Mode = %q, want cluster", k.Mode())
	}
	return k
}

func shardNumsub(t *testing.T, srv *redistest.Server, channel string) string {
	t.Helper()
	v, err := srv.Do("PUBSUB", "SHARDNUMSUB", channel)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func testClusterAllSlots(t *testing.T, cl *redistest.Cluster) {
	k := clusterKit(t, cl)
	const n = 24
	masters := map[string]bool{}
	var counts [n]atomic.Int64
	for i := range n {
		name := "room:" + strconv.Itoa(i)
		masters[cl.MasterFor(k.Key(name)).Addr()] = true
		sub, err := pubsub.NewTopic[int](k, name).Subscribe(t.Context(), func(_ context.Context, m pubsub.Message[int]) error {
			if m.Channel != name || m.Payload != i {
				t.Errorf("room %d got %+v", i, m)
			}
			counts[i].Add(1)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
	}
	if len(masters) != 3 {
		t.Fatalf("the channels hash to %d masters, want all 3", len(masters))
	}
	for i := range n {
		recv, err := pubsub.NewTopic[int](k, "room:"+strconv.Itoa(i)).Publish(t.Context(), i)
		if err != nil || recv != 1 {
			t.Fatalf("Publish(room:%d) = %d, %v; want 1 receiver (SPUBLISH on its shard)", i, recv, err)
		}
	}
	eventually(t, "every room's message", func() bool {
		for i := range n {
			if counts[i].Load() != 1 {
				return false
			}
		}
		return true
	})
	name := k.Key("room:0")
	if got := shardNumsub(t, cl.MasterFor(name), name); got != fmt.Sprintf("[%s 1]", name) {
		t.Errorf("PUBSUB SHARDNUMSUB on the channel's master = %s, want one subscription", got)
	}
}

// movingSub subscribes to channel and returns the subscription and a
// func publishing until a message with a new value arrives.
func movingSub(t *testing.T, k *redkit.Kit, channel string) (*pubsub.Subscription, func(what string)) {
	t.Helper()
	topic := pubsub.NewTopic[int](k, channel)
	var last atomic.Int64
	var gapMu sync.Mutex
	var gapCauses []error
	sub, err := topic.SubscribeWith(t.Context(), func(_ context.Context, m pubsub.Message[int]) error {
		last.Store(int64(m.Payload))
		return nil
	}, &pubsub.SubscribeOptions{OnGap: func(_ context.Context, g pubsub.Gap) {
		gapMu.Lock()
		gapCauses = append(gapCauses, g.Cause)
		gapMu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	next := 0
	deliver := func(what string) {
		t.Helper()
		next += 1000
		want := next
		eventually(t, what, func() bool {
			if last.Load() >= int64(want) {
				return true
			}
			_, _ = topic.Publish(t.Context(), next)
			next++
			time.Sleep(20 * time.Millisecond)
			return false
		})
	}
	deliver("a message before the move")
	return sub, deliver
}

func testClusterSlotMigrated(t *testing.T, cl *redistest.Cluster) {
	k := clusterKit(t, cl)
	const channel = "moving"
	full := k.Key(channel)
	sub, deliver := movingSub(t, k, channel)

	src := cl.MasterFor(full)
	var dst *redistest.Server
	for _, m := range cl.Masters() {
		if m != src {
			dst = m
			break
		}
	}
	slot, err := src.Do("CLUSTER", "KEYSLOT", full)
	if err != nil {
		t.Fatal(err)
	}
	srcID, err1 := src.Do("CLUSTER", "MYID")
	dstID, err2 := dst.Do("CLUSTER", "MYID")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	// The slot holds no keys: no MIGRATE needed.
	for _, step := range []struct {
		srv  *redistest.Server
		args []string
	}{
		{dst, []string{"CLUSTER", "SETSLOT", slot, "IMPORTING", srcID}},
		{src, []string{"CLUSTER", "SETSLOT", slot, "MIGRATING", dstID}},
		{dst, []string{"CLUSTER", "SETSLOT", slot, "NODE", dstID}},
		{src, []string{"CLUSTER", "SETSLOT", slot, "NODE", dstID}},
	} {
		if _, err := step.srv.Do(step.args...); err != nil {
			t.Fatalf("%v on %s: %v", step.args, step.srv.Addr(), err)
		}
	}
	if err := cl.WaitReady(t); err != nil {
		t.Fatal(err)
	}
	if got := cl.MasterFor(full); got != dst {
		t.Fatalf("slot %s is on %s after the migration, want %s", slot, got.Addr(), dst.Addr())
	}
	deliver("a message after the slot moved")
	if g := sub.Stats().Gaps; g < 1 {
		t.Errorf("Gaps = %d after a slot migration, want ≥ 1", g)
	}
	if got := shardNumsub(t, dst, full); got != fmt.Sprintf("[%s 1]", full) {
		t.Errorf("PUBSUB SHARDNUMSUB on the new owner = %s, want one subscription", got)
	}
	if got := shardNumsub(t, src, full); got != fmt.Sprintf("[%s 0]", full) {
		t.Errorf("PUBSUB SHARDNUMSUB on the old owner = %s, want none", got)
	}
}

func testClusterFailover(t *testing.T, cl *redistest.Cluster) {
	k := clusterKit(t, cl)
	const channel = "failing"
	full := k.Key(channel)
	sub, deliver := movingSub(t, k, channel)
	old := cl.MasterFor(full)
	nm := cl.Failover(t, old)
	deliver("a message after the failover")
	if g := sub.Stats().Gaps; g < 1 {
		t.Errorf("Gaps = %d after a failover, want ≥ 1", g)
	}
	// The new subscription may be on the new master or on the old one,
	// now its replica (replicas of a shard get its messages too), but
	// there is exactly one.
	total := 0
	for _, n := range cl.Nodes() {
		if got := shardNumsub(t, n, full); got == fmt.Sprintf("[%s 1]", full) {
			total++
		} else if got != fmt.Sprintf("[%s 0]", full) {
			t.Errorf("PUBSUB SHARDNUMSUB on %s = %s", n.Addr(), got)
		}
	}
	if total != 1 {
		t.Errorf("%d nodes hold a subscription to %s after the failover (new master %s), want exactly 1", total, full, nm.Addr())
	}
}

func testClusterClassicPattern(t *testing.T, cl *redistest.Cluster) {
	k := clusterKit(t, cl)
	var c collector[string]
	sub, err := pubsub.SubscribePattern(t.Context(), k, "data:changes:*", c.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	classic := pubsub.NewTopicWith[string](k, "data:changes:user", &pubsub.TopicOptions{Classic: true})
	if _, err := classic.Publish(t.Context(), "u1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the classic message through the pattern", func() bool { return c.len() == 1 })
	if m := c.all()[0]; m.Channel != "data:changes:user" || m.Payload != "u1" || m.Pattern != "data:changes:*" {
		t.Errorf("got %+v", m)
	}
}

// TestTopicSentinel: classic pub/sub through Sentinel keeps delivering
// after a failover.
func TestTopicSentinel(t *testing.T) {
	s := redistest.StartSentinel(t, 1)
	k, err := redkit.Open(t.Context(), redkit.Config{URL: s.URL(), KeyPrefix: "pst:sentinel:"})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if k.Mode() != "sentinel" {
		t.Fatalf("Mode = %q, want sentinel", k.Mode())
	}
	sub, deliver := movingSub(t, k, "news")
	s.Failover(t)
	deliver("a message after the failover")
	t.Logf("Stats after the failover: %+v", sub.Stats())
	// PUBLISH propagates to replicas, so a subscription left on the old
	// master (now a replica) still gets the messages; what must hold is
	// one subscription in all.
	total := 0
	for _, n := range s.Nodes() {
		v, err := n.Do("PUBSUB", "NUMSUB", k.Key("news"))
		if err != nil {
			t.Fatal(err)
		}
		if v == fmt.Sprintf("[%s 1]", k.Key("news")) {
			total++
		}
	}
	if total != 1 {
		t.Errorf("%d nodes hold a subscription after the failover, want 1", total)
	}
}
