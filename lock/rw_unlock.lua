-- RWMutex write unlock, also run by a writer that gives up waiting.
-- ARGV[1] token. Returns 1 when released, 0 when the token did not hold
-- the write lock.
local waited = redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  if waited == 1 then
    wake(KEYS[4], KEYS[1]) -- readers held back by this writer may go
  end
  return 0
end
redis.call('DEL', KEYS[1])
wake(KEYS[4], KEYS[1])
return 1
