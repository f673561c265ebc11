-- Writes a session's changes: KEYS[1] is the session's hash.
-- ARGV[1] 'n' creates the session (new ID), 'x' writes only if it still
--         exists (it was loaded from Redis: never resurrect a session that
--         was destroyed or expired while the request ran)
-- ARGV[2] the idle TTL to set, in ms
-- ARGV[3] n, the number of field/value pairs that follow
-- then n pairs to HSET, then the fields to HDEL.
-- Returns 1 when written, 0 when the session is gone.
local key = KEYS[1]
if ARGV[1] == 'x' and redis.call('EXISTS', key) == 0 then
  return 0
end
local n = tonumber(ARGV[3])
if n > 0 then
  redis.call('HSET', key, unpack(ARGV, 4, 3 + 2 * n))
end
local d = 4 + 2 * n
if #ARGV >= d then
  redis.call('HDEL', key, unpack(ARGV, d, #ARGV))
end
redis.call('PEXPIRE', key, ARGV[2])
return 1
