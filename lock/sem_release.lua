-- Semaphore release. ARGV[1] token. Returns 1 when released, 0 when the
-- token held no permit.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
wake(KEYS[2], KEYS[1])
return 1
