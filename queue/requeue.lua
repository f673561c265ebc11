-- requeue.lua: bring a dead job back to the ready set with a fresh count
-- of attempts, and wake one waiter.
-- KEYS[1] dead, KEYS[2] ready, KEYS[3] meta, KEYS[4] seq, KEYS[5] signal
-- ARGV[1] id, ARGV[2] signal cap, ARGV[3] signal ttl ms
-- Returns 1, or 0 when no dead job has that id.
local id = ARGV[1]
if redis.call('ZREM', KEYS[1], id) == 0 then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local p = redis.call('HGET', KEYS[3], id .. ':p') or '0'
redis.call('HSET', KEYS[3], id .. ':a', 0, id .. ':t', now)
local seq = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[2], p, string.format('%015.0f', 1e15 - seq) .. ':' .. id)
-- No ttl: a Pop that finds the queue empty deletes the list.
if redis.call('RPUSH', KEYS[5], '1') > 2 * tonumber(ARGV[2]) then
  redis.call('LTRIM', KEYS[5], -tonumber(ARGV[2]), -1)
end
return 1
