-- extend: reset the lease if the caller's token holds the lock.
-- KEYS[1] lock  ARGV[1] token  ARGV[2] ttl ms
-- Returns 1 when extended, 0 when the token did not hold the lock.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
