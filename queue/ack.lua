-- ack.lua: finish a delivered job, if this delivery still owns it.
-- KEYS[1] inflight, KEYS[2] jobs, KEYS[3] meta (see push.lua)
-- ARGV[1] id, ARGV[2] receipt token
-- Returns 1, or 0 when the job went back to the queue or was delivered
-- again (the token no longer matches).
local id = ARGV[1]
if redis.call('HGET', KEYS[3], id .. ':r') ~= ARGV[2] then
  return 0
end
redis.call('ZREM', KEYS[1], id)
redis.call('HDEL', KEYS[2], id)
redis.call('HDEL', KEYS[3], id .. ':p', id .. ':a', id .. ':r', id .. ':w')
return 1
