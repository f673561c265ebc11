-- push.lua: add one job, ready now or after a delay, and wake one waiter.
-- KEYS[1] ready    zset: member "<15-digit inverted sequence>:<id>", score priority
-- KEYS[2] delayed  zset: id -> due time (ms, Redis clock)
-- KEYS[3] jobs     (unused: payloads live in meta since the job system)
-- KEYS[4] meta     hash: "<id>:v" payload, "<id>:p" priority, "<id>:a" deliveries,
--                        "<id>:r" receipt of the current delivery, "<id>:w" worker,
--                        "<id>:t" when it became ready (ms; unset: the time in its id),
--                        "<id>:e" last error,
--                        "<id>:u" its unique key while the job lives
-- KEYS[5] seq      counter for FIFO order within one priority
-- KEYS[6] signal   list of wake-up tokens for PopWait and Work (BLPOP): '1' for a
--                  job ready now, 'd<due ms>' for one delayed until then
-- KEYS[7] uniq     hash: unique key -> id of the job that holds it
-- KEYS[8] uniqx    zset: unique key -> when its ttl ends (ms; 1e15 = when the job ends)
-- ARGV[1] id, ARGV[2] payload, ARGV[3] priority, ARGV[4] delay ms (0 = now),
-- ARGV[5] signal cap, ARGV[6] signal ttl ms, ARGV[7] unique key ('' = none),
-- ARGV[8] unique ttl ms
-- Returns {1, id}, or {0, id of the holder} when the unique key is taken.
local id = ARGV[1]
local u = ARGV[7]
local delay = tonumber(ARGV[4])
local now = 0
if u ~= '' or delay > 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
if u ~= '' then
  local holder = redis.call('HGET', KEYS[7], u)
  if holder then
    local alive = redis.call('HGET', KEYS[4], holder .. ':u') == u
    local until_ = tonumber(redis.call('ZSCORE', KEYS[8], u) or '0')
    if alive or until_ > now then
      return {0, holder}
    end
  end
  redis.call('HSET', KEYS[7], u, id)
  redis.call('ZADD', KEYS[8], now + tonumber(ARGV[8]), u)
end
if u ~= '' then
  redis.call('HSET', KEYS[4], id .. ':v', ARGV[2], id .. ':p', ARGV[3], id .. ':t', now + delay, id .. ':u', u)
elseif delay > 0 then
  redis.call('HSET', KEYS[4], id .. ':v', ARGV[2], id .. ':p', ARGV[3], id .. ':t', now + delay)
else
  redis.call('HSET', KEYS[4], id .. ':v', ARGV[2], id .. ':p', ARGV[3])
end
if delay > 0 then
  redis.call('ZADD', KEYS[2], now + delay, id)
else
  -- ZPOPMAX takes the lexicographically greatest member among equal
  -- scores: an inverted, zero-padded sequence makes that the oldest.
  local seq = redis.call('INCR', KEYS[5])
  redis.call('ZADD', KEYS[1], ARGV[3], string.format('%015.0f', 1e15 - seq) .. ':' .. id)
end
-- No ttl: a Pop that finds the queue empty deletes the list.
local token = '1'
if delay > 0 then
  token = 'd' .. (now + delay)
end
if redis.call('RPUSH', KEYS[6], token) > 2 * tonumber(ARGV[5]) then
  redis.call('LTRIM', KEYS[6], -tonumber(ARGV[5]), -1)
end
return {1, id}
