-- acquire: take the lock if free (and no live waiter is ahead), else
-- optionally queue the caller.
-- ARGV[1] token  ARGV[2] ttl ms  ARGV[3] '1' to queue when held
-- ARGV[4] waiter lease ms  ARGV[5] notification channel ('' = poll only)
-- ARGV[6] '1' to drop waiters whose channel has no subscriber
-- ARGV[7] fences to reserve (1, or a Locker's block for local handoffs)
-- Returns {1, fence} acquired now, {2, fence} already handed to the
-- caller, {0, pttl} held by someone else.
local token = ARGV[1]
if redis.call('EXISTS', KEYS[3]) == 0 then
  -- Nobody waits: the common, uncontended case.
  if redis.call('SET', KEYS[1], token, 'NX', 'PX', ARGV[2]) then
    return {1, next_fence(KEYS[2], ARGV[7])}
  end
end
local cur = redis.call('GET', KEYS[1])
if cur == token then
  return {2, tonumber(redis.call('GET', KEYS[2]) or '0') - tonumber(ARGV[7]) + 1}
end
if not cur then
  local r = handoff(token, ARGV[6] == '1')
  if not r or r == 'self' then
    redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
    return {1, next_fence(KEYS[2], ARGV[7])}
  end
end
if ARGV[3] == '1' then
  local lease = tonumber(ARGV[4])
  local info = string.format('%d %s %s %s', now_ms() + lease, ARGV[2], ARGV[7], ARGV[5])
  if redis.call('HSET', KEYS[4], token, info) == 1 then
    redis.call('RPUSH', KEYS[3], token)
  end
  redis.call('PEXPIRE', KEYS[3], lease)
  redis.call('PEXPIRE', KEYS[4], lease)
end
return {0, redis.call('PTTL', KEYS[1])}
