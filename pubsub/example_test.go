package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/pubsub"
	"github.com/redkit-go/redkit/redistest"
)

type orderStatus struct {
	Order  int    `json:"order"`
	Status string `json:"status"`
}

// exampleKit starts a real redis-server and opens a Kit on it; use your
// own URL in production.
func exampleKit() (*redkit.Kit, func(), error) {
	srv, err := redistest.Launch(nil)
	if err != nil {
		return nil, nil, err
	}
	kit, err := redkit.Open(context.Background(), redkit.Config{URL: srv.URL(), KeyPrefix: "pizzeria:"})
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	return kit, func() { kit.Close(); srv.Close() }, nil
}

func ExampleTopic() {
	kit, done, err := exampleKit()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	ctx := context.Background()

	topic := pubsub.NewTopic[orderStatus](kit, "notifications:user:42")
	got := make(chan pubsub.Message[orderStatus], 10)
	sub, err := topic.Subscribe(ctx, func(_ context.Context, m pubsub.Message[orderStatus]) error {
		got <- m
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sub.Close()

	n, _ := topic.Publish(ctx, orderStatus{Order: 7, Status: "baking"})
	fmt.Println("receivers:", n)
	topic.PublishMany(ctx, orderStatus{7, "boxed"}, orderStatus{7, "on its way"})
	for range 3 {
		m := <-got
		fmt.Printf("%s: order %d %s\n", m.Channel, m.Payload.Order, m.Payload.Status)
	}
	// Output:
	// receivers: 1
	// notifications:user:42: order 7 baking
	// notifications:user:42: order 7 boxed
	// notifications:user:42: order 7 on its way
}

func ExampleTopic_SubscribeWith() {
	kit, done, err := exampleKit()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	ctx := context.Background()

	board := pubsub.NewTopic[string](kit, "kitchen:board")
	sub, err := board.SubscribeWith(ctx, func(_ context.Context, m pubsub.Message[string]) error {
		fmt.Println("board:", m.Payload)
		return nil
	}, &pubsub.SubscribeOptions{
		Buffer:   256,
		Overflow: pubsub.Drop,
		OnGap: func(ctx context.Context, g pubsub.Gap) {
			// Messages may have been missed: re-read the board's state.
			fmt.Println("gap on", g.Channel, "- reloading")
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	board.Publish(ctx, "margherita ready")
	time.Sleep(100 * time.Millisecond)
	sub.Close()
	fmt.Printf("%+v\n", sub.Stats())
	// Output:
	// board: margherita ready
	// {Delivered:1 Dropped:0 DecodeErrors:0 HandlerErrors:0 Gaps:0}
}

func ExampleSubscribePattern() {
	kit, done, err := exampleKit()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	ctx := context.Background()

	got := make(chan pubsub.Message[string], 10)
	sub, err := pubsub.SubscribePattern(ctx, kit, "data:changes:*", func(_ context.Context, m pubsub.Message[string]) error {
		got <- m
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sub.Close()
	pubsub.NewTopic[string](kit, "data:changes:menu").Publish(ctx, "price of calzone")
	m := <-got
	fmt.Println(m.Pattern, m.Channel, m.Payload)
	// Output:
	// data:changes:* data:changes:menu price of calzone
}

func ExampleStream() {
	kit, done, err := exampleKit()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()

	orders := pubsub.NewStream[orderStatus](kit, "order-events", &pubsub.StreamOptions{
		MaxLen:        10000,
		MaxDeliveries: 3,
		ClaimIdle:     time.Minute,
	})
	ctx := context.Background()
	for _, s := range []string{"placed", "paid", "baking"} {
		if _, err := orders.Publish(ctx, orderStatus{Order: 7, Status: s}); err != nil {
			fmt.Println(err)
			return
		}
	}

	cctx, stop := context.WithCancel(ctx)
	seen := 0
	err = orders.Consume(cctx, "kitchen", "oven-1", func(_ context.Context, m pubsub.Message[orderStatus]) error {
		fmt.Println("kitchen:", m.Payload.Status)
		if seen++; seen == 3 {
			stop() // a graceful stop: this entry is still acknowledged
		}
		return nil // acknowledge
	})
	fmt.Println("stopped:", errors.Is(err, context.Canceled))
	info, _ := orders.Info(ctx, "kitchen")
	fmt.Printf("length %d, pending %d, lag %d\n", info.Length, info.Pending, info.Lag)
	// Output:
	// kitchen: placed
	// kitchen: paid
	// kitchen: baking
	// stopped: true
	// length 3, pending 0, lag 0
}

func ExampleStream_DeadLetters() {
	kit, done, err := exampleKit()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	ctx := context.Background()

	payments := pubsub.NewStream[int](kit, "payments", &pubsub.StreamOptions{MaxDeliveries: 2, ClaimIdle: 50 * time.Millisecond})
	payments.Publish(ctx, 13)
	cctx, stop := context.WithCancel(ctx)
	billing := make(chan error)
	go func() {
		billing <- payments.Consume(cctx, "billing", "b1", func(context.Context, pubsub.Message[int]) error {
			return errors.New("card declined")
		})
	}()
	dctx, dstop := context.WithCancel(ctx)
	payments.DeadLetters().Consume(dctx, "ops", "o1", func(_ context.Context, m pubsub.Message[int]) error {
		fmt.Println("dead letter:", m.Payload, "-", m.Reason)
		dstop()
		return nil
	})
	stop()
	<-billing
	// Output:
	// dead letter: 13 - delivered 2 times without an acknowledgement (MaxDeliveries 2); last error: card declined
}
