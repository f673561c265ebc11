-- Prunes a user's index of entries past their deadline and returns the
-- rest: KEYS[1] is the index, ARGV[1] now (unix ms).
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
