-- seed: a fast acquire (fast.go) found the fence counter unseeded (missing
-- before its INCRBY: new, or lost by a restart without persistence).
-- Raise it to the server's clock in microseconds and reserve ARGV[1]
-- fences above it; returns the first.
-- KEYS[1] fence counter  ARGV[1] fences to reserve
return next_fence(KEYS[1], ARGV[1])
