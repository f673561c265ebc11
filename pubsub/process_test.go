package pubsub_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/pubsub"
)

// Environment of the helper process.
const (
	envRole   = "PUBSUB_TEST_ROLE"
	envAddrs  = "PUBSUB_TEST_ADDRS"
	envPrefix = "PUBSUB_TEST_PREFIX"
	envStream = "PUBSUB_TEST_STREAM"
)

// childHandles is how many entries the consumer process handles before
// it hangs, mid-batch, until it is killed.
const childHandles = 3

// TestHelperProcess is not a test: testStreamConsumerKilled re-runs the
// test binary with it as a consumer process that handles a few entries
// of a batch (printing "GOT n" for each), then prints HANG and hangs
// inside its handler until it is killed.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(envRole) != "consumer" {
		t.Skip("helper process, run by testStreamConsumerKilled")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k, err := redkit.Open(ctx, redkit.Config{Addrs: strings.Split(os.Getenv(envAddrs), ","), KeyPrefix: os.Getenv(envPrefix)})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	s := pubsub.NewStream[int](k, os.Getenv(envStream), &pubsub.StreamOptions{Batch: 10, ClaimIdle: time.Hour})
	n := 0
	err = s.Consume(ctx, "workers", fmt.Sprintf("child-%d", os.Getpid()), func(_ context.Context, m pubsub.Message[int]) error {
		if n == childHandles {
			fmt.Println("HANG")
			time.Sleep(time.Hour) // the parent kills us here
		}
		n++
		fmt.Println("GOT", m.Payload)
		return nil
	})
	fmt.Println("ERROR", err)
	os.Exit(3)
}

func testStreamConsumerKilled(t *testing.T, e streamEnv) {
	const name, n = "killed", 50
	s := pubsub.NewStream[int](e.k, name, &pubsub.StreamOptions{ClaimIdle: 300 * time.Millisecond, Batch: 10})
	publishN(t, s, 0, n)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envRole+"=consumer", envAddrs+"="+strings.Join(e.addrs, ","),
		envPrefix+"="+e.k.Key(), envStream+"="+name)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var childGot []int
	hung := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			l := sc.Text()
			switch {
			case strings.HasPrefix(l, "GOT "):
				v, _ := strconv.Atoi(strings.TrimPrefix(l, "GOT "))
				childGot = append(childGot, v)
			case l == "HANG":
				hung <- nil
				for sc.Scan() {
				}
				return
			case strings.HasPrefix(l, "ERROR"):
				hung <- fmt.Errorf("consumer process: %s", l)
				return
			}
		}
		hung <- fmt.Errorf("consumer process ended: %v", sc.Err())
	}()
	select {
	case err := <-hung:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the consumer process did not get its batch within 60s")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(childGot) != childHandles {
		t.Fatalf("the child handled %v, want %d entries", childGot, childHandles)
	}
	if in := info(t, s, "workers"); in.Pending < 10-childHandles {
		t.Fatalf("Pending = %d after the kill; want at least the %d entries of its batch it never handled", in.Pending, 10-childHandles)
	}

	var mu sync.Mutex
	seen := map[int]int{}
	h := func(_ context.Context, m pubsub.Message[int]) error {
		mu.Lock()
		seen[m.Payload]++
		mu.Unlock()
		return nil
	}
	consume(t, s, "workers", "survivor-1", h)
	consume(t, s, "workers", "survivor-2", h)
	eventually(t, "every entry handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for v := range n {
			if seen[v] == 0 && !contains(childGot, v) {
				return false
			}
		}
		return true
	})
	eventually(t, "nothing pending", func() bool { return info(t, s, "workers").Pending == 0 })
	mu.Lock()
	defer mu.Unlock()
	for v := range n {
		if !contains(childGot, v) && seen[v] != 1 {
			t.Errorf("entry %d handled %d times by the survivors, want once", v, seen[v])
		}
	}
	if st := s.Stats(); st.Reclaimed < 10-childHandles {
		t.Errorf("Reclaimed = %d, want ≥ %d (the dead consumer's batch)", st.Reclaimed, 10-childHandles)
	}
	// The dead consumer is never deleted with entries pending; once the
	// survivors have taken them, it has none.
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
