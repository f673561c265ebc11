-- Shared prefix of the RWMutex and Semaphore scripts.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- next_fence increments the fence counter k. A missing counter (a restart
-- without persistence lost it) is first seeded with the server's clock in
-- microseconds, far above any count handed out before and above earlier
-- seeds as long as the clock does not go back. (Built as a string: a Lua
-- number that large would be written in exponent notation.)
local function next_fence(k)
  if redis.call('EXISTS', k) == 0 then
    local t = redis.call('TIME')
    redis.call('SET', k, t[1] .. string.format('%06d', tonumber(t[2])))
  end
  return redis.call('INCR', k)
end

-- register adds a waiting Locker's notification channel to the wake set
-- wk until now+lease (waiters refresh it on every attempt).
local function register(wk, ch, now, lease)
  if ch ~= '' then
    redis.call('ZADD', wk, now + lease, ch)
    redis.call('PEXPIRE', wk, lease)
  end
end

-- wake publishes "w <name>" to every live channel of the wake set wk and
-- clears it: each woken waiter tries again and registers again if it
-- still has to wait (in the same script, so no wake-up is lost).
local function wake(wk, name)
  local chs = redis.call('ZRANGEBYSCORE', wk, now_ms(), '+inf')
  for _, ch in ipairs(chs) do
    redis.call('PUBLISH', ch, 'w ' .. name)
  end
  redis.call('DEL', wk)
end

-- expire_at_max makes the zset k expire with its latest lease.
local function expire_at_max(k)
  local top = redis.call('ZRANGE', k, -1, -1, 'WITHSCORES')
  if top[2] then
    redis.call('PEXPIREAT', k, top[2])
  end
end

