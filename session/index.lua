-- Adds or refreshes a session in its user's index: KEYS[1] is the index, a
-- sorted set of session IDs scored by each session's deadline (unix ms).
-- ARGV[1] the session ID, ARGV[2] its deadline, ARGV[3] now (unix ms).
-- Entries past their deadline are pruned; a deadline only moves later (GT);
-- the index expires with its last session.
local idx = KEYS[1]
redis.call('ZREMRANGEBYSCORE', idx, '-inf', '(' .. ARGV[3])
redis.call('ZADD', idx, 'GT', ARGV[2], ARGV[1])
local top = redis.call('ZREVRANGE', idx, 0, 0, 'WITHSCORES')
if top[2] then
  redis.call('PEXPIREAT', idx, top[2])
end
return 1
