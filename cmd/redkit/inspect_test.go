package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/cache"
	"github.com/redkit-go/redkit/lock"
	"github.com/redkit-go/redkit/queue"
	"github.com/redkit-go/redkit/redistest"
)

// populate writes a held lock, a queue with a waiting and an in-flight
// job, a cache entry, a stream with a group, sessions and a key of the
// application's own, all under prefix "app:", through the real packages
// where there is one.
func populate(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	k, err := redkit.Open(ctx, redkit.Config{URL: url, KeyPrefix: "app:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })

	l := lock.New(k, nil)
	t.Cleanup(func() { l.Close() })
	if _, err := l.TryAcquire(ctx, "orders", time.Minute); err != nil {
		t.Fatal(err)
	}
	free, err := l.TryAcquire(ctx, "free{1}", time.Minute) // a name that needs escaping
	if err != nil {
		t.Fatal(err)
	}
	if err := free.Release(ctx); err != nil {
		t.Fatal(err)
	}

	if _, err := l.RWMutex("menu-doc").RLock(ctx, time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Semaphore("ovens", 3).Acquire(ctx, time.Minute, nil); err != nil {
		t.Fatal(err)
	}

	q := queue.NewPriority[string](k, "kitchen", nil)
	for _, v := range []string{"margherita", "diavola"} {
		if _, err := q.Push(ctx, v, 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Pop(ctx, "oven-1"); err != nil {
		t.Fatal(err)
	}

	c := cache.New[string](k, "menu", nil)
	t.Cleanup(func() { c.Close() })
	if err := c.Set(ctx, "margherita", "tomato, mozzarella", time.Minute); err != nil {
		t.Fatal(err)
	}

	for _, cmd := range [][]string{
		{"XADD", "app:orders-stream", "*", "order", "1"},
		{"XADD", "app:orders-stream", "*", "order", "2"},
		{"XGROUP", "CREATE", "app:orders-stream", "kitchen", "0"},
		{"SET", "app:session:abc", "{}"},
		{"SET", "app:session:def", "{}"},
		{"SADD", "app:session:user:42", "abc", "def"},
		{"HSET", "app:profile:42", "name", "Mario"},
		{"SET", "other:key", "not under the prefix"},
	} {
		if err := k.Client().Do(ctx, k.B().Arbitrary(cmd[0]).Args(cmd[1:]...).Build()).Error(); err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
	}
}

func TestInspect(t *testing.T) {
	srv := redistest.Start(t, nil)
	populate(t, srv.URL())
	in := inspectJSON(t, srv.URL())
	checkInspection(t, in)

	code, stdout, stderr := runCLI(t, "inspect", "--url", srv.URL(), "--prefix", "app:")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	t.Logf("inspect output:\n%s", stdout)
	for _, want := range []string{"LOCKS", "orders", "held", "QUEUES", "kitchen", "STREAMS", "SESSIONS", "CACHES", "menu", "OTHER", "profile"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestInspectPrefixFromEnv(t *testing.T) {
	srv := redistest.Start(t, nil)
	populate(t, srv.URL())
	t.Setenv("REDIS_KEY_PREFIX", "app:") // applies with --url too
	code, stdout, stderr := runCLI(t, "inspect", "--json", "--url", srv.URL())
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var in Inspection
	if err := json.Unmarshal([]byte(stdout), &in); err != nil {
		t.Fatal(err)
	}
	if in.Prefix != "app:" {
		t.Errorf("prefix %q, want app:", in.Prefix)
	}
	checkInspection(t, &in)

	// An explicit empty prefix inspects every key, the one outside app: too.
	code, stdout, _ = runCLI(t, "inspect", "--json", "--url", srv.URL(), "--prefix", "")
	in = Inspection{}
	if err := json.Unmarshal([]byte(stdout), &in); code != exitOK || err != nil {
		t.Fatalf("exit %d, %v", code, err)
	}
	if in.Prefix != "" || in.Scanned < 16 {
		t.Errorf("prefix %q scanned %d", in.Prefix, in.Scanned)
	}
}

func TestInspectCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3, 0)
	url := "redis://" + strings.Join(c.Addrs(), ",")
	populate(t, url)
	in := inspectJSON(t, url)
	if in.Nodes != 3 {
		t.Errorf("nodes %d, want 3", in.Nodes)
	}
	checkInspection(t, in)
}

func inspectJSON(t *testing.T, url string) *Inspection {
	t.Helper()
	code, stdout, stderr := runCLI(t, "inspect", "--json", "--url", url, "--prefix", "app:")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var in Inspection
	if err := json.Unmarshal([]byte(stdout), &in); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	return &in
}

func checkInspection(t *testing.T, in *Inspection) {
	t.Helper()
	locks := map[string]LockInfo{}
	for _, l := range in.Locks {
		locks[l.Kind+":"+l.Name] = l
	}
	if l := locks["lock:orders"]; !l.Held || l.State != "held" || l.Fence <= 0 || l.TTLMS <= 0 || l.TTLMS > 60000 {
		t.Errorf("lock orders: %+v (all: %+v)", l, in.Locks)
	}
	if l := locks["lock:free{1}"]; l.Held || l.Fence <= 0 || l.TTLMS != -2 {
		t.Errorf("lock free{1}: %+v (all: %+v)", l, in.Locks)
	}
	if l := locks["rwlock:menu-doc"]; !l.Held || l.State != "read-held" || l.Holders != 1 || l.TTLMS <= 0 {
		t.Errorf("rwlock menu-doc: %+v (all: %+v)", l, in.Locks)
	}
	if l := locks["semaphore:ovens"]; !l.Held || l.Holders != 1 || l.TTLMS <= 0 {
		t.Errorf("semaphore ovens: %+v (all: %+v)", l, in.Locks)
	}
	if len(in.Queues) != 1 || in.Queues[0] != (QueueInfo{Name: "kitchen", Waiting: 1, InFlight: 1}) {
		t.Errorf("queues: %+v", in.Queues)
	}
	if len(in.Streams) != 1 || in.Streams[0].Key != "app:orders-stream" || in.Streams[0].Length != 2 ||
		len(in.Streams[0].Groups) != 1 || in.Streams[0].Groups[0].Name != "kitchen" || in.Streams[0].Groups[0].Lag != 2 {
		t.Errorf("streams: %+v", in.Streams)
	}
	if s := in.Sessions; s.Keys != 2 || s.Indexes != 1 || len(s.Users) != 1 || s.Users[0] != (UserInfo{User: "42", Sessions: 2}) {
		t.Errorf("sessions: %+v", s)
	}
	if len(in.Caches) != 1 || in.Caches[0].Name != "menu" || in.Caches[0].Entries != 1 {
		t.Errorf("caches: %+v", in.Caches)
	}
	if len(in.Other) != 1 || in.Other[0] != (OtherInfo{Group: "profile", Type: "hash", Count: 1}) {
		t.Errorf("other: %+v", in.Other)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		rel, typ         string
		kind, name, part string
	}{
		{"lock:{orders}", "string", "lock", "orders", partHolder},
		{"lock:{orders}:fence", "string", "lock", "orders", partFence},
		{"lock:{a%7Bb%7D}:q", "list", "lock", "a{b}", partWaiters},
		{"lock:{%}", "string", "lock", "", partHolder},
		{"rwlock:{doc}:r", "zset", "rwlock", "doc", partReaders},
		{"semaphore:{ovens}", "zset", "semaphore", "ovens", partHolder},
		{"queue:{kitchen}:ready", "zset", "queue", "kitchen", partWaiting},
		{"queue:{kitchen}:dead", "zset", "queue", "kitchen", partDead},
		{"queue:{kitchen}:new", "zset", "queue", "kitchen", "new"},
		{"session:abc", "string", "session", "abc", "session"},
		{"session:user:42", "set", "session", "42", "index"},
		{"menu:margherita", "string", "cache", "menu", "entry"},
		{"menu#tag:veg", "set", "cache", "menu", "tag"},
		{"a%3Ab:x", "string", "cache", "a:b", "entry"},
		{"events", "stream", "stream", "events", ""},
		{"lock:notbraced", "string", "cache", "lock", "entry"}, // not a lock: a cache named lock
		{"plain", "string", "other", "plain", ""},
		{"profile:42", "hash", "other", "profile", ""},
	} {
		ki := classify(tc.rel, tc.typ)
		if ki.kind != tc.kind || ki.name != tc.name || ki.part != tc.part {
			t.Errorf("classify(%q, %s) = %s/%q/%s, want %s/%q/%s", tc.rel, tc.typ, ki.kind, ki.name, ki.part, tc.kind, tc.name, tc.part)
		}
	}
}
