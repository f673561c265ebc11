package queue_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/leaktest"
	"github.com/redkit-go/redkit/queue"
	"github.com/redkit-go/redkit/redistest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// env is where a suite test runs: a Kit, and the addresses a child
// process uses to reach the same Redis.
type env struct {
	k     *redkit.Kit
	addrs []string
}

// suite runs on one node and on a cluster.
var suite = []struct {
	name string
	fn   func(t *testing.T, e env, name string)
}{
	{"RoundTrip", testRoundTrip},
	{"PriorityOrder", testPriorityOrder},
	{"Redelivery", testRedelivery},
	{"Nack", testNack},
	{"Delayed", testDelayed},
	{"PopWait", testPopWait},
	{"Extend", testExtend},
	{"Corrupt", testCorrupt},
	{"WrongType", testWrongType},
	{"ConcurrentWorkers", testConcurrentWorkers},
	{"WorkerProcessKilled", testWorkerProcessKilled},
}

func open(t *testing.T, addrs []string) *redkit.Kit {
	t.Helper()
	k, err := redkit.Open(t.Context(), redkit.Config{Addrs: addrs, KeyPrefix: "qt:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

func TestSingleNode(t *testing.T) {
	srv := redistest.Start(t, nil)
	e := env{k: open(t, []string{srv.Addr()}), addrs: []string{srv.Addr()}}
	for _, s := range suite {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			s.fn(t, e, "single-"+s.name)
		})
	}
}

func TestCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 0)
	addrs := cl.Addrs()[:1]
	e := env{k: open(t, addrs), addrs: addrs}
	if e.k.Mode() != "cluster" {
		t.Fatalf("Mode = %q, want cluster", e.k.Mode())
	}
	for _, s := range suite {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			s.fn(t, e, "cluster-"+s.name)
		})
	}
}

func wantIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want errors.Is %v", what, err, target)
	}
}

func mustPop[T any](t *testing.T, q *queue.Priority[T], worker string) *queue.Job[T] {
	t.Helper()
	job, err := q.Pop(t.Context(), worker)
	if err != nil {
		t.Fatalf("Pop(%s): %v", worker, err)
	}
	return job
}

func counts[T any](t *testing.T, q *queue.Priority[T], ready, inflight, delayed int64) {
	t.Helper()
	ctx := t.Context()
	r, err1 := q.Len(ctx)
	f, err2 := q.InFlight(ctx)
	d, err3 := q.Delayed(ctx)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	if r != ready || f != inflight || d != delayed {
		t.Fatalf("Len, InFlight, Delayed = %d, %d, %d; want %d, %d, %d", r, f, d, ready, inflight, delayed)
	}
}

// Environment of the helper process (a worker that pops a job and hangs
// until it is killed).
const (
	envRole  = "QUEUE_TEST_ROLE"
	envAddrs = "QUEUE_TEST_ADDRS"
	envName  = "QUEUE_TEST_NAME"
	envVis   = "QUEUE_TEST_VISIBILITY"
)

// TestHelperProcess is not a test: testWorkerProcessKilled re-runs the
// test binary with it as a worker process that pops one job, reports it
// on stdout and hangs, never acknowledging, until it is killed.
func TestHelperProcess(t *testing.T) {
	role := os.Getenv(envRole)
	if role == "scheduler" {
		schedulerProcess()
		return
	}
	if role != "worker" && role != "work" {
		t.Skip("helper process, run by testWorkerProcessKilled")
	}
	vis, err := time.ParseDuration(os.Getenv(envVis))
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k, err := redkit.Open(ctx, redkit.Config{Addrs: strings.Split(os.Getenv(envAddrs), ","), KeyPrefix: "qt:"})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	q := queue.NewPriority[int](k, os.Getenv(envName), &queue.Options{Visibility: vis})
	if role == "work" {
		// Work, with a handler that reports its job and hangs.
		err := q.Work(ctx, fmt.Sprintf("child-%d", os.Getpid()), func(ctx context.Context, job *queue.Job[int]) error {
			fmt.Printf("POPPED %s %d %d\n", job.ID, job.Value, job.Deadline.UnixMilli())
			time.Sleep(time.Hour)
			return nil
		}, &queue.WorkOptions{Concurrency: 1})
		fmt.Println("ERROR Work returned", err)
		os.Exit(2)
	}
	job, err := q.PopWait(ctx, fmt.Sprintf("child-%d", os.Getpid()))
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	fmt.Printf("POPPED %s %d %d\n", job.ID, job.Value, job.Deadline.UnixMilli())
	time.Sleep(time.Hour) // the parent kills us here
	os.Exit(3)
}

// startWorkerProcess runs the helper process on the queue called name and
// returns the ID, value and deadline of the job it popped, and the
// process, which it has not yet killed.
func startWorkerProcess(t *testing.T, e env, name string, vis time.Duration) (*exec.Cmd, string, int, time.Time) {
	t.Helper()
	return startChild(t, e, "worker", name, vis)
}

// startChild runs the helper process in role ("worker": PopWait, "work":
// Work) on the queue called name; see startWorkerProcess.
func startChild(t *testing.T, e env, role, name string, vis time.Duration) (*exec.Cmd, string, int, time.Time) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		envRole+"="+role, envAddrs+"="+strings.Join(e.addrs, ","), envName+"="+name, envVis+"="+vis.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "POPPED ") || strings.HasPrefix(l, "ERROR ") {
				lines <- l
				break
			}
		}
		// Drain the rest so the child never blocks on a full pipe; this
		// ends when the child is killed.
		for sc.Scan() {
		}
	}()
	select {
	case l, ok := <-lines:
		var id string
		var v int
		var ms int64
		if !ok || !strings.HasPrefix(l, "POPPED ") {
			t.Fatalf("worker process: %q", l)
		}
		if _, err := fmt.Sscanf(l, "POPPED %s %d %d", &id, &v, &ms); err != nil {
			t.Fatalf("worker process said %q: %v", l, err)
		}
		return cmd, id, v, time.UnixMilli(ms)
	case <-time.After(60 * time.Second):
		t.Fatal("worker process did not pop a job within 60s")
	}
	return nil, "", 0, time.Time{}
}
