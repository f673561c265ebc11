package main

import (
	"context"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit/redistest"
)

// startRedis starts the run's redis-server (loopback, a free port, no
// persistence) and returns its address and a function that stops it.
func startRedis() (addr string, stop func(), err error) {
	srv, err := redistest.Launch(nil)
	if err != nil {
		return "", nil, err
	}
	return srv.Addr(), func() { srv.Close() }, nil
}

// redisVersion asks the server for INFO server's redis_version.
func redisVersion(ctx context.Context, c rueidis.Client) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := c.Do(ctx, c.B().Info().Section("server").Build()).ToString()
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return "redis " + v, nil
		}
	}
	return "unknown", nil
}
