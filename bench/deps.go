package main

// Peer libraries that suites compare against. The blank imports keep them
// in go.mod before a suite uses them, so engineers adding a suite never need
// `go get`. Remove a line here only when a suite imports that package.
import (
	_ "github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	_ "github.com/bsm/redislock"
	_ "github.com/go-redis/cache/v9"
	_ "github.com/go-redis/redis_rate/v10"
	_ "github.com/go-redsync/redsync/v4"
	_ "github.com/go-redsync/redsync/v4/redis/goredis/v9"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/redis/rueidis"
	_ "github.com/redis/rueidis/rueidisaside"
	_ "github.com/redis/rueidis/rueidislock"
	_ "github.com/redkit-go/redkit"
	_ "github.com/ulule/limiter/v3"

	// Modules the redkit packages import that the bench has no other
	// reason to; listed so that a new suite importing such a package
	// builds without `go mod tidy`.
	_ "github.com/maypok86/otter/v2"
	_ "golang.org/x/sync/singleflight"
)
