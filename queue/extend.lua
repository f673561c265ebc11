-- extend.lua: push a delivered job's visibility deadline to now + ARGV[3],
-- if this delivery still owns it.
-- KEYS[1] inflight, KEYS[2] meta (see push.lua)
-- ARGV[1] id, ARGV[2] receipt token, ARGV[3] visibility ms
-- Returns the new deadline (ms, Redis clock), or 0 when the delivery no
-- longer owns the job.
if redis.call('HGET', KEYS[2], ARGV[1] .. ':r') ~= ARGV[2] then
  return 0
end
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], deadline, ARGV[1])
return deadline
