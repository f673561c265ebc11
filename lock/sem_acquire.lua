-- Semaphore acquire. KEYS[1] leases (zset token -> lease end ms)
-- KEYS[2] wake set  KEYS[3] fence.
-- ARGV[1] token  ARGV[2] ttl ms  ARGV[3] permits  ARGV[4] '1' to register
-- for a wake-up  ARGV[5] waiter lease ms  ARGV[6] notification channel
-- Expired leases (dead holders) are reclaimed first. Returns {1, fence}
-- or {0, ms until the first lease ends}.
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  expire_at_max(KEYS[1])
  return {1, next_fence(KEYS[3])}
end
if ARGV[4] == '1' then
  register(KEYS[2], ARGV[6], now, tonumber(ARGV[5]))
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] then
  return {0, tonumber(first[2]) - now}
end
return {0, 0}
