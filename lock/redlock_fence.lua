-- Redlock, second phase: raise the fence counter to ARGV[2] (the highest
-- counter of the quorum plus one) while ARGV[1] holds KEYS[1]. Any later
-- quorum shares a master with this one, so its fence is higher.
-- Returns 1, or 0 when the token no longer holds the lock.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[2])
end
return 1
