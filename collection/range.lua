-- range.lua: ZRANGE by rank with scores, and the rank of the first
-- member, in one round trip. Used when start is negative, so the caller
-- cannot know the first rank without the set's size.
-- KEYS[1] sorted set
-- ARGV[1] start (>= -(2^53-1), so exact as a Lua number), ARGV[2] stop
-- (ZRANGE indexes), ARGV[3] "1" for descending
-- Returns {first rank, {member, score, member, score, ...}}.
local start = tonumber(ARGV[1])
-- stop stays a string: as a Lua number, math.MaxInt64 would become a
-- float that ZRANGE refuses ("value is not an integer").
local stop = ARGV[2]
if start < 0 then
  start = math.max(redis.call('ZCARD', KEYS[1]) + start, 0)
end
local r
if ARGV[3] == '1' then
  r = redis.call('ZRANGE', KEYS[1], start, stop, 'REV', 'WITHSCORES')
else
  r = redis.call('ZRANGE', KEYS[1], start, stop, 'WITHSCORES')
end
return {start, r}
