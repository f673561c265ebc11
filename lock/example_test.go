package lock_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/lock"
	"github.com/redkit-go/redkit/redistest"
)

// connect starts a redis-server for the example; use your own URL in
// production.
func connect() (*redkit.Kit, func(), error) {
	srv, err := redistest.Launch(nil)
	if err != nil {
		return nil, nil, err
	}
	kit, err := redkit.Open(context.Background(), redkit.Config{URL: srv.URL(), KeyPrefix: "shop:"})
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	return kit, func() { kit.Close(); srv.Close() }, nil
}

func Example() {
	kit, done, err := connect()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	locker := lock.New(kit, nil)
	defer locker.Close()
	ctx := context.Background()

	m, err := locker.Acquire(ctx, "order:42", 10*time.Second, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Write m.Fence() with the data; the store refuses older fences.
	first := m.Fence()

	_, err = locker.TryAcquire(ctx, "order:42", 10*time.Second)
	fmt.Println(errors.Is(err, lock.ErrNotAcquired))

	if err := m.Release(ctx); err != nil {
		fmt.Println(err)
	}
	m, _ = locker.Acquire(ctx, "order:42", 10*time.Second, nil)
	fmt.Println("fence increased:", m.Fence() > first)
	m.Release(ctx)
	// Output:
	// true
	// fence increased: true
}

func ExampleLocker_Do() {
	kit, done, err := connect()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	locker := lock.New(kit, nil)
	defer locker.Close()

	// The lease is 1s, the work longer: the watchdog renews the lock, and
	// would cancel ctx if it were lost.
	err = locker.Do(context.Background(), "nightly-report", time.Second, func(ctx context.Context) error {
		m, _ := lock.FromContext(ctx)
		select {
		case <-time.After(1500 * time.Millisecond):
			fmt.Println("report written with a fence:", m.Fence() > 0)
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	fmt.Println(err)
	// Output:
	// report written with a fence: true
	// <nil>
}

func ExampleLocker_RWMutex() {
	kit, done, err := connect()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	locker := lock.New(kit, nil)
	defer locker.Close()
	ctx := context.Background()

	menu := locker.RWMutex("menu")
	r1, _ := menu.RLock(ctx, time.Minute, nil)
	r2, err := menu.TryRLock(ctx, time.Minute)
	fmt.Println("second reader:", err)
	_, err = menu.TryLock(ctx, time.Minute)
	fmt.Println("writer:", errors.Is(err, lock.ErrNotAcquired))
	r1.Release(ctx)
	r2.Release(ctx)
	w, err := menu.TryLock(ctx, time.Minute)
	fmt.Println("writer after the readers:", err)
	w.Release(ctx)
	// Output:
	// second reader: <nil>
	// writer: true
	// writer after the readers: <nil>
}

func ExampleLocker_Semaphore() {
	kit, done, err := connect()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	locker := lock.New(kit, nil)
	defer locker.Close()
	ctx := context.Background()

	ovens := locker.Semaphore("ovens", 2)
	a, _ := ovens.Acquire(ctx, time.Minute, nil)
	b, _ := ovens.Acquire(ctx, time.Minute, nil)
	_, err = ovens.TryAcquire(ctx, time.Minute)
	fmt.Println("third pizza:", errors.Is(err, lock.ErrNotAcquired))
	a.Release(ctx)
	c, err := ovens.TryAcquire(ctx, time.Minute)
	fmt.Println("after one is done:", err)
	b.Release(ctx)
	c.Release(ctx)
	// Output:
	// third pizza: true
	// after one is done: <nil>
}

func ExampleNewRedlock() {
	var kits []*redkit.Kit
	for range 3 {
		kit, done, err := connect()
		if err != nil {
			fmt.Println(err)
			return
		}
		defer done()
		kits = append(kits, kit)
	}
	rl := lock.NewRedlock(kits...)
	ctx := context.Background()
	m, err := rl.Acquire(ctx, "migration", 10*time.Second, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("quorum", rl.Quorum(), "fenced:", m.Fence() > 0)
	fmt.Println(m.Release(ctx))
	// Output:
	// quorum 2 fenced: true
	// <nil>
}

// Goroutines of one Locker pass a contended lock among themselves without
// a round trip to Redis, at most MaxLocalHandoffs times in a row; every
// holder still gets a fence of its own, above the previous one.
func ExampleOptions_localHandoff() {
	kit, done, err := connect()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	// The defaults (16 handoffs in a row); DisableLocalHandoff: true would
	// send every release through Redis, strictly first come first served
	// across processes.
	locker := lock.New(kit, &lock.Options{MaxLocalHandoffs: 16})
	defer locker.Close()
	ctx := context.Background()

	m, err := locker.Acquire(ctx, "stock:7", 10*time.Second, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	next := make(chan *lock.Lock)
	go func() {
		n, err := locker.Acquire(ctx, "stock:7", 10*time.Second, nil) // waits in the process
		if err != nil {
			fmt.Println(err)
		}
		next <- n
	}()
	time.Sleep(50 * time.Millisecond) // let it wait
	m.Release(ctx)                    // hands the lock over in the process
	n := <-next
	fmt.Println("new token:", n.Token() != m.Token(), "higher fence:", n.Fence() > m.Fence())
	n.Release(ctx)
	// Output:
	// new token: true higher fence: true
}
