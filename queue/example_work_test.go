package queue_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redkit-go/redkit/queue"
)

type pizza struct {
	Order int
	Kind  string
}

func ExamplePriority_Work() {
	kit, closeKit, err := exampleKit() // a real redis-server; in production, redkit.Open with your URL
	if err != nil {
		fmt.Println(err)
		return
	}
	defer closeKit()

	kitchen := queue.NewPriority[pizza](kit, "kitchen", &queue.Options{
		MaxAttempts: 3,
		Backoff:     func(attempt int) time.Duration { return 10 * time.Millisecond },
	})
	ctx, stop := context.WithCancel(context.Background())
	baked := make(chan string)
	go func() {
		// Blocks until ctx ends, then stops gracefully and returns nil.
		err := kitchen.Work(ctx, "oven-1", func(ctx context.Context, job *queue.Job[pizza]) error {
			if job.Value.Kind == "calzone" && job.Attempts == 1 {
				return errors.New("oven too cold") // retried after Backoff
			}
			baked <- fmt.Sprintf("order %d: %s (attempt %d)", job.Value.Order, job.Value.Kind, job.Attempts)
			return nil // acknowledged
		}, &queue.WorkOptions{Concurrency: 1, Timeout: time.Minute})
		if err != nil {
			fmt.Println(err)
		}
	}()
	kitchen.Push(ctx, pizza{1, "margherita"}, 0)
	fmt.Println(<-baked)
	kitchen.Push(ctx, pizza{2, "calzone"}, 0)
	fmt.Println(<-baked)
	stop()
	// Output:
	// order 1: margherita (attempt 1)
	// order 2: calzone (attempt 2)
}

func ExamplePriority_Dead() {
	kit, closeKit, err := exampleKit() // a real redis-server; in production, redkit.Open with your URL
	if err != nil {
		fmt.Println(err)
		return
	}
	defer closeKit()

	kitchen := queue.NewPriority[pizza](kit, "kitchen", &queue.Options{
		MaxAttempts: 2,
		Backoff:     func(int) time.Duration { return time.Millisecond },
	})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go kitchen.Work(ctx, "oven-1", func(ctx context.Context, job *queue.Job[pizza]) error {
		return errors.New("burnt")
	}, nil)
	kitchen.Push(ctx, pizza{3, "quattro formaggi"}, 0)

	var dead []*queue.Job[pizza]
	for len(dead) == 0 {
		time.Sleep(10 * time.Millisecond)
		dead, _ = kitchen.Dead(ctx, 10)
	}
	fmt.Printf("dead: order %d after %d attempts: %s\n", dead[0].Value.Order, dead[0].Attempts, dead[0].LastError)
	// From a support page: try it once more.
	fmt.Println(kitchen.Requeue(ctx, dead[0].ID))
	// Output:
	// dead: order 3 after 2 attempts: burnt
	// <nil>
}

func ExamplePriority_PushUnique() {
	kit, closeKit, err := exampleKit() // a real redis-server; in production, redkit.Open with your URL
	if err != nil {
		fmt.Println(err)
		return
	}
	defer closeKit()
	ctx := context.Background()

	receipts := queue.NewPriority[int](kit, "receipts", nil)
	// One receipt per order, however often the button is pressed, for at
	// least an hour.
	_, err = receipts.PushUnique(ctx, 42, 0, "order-42", time.Hour)
	fmt.Println(err)
	_, err = receipts.PushUnique(ctx, 42, 0, "order-42", time.Hour)
	fmt.Println(errors.Is(err, queue.ErrDuplicate))
	// Output:
	// <nil>
	// true
}

// A schedule fires each tick in exactly one of the processes running it,
// at most once; for at-least-once work it pushes a job, unique per tick,
// that Work then does with retries.
func ExampleScheduler() {
	kit, closeKit, err := exampleKit() // a real redis-server; in production, redkit.Open with your URL
	if err != nil {
		fmt.Println(err)
		return
	}
	defer closeKit()

	reports := queue.NewPriority[time.Time](kit, "daily-reports", nil)
	sched := queue.NewScheduler(kit, "pizzeria", nil)
	// Every process may run this: each tick fires once across them.
	sched.Cron("close-the-day", "30 23 * * *", func(ctx context.Context) error {
		tick, _ := queue.Tick(ctx)
		_, err := reports.PushUnique(ctx, tick, 0, tick.Format(time.RFC3339), 24*time.Hour)
		if errors.Is(err, queue.ErrDuplicate) {
			return nil
		}
		return err
	})
	sched.Every("heartbeat", 50*time.Millisecond, func(ctx context.Context) error {
		tick, _ := queue.Tick(ctx)
		_, err := reports.PushUnique(ctx, tick, 0, "hb-"+tick.Format(time.RFC3339Nano), time.Minute)
		return err
	})
	ctx, stop := context.WithCancel(context.Background())
	go sched.Run(ctx)

	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	job, err := reports.PopWait(wctx, "reporter")
	if err != nil {
		fmt.Println(err)
		stop()
		return
	}
	fmt.Println("tick on the 50ms grid:", job.Value.UnixMilli()%50 == 0)
	job.Ack(wctx)
	stop()
	// Output: tick on the 50ms grid: true
}

func ExampleWorkMany() {
	kit, closeKit, err := exampleKit() // a real redis-server; in production, redkit.Open with your URL
	if err != nil {
		fmt.Println(err)
		return
	}
	defer closeKit()

	critical := queue.NewPriority[string](kit, "critical", nil)
	bulk := queue.NewPriority[int](kit, "bulk", nil)
	ctx, stop := context.WithCancel(context.Background())
	bulk.Push(ctx, 1, 0)
	critical.Push(ctx, "page the on-call", 0)

	done := make(chan string, 2)
	go queue.WorkMany(ctx, "worker-1", &queue.WorkOptions{Concurrency: 1, Strict: true},
		critical.Source(func(ctx context.Context, job *queue.Job[string]) error {
			done <- "critical: " + job.Value
			return nil
		}, 1),
		bulk.Source(func(ctx context.Context, job *queue.Job[int]) error {
			done <- fmt.Sprint("bulk: ", job.Value)
			return nil
		}, 1))
	fmt.Println(<-done)
	fmt.Println(<-done)
	stop()
	// Output:
	// critical: page the on-call
	// bulk: 1
}

func ExamplePriority_Stats() {
	kit, closeKit, err := exampleKit() // a real redis-server; in production, redkit.Open with your URL
	if err != nil {
		fmt.Println(err)
		return
	}
	defer closeKit()
	ctx := context.Background()

	q := queue.NewPriority[string](kit, "stats", nil)
	q.Push(ctx, "now", 0)
	q.PushDelayed(ctx, "later", 0, time.Hour)
	st, _ := q.Stats(ctx)
	fmt.Printf("%+v\n", st)
	// Output: {Waiting:1 Delayed:1 InFlight:0 Dead:0 Processed:0 Failed:0}
}
