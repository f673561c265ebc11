package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/rueidis"
)

// Benchmarks on a shared 2-core machine are only as good as the machine
// is quiet. cpuSample lets the run tell how much CPU *other* processes
// took while it measured: the machine's busy time (/proc/stat) minus this
// process's (getrusage) minus redis-server's (INFO cpu). The report shows
// it, so a run disturbed by a concurrent build or test is recognisable.
type cpuSample struct {
	at           time.Time
	busy, steal  time.Duration // whole machine
	self, server time.Duration
	ok           bool
}

const clockTick = 10 * time.Millisecond // USER_HZ is 100 on Linux

func sampleCPU(ctx context.Context, redis rueidis.Client) cpuSample {
	s := cpuSample{at: time.Now()}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return s
	}
	tick := func(i int) time.Duration {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		return time.Duration(v) * clockTick
	}
	// user nice system idle iowait irq softirq steal
	s.busy = tick(1) + tick(2) + tick(3) + tick(6) + tick(7)
	s.steal = tick(8)
	s.self = processCPU()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	info, err := redis.Do(ctx, redis.B().Info().Section("cpu").Build()).ToString()
	if err != nil {
		return s
	}
	for l := range strings.SplitSeq(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			sec, _ := strconv.ParseFloat(v, 64)
			s.server += time.Duration(sec * float64(time.Second))
		}
	}
	s.ok = true
	return s
}

// cpuUse is what happened between two samples, in cores (1.0 = one core
// busy for the whole interval).
type cpuUse struct {
	Self, Server, Others, Steal float64
}

func (a cpuSample) to(b cpuSample) (cpuUse, bool) {
	wall := b.at.Sub(a.at).Seconds()
	if !a.ok || !b.ok || wall <= 0 {
		return cpuUse{}, false
	}
	u := cpuUse{
		Self:   (b.self - a.self).Seconds() / wall,
		Server: (b.server - a.server).Seconds() / wall,
		Steal:  (b.steal - a.steal).Seconds() / wall,
	}
	u.Others = max((b.busy-a.busy).Seconds()/wall-u.Self-u.Server, 0)
	return u, true
}

func (u cpuUse) String() string {
	return fmt.Sprintf("bench %.2f, redis-server %.2f, other processes %.2f, steal %.2f cores", u.Self, u.Server, u.Others, u.Steal)
}

// disturbed reports whether other processes took enough CPU to skew the
// comparison (a tenth of a core on average).
func (u cpuUse) disturbed() bool { return u.Others+u.Steal > 0.1 }

// lockMachine serialises measuring runs on this machine: two benchmark
// runs at once measure each other. It waits for the other run to finish
// (saying so on stderr) and returns the function that releases the lock.
// The lock is an flock on a file in the temp directory, released by the
// kernel if the process dies.
func lockMachine(ctx context.Context, logf func(string, ...any)) (func(), error) {
	path := filepath.Join(os.TempDir(), "redkit-bench.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	unlock := func() { f.Close() }
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
		return unlock, nil
	}
	logf("another benchmark run holds %s; waiting for it to finish", path)
	for {
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			return unlock, nil
		}
	}
}
