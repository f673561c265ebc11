-- handover: before a local handoff (cohort.go), extend the lease and/or
-- reserve more fences, while the token holds the lock.
-- ARGV[1] token  ARGV[2] ttl ms ('0' keeps the lease)
-- ARGV[3] fences to reserve ('0' none)
-- Returns 0 when the token does not hold the lock, else the first fence
-- reserved, or 1 when none was asked for.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] ~= '0' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if ARGV[3] ~= '0' then
  return next_fence(KEYS[2], ARGV[3])
end
return 1
