-- pop.lua: deliver the highest-priority ready job to one worker, atomically.
-- First, due delayed jobs and in-flight jobs whose visibility deadline has
-- passed go back to the ready set (up to ARGV[4] of each per call); then
-- the job with the highest priority (the oldest among equals) moves to the
-- in-flight set, scored by its deadline, under a fresh receipt token.
-- KEYS[1] ready, KEYS[2] delayed, KEYS[3] inflight (zset: id -> deadline ms),
-- KEYS[4] jobs, KEYS[5] meta, KEYS[6] seq (see push.lua)
-- ARGV[1] visibility ms, ARGV[2] receipt token, ARGV[3] worker, ARGV[4] limit
-- Returns {1, id, payload, priority, attempts, deadline, reclaimed} or, when
-- nothing is ready, {0, next due time or -1, now, reclaimed}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[4])

local function requeue(id)
  local p = redis.call('HGET', KEYS[5], id .. ':p')
  if not p then
    return -- the job's data is gone (queue deleted meanwhile): drop the id
  end
  local seq = redis.call('INCR', KEYS[6])
  redis.call('ZADD', KEYS[1], p, string.format('%015.0f', 1e15 - seq) .. ':' .. id)
end

local due = redis.call('ZRANGE', KEYS[2], '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[2], id)
  requeue(id)
end
local expired = redis.call('ZRANGE', KEYS[3], '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[3], id)
  redis.call('HDEL', KEYS[5], id .. ':r', id .. ':w')
  requeue(id)
end

while true do
  local top = redis.call('ZPOPMAX', KEYS[1])
  if #top == 0 then
    break
  end
  local id = string.sub(top[1], 17)
  local payload = redis.call('HGET', KEYS[4], id)
  if payload then
    local attempts = redis.call('HINCRBY', KEYS[5], id .. ':a', 1)
    local deadline = now + tonumber(ARGV[1])
    redis.call('ZADD', KEYS[3], deadline, id)
    redis.call('HSET', KEYS[5], id .. ':r', ARGV[2], id .. ':w', ARGV[3])
    return {1, id, payload, redis.call('HGET', KEYS[5], id .. ':p') or top[2], attempts, deadline, #expired}
  end
end

local due_at = -1
local d = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #d > 0 then
  due_at = tonumber(d[2])
end
local f = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
if #f > 0 and (due_at < 0 or tonumber(f[2]) < due_at) then
  due_at = tonumber(f[2])
end
return {0, due_at, now, #expired}
