-- RWMutex write lock (keys and arguments as rw_rlock.lua). A writer that
-- has to wait is recorded in KEYS[3], which blocks new readers.
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return {1, next_fence(KEYS[5])}
end
if ARGV[3] == '1' then
  local lease = tonumber(ARGV[4])
  redis.call('ZADD', KEYS[3], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[3], lease)
  register(KEYS[4], ARGV[5], now, lease)
end
local hint = redis.call('PTTL', KEYS[1])
if hint < 0 then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if first[2] then
    hint = tonumber(first[2]) - now
  end
end
return {0, hint}
