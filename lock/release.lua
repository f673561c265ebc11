-- release: delete the lock if the caller's token holds it, then hand it
-- to the first live waiter.
-- ARGV[1] token  ARGV[2] '1' to drop waiters with no subscriber
-- ARGV[3] waiter lease ms  ARGV[4] the caller Locker's channel
-- ARGV[5..] triples of token, ttl ms, fence block: waiters of the caller's Locker that
-- arrived while it held the lock; they join the queue first (behind
-- those already in it), saving each a round trip.
-- Returns {1, new owner's token or '', fence} when released, {0, '', 0}
-- when the token did not hold the lock. fence is non-zero when the new
-- owner is a waiter of the caller's Locker: then nothing was published,
-- and the caller wakes it with that fence.
local n = #ARGV
if n > 4 then
  local lease = tonumber(ARGV[3])
  local deadline = now_ms() + lease
  for i = 5, n, 3 do
    local info = string.format('%d %s %s %s', deadline, ARGV[i + 1], ARGV[i + 2], ARGV[4])
    if redis.call('HSET', KEYS[4], ARGV[i], info) == 1 then
      redis.call('RPUSH', KEYS[3], ARGV[i])
    end
  end
  redis.call('PEXPIRE', KEYS[3], lease)
  redis.call('PEXPIRE', KEYS[4], lease)
end
local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[1] then
  if not cur and n > 4 then
    handoff(nil, ARGV[2] == '1') -- free (expired): serve who just queued
  end
  return {0, '', 0}
end
redis.call('DEL', KEYS[1])
local to, fence = false, 0
if redis.call('EXISTS', KEYS[3]) == 1 then
  to, fence = handoff(nil, ARGV[2] == '1', ARGV[4] ~= '' and ARGV[4] or nil)
end
return {1, to or '', fence or 0}
