-- byscore.lua: the members with scores in [min, max], with their scores,
-- and the rank of the first one (how many members score below min), in
-- one round trip.
-- KEYS[1] sorted set
-- ARGV[1] min, ARGV[2] max (Redis score syntax: "1.5", "-inf", "+inf")
-- Returns {first rank, {member, score, member, score, ...}}.
local first = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. ARGV[1])
local r = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2], 'BYSCORE', 'WITHSCORES')
return {first, r}
