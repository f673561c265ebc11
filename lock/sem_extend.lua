-- Semaphore extend. ARGV[1] token  ARGV[2] ttl ms. Returns 1 when
-- extended, 0 when the token holds no live permit.
local now = now_ms()
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not s or tonumber(s) <= now then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
expire_at_max(KEYS[1])
return 1
