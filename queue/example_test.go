package queue_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/queue"
	"github.com/redkit-go/redkit/redistest"
)

type email struct {
	To, Subject string
}

// exampleKit starts a redis-server and opens a Kit on it, for the
// examples; the func it returns closes both.
func exampleKit() (*redkit.Kit, func(), error) {
	srv, err := redistest.Launch(nil)
	if err != nil {
		return nil, nil, err
	}
	kit, err := redkit.Open(context.Background(), redkit.Config{URL: srv.URL()})
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	return kit, func() { kit.Close(); srv.Close() }, nil
}

func ExamplePriority() {
	kit, closeKit, err := exampleKit() // a real redis-server; in production, redkit.Open with your URL
	if err != nil {
		fmt.Println(err)
		return
	}
	defer closeKit()
	ctx := context.Background()

	q := queue.NewPriority[email](kit, "emails", &queue.Options{Visibility: time.Minute})
	q.Push(ctx, email{"ada@example.com", "newsletter"}, 1)
	q.Push(ctx, email{"bob@example.com", "password reset"}, 10)
	q.Push(ctx, email{"cy@example.com", "newsletter"}, 1)

	for {
		job, err := q.Pop(ctx, "worker-1")
		if errors.Is(err, queue.ErrEmpty) {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s to %s (attempt %d)\n", job.Value.Subject, job.Value.To, job.Attempts)
		job.Ack(ctx) // done: remove it for good
	}
	// Output:
	// password reset to bob@example.com (attempt 1)
	// newsletter to ada@example.com (attempt 1)
	// newsletter to cy@example.com (attempt 1)
}

func ExamplePriority_PopWait() {
	kit, closeKit, err := exampleKit() // a real redis-server; in production, redkit.Open with your URL
	if err != nil {
		fmt.Println(err)
		return
	}
	defer closeKit()

	q := queue.NewPriority[string](kit, "thumbnails", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	done := make(chan struct{})
	go func() { // a worker: blocks until a job is ready
		defer close(done)
		job, err := q.PopWait(ctx, "worker-1")
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("resizing", job.Value)
		job.Ack(ctx)
	}()
	q.Push(ctx, "cat.jpg", 0)
	<-done
	// Output: resizing cat.jpg
}

func ExampleJob_Nack() {
	kit, closeKit, err := exampleKit() // a real redis-server; in production, redkit.Open with your URL
	if err != nil {
		fmt.Println(err)
		return
	}
	defer closeKit()
	ctx := context.Background()

	q := queue.NewPriority[string](kit, "webhooks", nil)
	q.Push(ctx, "https://example.com/hook", 0)

	job, _ := q.Pop(ctx, "worker-1")
	// The call failed: try again in 50ms.
	job.Nack(ctx, 50*time.Millisecond)
	_, err = q.Pop(ctx, "worker-1")
	fmt.Println(err)

	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	job, _ = q.PopWait(wctx, "worker-1")
	fmt.Println(job.Value, "attempt", job.Attempts)
	job.Ack(ctx)
	// Output:
	// queue: empty
	// https://example.com/hook attempt 2
}
