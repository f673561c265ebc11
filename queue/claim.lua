-- claim.lua: claim one tick of a schedule entry for this process. The key
-- holds the latest tick fired (ms), so a tick fires at most once and never
-- after a later one, whatever the callers' clocks say.
-- KEYS[1] the entry's key
-- ARGV[1] tick (ms, Unix), ARGV[2] key ttl ms, ARGV[3] max skew ms
-- Returns {1, previous tick or -1} when claimed, {0, latest tick} when
-- another process fired this tick (or a later one), {-1, server now} when
-- the tick is further in the future than the skew allows on Redis's clock.
local tick = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tick > now + tonumber(ARGV[3]) then
  return {-1, now}
end
local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
if last >= tick then
  return {0, last}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, last}
