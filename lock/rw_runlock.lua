-- RWMutex read unlock. ARGV[1] token. Wakes waiters when the last reader
-- leaves. Returns 1 when released, 0 when the token held no read lock.
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then
  return 0
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_ms())
if redis.call('ZCARD', KEYS[2]) == 0 then
  wake(KEYS[4], KEYS[1])
end
return 1
