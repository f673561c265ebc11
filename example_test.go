package redkit_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/redistest"
)

func ExampleOpen() {
	srv, err := redistest.Launch(nil) // a real redis-server on a free port
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	ctx := context.Background()
	kit, err := redkit.Open(ctx, redkit.Config{URL: srv.URL(), KeyPrefix: "shop:"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kit.Close()

	key := kit.Key("greeting", "en")
	if _, err := kit.Do(ctx, kit.B().Set().Key(key).Value("hello").Build()); err != nil {
		fmt.Println(err)
		return
	}
	msg, err := kit.Do(ctx, kit.B().Get().Key(key).Build())
	if err != nil {
		fmt.Println(err)
		return
	}
	s, _ := msg.ToString()
	fmt.Println(key, s, kit.Mode())
	// Output: shop:greeting:en hello standalone
}

func ExampleKit_Do() {
	srv, err := redistest.Launch(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	ctx := context.Background()
	kit, err := redkit.Open(ctx, redkit.Config{URL: srv.URL()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kit.Close()

	_, err = kit.Do(ctx, kit.B().Get().Key("missing").Build())
	fmt.Println("nil reply:", rueidis.IsRedisNil(err))

	kit.Do(ctx, kit.B().Set().Key("name").Value("ada").Build())
	_, err = kit.Do(ctx, kit.B().Hget().Key("name").Field("f").Build())
	err = redkit.Wrap("profile: load", "name", err)
	fmt.Println(errors.Is(err, redkit.ErrWrongType))
	fmt.Println(err)
	// Output:
	// nil reply: true
	// true
	// profile: load "name": WRONGTYPE Operation against a key holding the wrong kind of value
}

func ExampleParseURL() {
	cfg, err := redkit.ParseURL("redis+sentinel://:secret@10.0.0.1,10.0.0.2/mymaster/2?key_prefix=app:&command_timeout=250ms")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Sentinel.MasterName, cfg.Sentinel.Addrs, cfg.Database, cfg.KeyPrefix, cfg.CommandTimeout)
	// Output: mymaster [10.0.0.1:26379 10.0.0.2:26379] 2 app: 250ms
}

func ExampleEscapePattern() {
	userInput := "promo*2024"
	fmt.Println("coupon:" + redkit.EscapePattern(userInput) + ":*")
	// Output: coupon:promo\*2024:*
}

func ExampleHashTag() {
	// Both keys hash to the slot of "user42", so one command or script may
	// use them together on a cluster.
	a := "cart:" + redkit.HashTag("user42") + ":items"
	b := "cart:" + redkit.HashTag("user42") + ":saved"
	fmt.Println(a, b, redkit.Slot(a) == redkit.Slot(b))
	// Output: cart:{user42}:items cart:{user42}:saved true
}

func ExampleConfig_Validate() {
	err := redkit.Config{CommandTimeout: -1, Sentinel: redkit.SentinelConfig{Addrs: []string{"s:26379"}}}.Validate()
	fmt.Println(err)
	// Output:
	// redkit: config: CommandTimeout: must not be negative (got -1ns)
	// redkit: config: Sentinel.MasterName: required when Sentinel.Addrs is set
}
