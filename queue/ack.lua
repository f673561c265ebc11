-- ack.lua: finish a delivered job, if this delivery still owns it.
-- KEYS[1] inflight, KEYS[2] jobs (unused), KEYS[3] meta, KEYS[4] stats, KEYS[5] uniq,
-- KEYS[6] uniqx (see push.lua and pop.lua)
-- ARGV[1] id, ARGV[2] receipt token, ARGV[3] stats ttl ms
-- Returns 1, or 0 when the job went back to the queue or was delivered
-- again (the token no longer matches).
local id = ARGV[1]
local m = redis.call('HMGET', KEYS[3], id .. ':r', id .. ':u')
if m[1] ~= ARGV[2] then
  return 0
end
redis.call('ZREM', KEYS[1], id)
redis.call('HDEL', KEYS[3], id .. ':v', id .. ':p', id .. ':a', id .. ':r', id .. ':w', id .. ':t', id .. ':e', id .. ':u')
local u = m[2]
if u then
  -- The unique key outlives the job until its ttl ends.
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local until_ = tonumber(redis.call('ZSCORE', KEYS[6], u) or '0')
  if until_ <= now or until_ >= 1e15 then
    redis.call('ZREM', KEYS[6], u)
    if redis.call('HGET', KEYS[5], u) == id then
      redis.call('HDEL', KEYS[5], u)
    end
  end
end
if redis.call('HINCRBY', KEYS[4], 'processed', 1) % 1000 == 1 then
  redis.call('PEXPIRE', KEYS[4], ARGV[3])
end
return 1
