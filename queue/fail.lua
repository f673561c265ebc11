-- fail.lua: a delivered job's handler failed: retry it after a delay, or
-- move it to the dead set after its last attempt, if this delivery still
-- owns it; wake one waiter (the retry may be due before anything it knew).
-- KEYS[1] delayed, KEYS[2] inflight, KEYS[3] meta, KEYS[4] dead,
-- KEYS[5] stats, KEYS[6] uniq, KEYS[7] uniqx, KEYS[8] signal (see push.lua)
-- ARGV[1] id, ARGV[2] receipt token, ARGV[3] error text, ARGV[4] delay ms,
-- ARGV[5] max attempts (<= 0: no limit), ARGV[6] stats ttl ms,
-- ARGV[7] signal cap, ARGV[8] signal ttl ms
-- Returns 1 (retried), 2 (dead), or 0 when the delivery no longer owns it.
local id = ARGV[1]
local m = redis.call('HMGET', KEYS[3], id .. ':r', id .. ':a', id .. ':u')
if m[1] ~= ARGV[2] then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[2], id)
redis.call('HDEL', KEYS[3], id .. ':r', id .. ':w')
redis.call('HSET', KEYS[3], id .. ':e', ARGV[3])
if redis.call('HINCRBY', KEYS[5], 'failed', 1) % 1000 == 1 then
  redis.call('PEXPIRE', KEYS[5], ARGV[6])
end
local max = tonumber(ARGV[5])
local res = 1
local token = '1'
if max > 0 and tonumber(m[2] or '0') >= max then
  redis.call('ZADD', KEYS[4], now, id)
  local u = m[3]
  if u then
    redis.call('HDEL', KEYS[3], id .. ':u')
    local until_ = tonumber(redis.call('ZSCORE', KEYS[7], u) or '0')
    if until_ <= now or until_ >= 1e15 then
      redis.call('ZREM', KEYS[7], u)
      if redis.call('HGET', KEYS[6], u) == id then
        redis.call('HDEL', KEYS[6], u)
      end
    end
  end
  res = 2
else
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), id)
  token = 'd' .. (now + tonumber(ARGV[4]))
end
-- No ttl: a Pop that finds the queue empty deletes the list.
if redis.call('RPUSH', KEYS[8], token) > 2 * tonumber(ARGV[7]) then
  redis.call('LTRIM', KEYS[8], -tonumber(ARGV[7]), -1)
end
return res
