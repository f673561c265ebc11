package lock_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/lock"
	"github.com/redkit-go/redkit/redistest"
)

// Multi-process tests re-run the test binary as TestHelperProcess with
// LOCK_HELPER naming the role.
const (
	helperEnv = "LOCK_HELPER"
	addrEnv   = "LOCK_HELPER_ADDR"
	outEnv    = "LOCK_HELPER_OUT"
	roundsEnv = "LOCK_HELPER_ROUNDS"
)

func TestHelperProcess(t *testing.T) {
	switch os.Getenv(helperEnv) {
	case "":
		t.Skip("run by the multi-process tests")
	case "mutex":
		helperMutex(t)
	case "holder":
		helperHolder(t)
	default:
		t.Fatalf("unknown helper role %q", os.Getenv(helperEnv))
	}
}

// section is one critical section as a helper process saw it.
type section struct {
	Fence       int64
	Enter, Exit int64 // wall clock, ns
	Pid         int
}

const helperGoroutines = 8

// helperMutex runs helperGoroutines goroutines, each doing rounds critical
// sections of a non-atomic read-modify-write of a counter in Redis, and
// writes the sections as JSON lines to the file named by outEnv.
func helperMutex(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv(roundsEnv))
	k := testutil.OpenKit(t, "mp:", os.Getenv(addrEnv))
	l := lock.New(k, nil)
	defer l.Close()
	ctx := t.Context()
	counter := k.Key("counter")
	var (
		mu       sync.Mutex
		sections []section
		wg       sync.WaitGroup
	)
	for range helperGoroutines {
		wg.Go(func() {
			mine := make([]section, 0, rounds)
			for range rounds {
				m, err := l.Acquire(ctx, "counter", 30*time.Second, nil)
				if err != nil {
					t.Errorf("Acquire: %v", err)
					return
				}
				s := section{Fence: m.Fence(), Enter: time.Now().UnixNano(), Pid: os.Getpid()}
				v, err := k.Do(ctx, k.B().Get().Key(counter).Build())
				n := int64(0)
				switch {
				case rueidis.IsRedisNil(err):
				case err != nil:
					t.Errorf("GET: %v", err)
					return
				default:
					if n, err = v.AsInt64(); err != nil {
						t.Errorf("GET: %v", err)
						return
					}
				}
				if _, err := k.Do(ctx, k.B().Set().Key(counter).Value(strconv.FormatInt(n+1, 10)).Build()); err != nil {
					t.Errorf("SET: %v", err)
					return
				}
				s.Exit = time.Now().UnixNano()
				if err := m.Release(ctx); err != nil {
					t.Errorf("Release: %v", err)
					return
				}
				mine = append(mine, s)
			}
			mu.Lock()
			sections = append(sections, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	f, err := os.Create(os.Getenv(outEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	for _, s := range sections {
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
	}
}

// Mutual exclusion across 4 processes of 8 goroutines, with local
// handoffs (the default): 20,000 critical sections of a GET-then-SET
// counter. The counter must be exact, no two sections may overlap, the
// fences must increase in the order the sections ran, and most handoffs
// took no script call.
func TestMutualExclusionProcesses(t *testing.T) {
	const procs, total = 4, 20000
	rounds := total / (procs * helperGoroutines)
	if testing.Short() {
		rounds = 20
	}
	srv := redistest.Start(t, nil)
	dir := t.TempDir()
	cmds := make([]*exec.Cmd, procs)
	outs := make([]*strings.Builder, procs)
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.timeout=5m")
		cmd.Env = append(os.Environ(), helperEnv+"=mutex", addrEnv+"="+srv.Addr(),
			outEnv+"="+filepath.Join(dir, strconv.Itoa(i)+".jsonl"), roundsEnv+"="+strconv.Itoa(rounds))
		outs[i] = &strings.Builder{}
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		cmds[i] = cmd
	}
	start := time.Now()
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("helper %d: %v\n%s", i, err, outs[i])
		}
	}
	t.Logf("%d critical sections in %d processes: %v", procs*helperGoroutines*rounds, procs, time.Since(start))

	var all []section
	for i := range procs {
		data, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(i)+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(string(data)))
		for {
			var s section
			if err := dec.Decode(&s); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			all = append(all, s)
		}
	}
	want := procs * helperGoroutines * rounds
	if len(all) != want {
		t.Fatalf("%d critical sections recorded, want %d", len(all), want)
	}
	if got := do(t, srv, "GET", "mp:counter"); got != strconv.Itoa(want) {
		t.Errorf("counter %s, want %d", got, want)
	}
	slices.SortFunc(all, func(a, b section) int { return int(a.Enter - b.Enter) })
	overlaps, disorder := 0, 0
	for i := 1; i < len(all); i++ {
		if all[i].Enter < all[i-1].Exit {
			overlaps++
			if overlaps <= 3 {
				t.Errorf("sections overlap: %+v entered before %+v exited", all[i], all[i-1])
			}
		}
		if all[i].Fence <= all[i-1].Fence {
			disorder++
			if disorder <= 3 {
				t.Errorf("fence %d entered after fence %d", all[i].Fence, all[i-1].Fence)
			}
		}
	}
	if overlaps+disorder > 0 {
		t.Errorf("%d overlapping sections, %d out-of-order fences", overlaps, disorder)
	}
	// A cycle through Redis runs two scripts (acquire, release); local
	// handoffs run none.
	scripts := 0
	for line := range strings.Lines(do(t, srv, "INFO", "commandstats")) {
		for _, cmd := range []string{"cmdstat_evalsha:calls=", "cmdstat_eval:calls="} {
			if rest, ok := strings.CutPrefix(line, cmd); ok {
				n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
				scripts += n
			}
		}
	}
	t.Logf("%d script calls for %d critical sections", scripts, want)
	if scripts >= want {
		t.Errorf("%d script calls for %d critical sections: few local handoffs", scripts, want)
	}
}

// helperHolder takes the lock "paused" with a 1s lease, prints its token
// and fence, waits for a line on stdin (the test stops and resumes it
// meanwhile), releases the lock and prints what Release said.
func helperHolder(t *testing.T) {
	k := testutil.OpenKit(t, "mp:", os.Getenv(addrEnv))
	l := lock.New(k, nil)
	defer l.Close()
	ctx := context.Background()
	m, err := l.Acquire(ctx, "paused", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("ACQUIRED %s %d\n", m.Token(), m.Fence())
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	err = m.Release(ctx)
	switch {
	case errors.Is(err, lock.ErrLockLost):
		fmt.Println("RELEASE ErrLockLost")
	default:
		fmt.Printf("RELEASE %v\n", err)
	}
}

// A holder process stopped with SIGSTOP past its lease: another process
// acquires; after SIGCONT the stopped holder's Release reports
// ErrLockLost and the new holder's lock is intact.
func TestPausedHolderLosesLock(t *testing.T) {
	srv := redistest.Start(t, nil)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"=holder", addrEnv+"="+srv.Addr())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(cmd.Process.Pid, syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	}()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(prefix string) string {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("holder exited before printing %s; stderr:\n%s", prefix, stderr.String())
				}
				if rest, ok := strings.CutPrefix(line, prefix+" "); ok {
					return rest
				}
			case <-timeout:
				t.Fatalf("holder did not print %s within 30s", prefix)
			}
		}
	}
	fields := strings.Fields(next("ACQUIRED"))
	if len(fields) != 2 {
		t.Fatalf("bad ACQUIRED line %q", fields)
	}
	holderToken := fields[0]
	holderFence, _ := strconv.ParseInt(fields[1], 10, 64)

	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	k := testutil.OpenKit(t, "mp:", srv.Addr())
	l := lock.New(k, nil)
	defer l.Close()
	ctx := t.Context()
	m, err := l.Acquire(ctx, "paused", time.Minute, &lock.AcquireOptions{WaitTimeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("Acquire while the holder is stopped: %v", err)
	}
	if m.Fence() <= holderFence {
		t.Errorf("new fence %d not above the stopped holder's %d", m.Fence(), holderFence)
	}
	if m.Token() == holderToken {
		t.Fatal("same token")
	}

	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(stdin, "release\n"); err != nil {
		t.Fatal(err)
	}
	if got := next("RELEASE"); got != "ErrLockLost" {
		t.Errorf("resumed holder's Release: %s, want ErrLockLost", got)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("holder: %v\n%s", err, stderr.String())
	}
	if got := do(t, srv, "GET", "mp:lock:{paused}"); got != m.Token() {
		t.Errorf("new holder's lock holds %q, want its token", got)
	}
	if err := m.Extend(ctx, time.Minute); err != nil {
		t.Errorf("new holder's Extend: %v", err)
	}
	if err := m.Release(ctx); err != nil {
		t.Errorf("new holder's Release: %v", err)
	}
}
