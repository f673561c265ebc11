-- nack.lua: give a delivered job back, now or after a delay, if this
-- delivery still owns it, and wake one waiter.
-- KEYS[1] ready, KEYS[2] delayed, KEYS[3] inflight, KEYS[4] meta,
-- KEYS[5] seq, KEYS[6] signal (see push.lua)
-- ARGV[1] id, ARGV[2] receipt token, ARGV[3] delay ms (0 = now),
-- ARGV[4] signal cap, ARGV[5] signal ttl ms, ARGV[6] '1' to not count
-- this delivery as an attempt (a worker shutting down gives it back)
-- Returns 1, or 0 when the delivery no longer owns the job.
local id = ARGV[1]
if redis.call('HGET', KEYS[4], id .. ':r') ~= ARGV[2] then
  return 0
end
redis.call('ZREM', KEYS[3], id)
redis.call('HDEL', KEYS[4], id .. ':r', id .. ':w')
if ARGV[6] == '1' then
  redis.call('HINCRBY', KEYS[4], id .. ':a', -1)
end
local delay = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if delay > 0 then
  redis.call('ZADD', KEYS[2], now + delay, id)
else
  local p = redis.call('HGET', KEYS[4], id .. ':p')
  local seq = redis.call('INCR', KEYS[5])
  redis.call('ZADD', KEYS[1], p, string.format('%015.0f', 1e15 - seq) .. ':' .. id)
  redis.call('HSET', KEYS[4], id .. ':t', now)
end
-- No ttl: a Pop that finds the queue empty deletes the list.
local token = '1'
if delay > 0 then
  token = 'd' .. (now + delay)
end
if redis.call('RPUSH', KEYS[6], token) > 2 * tonumber(ARGV[4]) then
  redis.call('LTRIM', KEYS[6], -tonumber(ARGV[4]), -1)
end
return 1
