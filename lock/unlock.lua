-- unlock: delete KEYS[1] if ARGV[1] holds it (Redlock, no queue).
-- Returns 1 when released, 0 when the token did not hold the lock.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
