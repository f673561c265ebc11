-- RWMutex read lock. KEYS[1] writer (token, PX)  KEYS[2] readers (zset
-- token -> lease end ms)  KEYS[3] waiting writers (zset token -> deadline)
-- KEYS[4] wake set  KEYS[5] fence.
-- ARGV[1] token  ARGV[2] ttl ms  ARGV[3] '1' to register for a wake-up
-- ARGV[4] waiter lease ms  ARGV[5] notification channel
-- Returns {1, fence} or {0, retry hint ms}. A waiting writer blocks new
-- readers, so writers are not starved.
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local wpttl = redis.call('PTTL', KEYS[1])
if wpttl == -2 and redis.call('ZCARD', KEYS[3]) == 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
  expire_at_max(KEYS[2])
  return {1, next_fence(KEYS[5])}
end
if ARGV[3] == '1' then
  register(KEYS[4], ARGV[5], now, tonumber(ARGV[4]))
end
return {0, wpttl}
