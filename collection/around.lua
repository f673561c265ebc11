-- around.lua: up to n members either side of one member, with scores, and
-- the rank of the first one returned, in one round trip (no N+1).
-- KEYS[1] sorted set
-- ARGV[1] member, ARGV[2] n (>= 0), ARGV[3] "1" for descending order
-- Returns {first rank, {member, score, ...}}, or {-1, {}} when the member
-- is absent.
local desc = ARGV[3] == '1'
local rank
if desc then
  rank = redis.call('ZREVRANK', KEYS[1], ARGV[1])
else
  rank = redis.call('ZRANK', KEYS[1], ARGV[1])
end
if not rank then
  return {-1, {}}
end
local n = tonumber(ARGV[2])
local start = math.max(rank - n, 0)
local r
if desc then
  r = redis.call('ZRANGE', KEYS[1], start, rank + n, 'REV', 'WITHSCORES')
else
  r = redis.call('ZRANGE', KEYS[1], start, rank + n, 'WITHSCORES')
end
return {start, r}
