-- abandon: a waiter gives up (wait over, ctx done, or a failed call that
-- may have run). Remove its queue entry and, if the lock was set or
-- handed to it meanwhile, release it to the next waiter: no orphan lock.
-- ARGV[1] token  ARGV[2] '1' to drop waiters with no subscriber
-- Returns 1 when it released a lock the token held, else 0.
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('LREM', KEYS[3], 1, ARGV[1])
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[3]) == 1 then
  handoff(nil, ARGV[2] == '1')
end
return 1
