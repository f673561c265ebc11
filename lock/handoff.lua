-- Shared prefix of the mutex scripts (acquire, release, abandon).
-- KEYS[1] lock (owner token, PX lease)   KEYS[2] fence counter (no TTL)
-- KEYS[3] waiter FIFO (list of tokens)   KEYS[4] waiter info (hash:
--         token -> "deadline_ms ttl_ms channel"; channel may be empty)

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- next_fence reserves block fences of the counter k and returns the first:
-- a Locker hands the rest to its own waiters without a round trip (see
-- cohort.go), and the next grant's fences are above the whole block. A
-- counter below unseeded (missing, or created by a plain INCRBY of a fast
-- acquire after a restart without persistence lost it; see fast.go) is
-- first raised to the server's clock in microseconds, far above any count
-- handed out before and above earlier seeds as long as the clock does not
-- go back. (The seed is built as a string: a Lua number that large would
-- be written in exponent notation.) INCRBY first: on the usual path, one
-- command.
local unseeded = 1099511627776 -- 2^40; seeds are about 1.7e15
local function next_fence(k, block)
  local n = tonumber(block)
  local v = redis.call('INCRBY', k, n)
  if v < unseeded then
    local t = redis.call('TIME')
    redis.call('SET', k, t[1] .. string.format('%06d', tonumber(t[2])))
    v = redis.call('INCRBY', k, n)
  end
  return v - n + 1
end

-- handoff gives the free lock to the first live waiter: it sets the
-- waiter's token as owner, reserves the waiter's block of fences and publishes "fence token" to
-- the waiter's channel, so the woken waiter already holds the lock.
-- Expired entries are dropped. With check, a waiter whose channel has no
-- subscriber (its process died or lost its subscription) is dropped too.
-- When self is given and is the first live waiter, its entry is removed
-- and 'self' returned, for the caller to take the lock. When mine (the
-- caller Locker's channel) is given and the new owner waits on it, nothing
-- is published: the caller wakes its own waiter from the reply, a hop
-- through pub/sub shorter. Returns the new owner's token, 'self', or false
-- when no live waiter is left; and, second, the fence when the new owner
-- is the caller's own waiter (not published), else 0.
local function handoff(self, check, mine)
  local now = nil
  while true do
    local head = redis.call('LPOP', KEYS[3])
    if not head then
      return false
    end
    local info = redis.call('HGET', KEYS[4], head)
    redis.call('HDEL', KEYS[4], head)
    if info then
      now = now or now_ms()
      local dl, ttl, block, ch = string.match(info, '^(%d+) (%d+) (%d+) (.*)$')
      if dl and tonumber(dl) > now then
        if head == self then
          return 'self'
        end
        local fence = next_fence(KEYS[2], block)
        if mine and ch == mine then
          redis.call('SET', KEYS[1], head, 'PX', ttl)
          return head, fence
        end
        local n = 1
        if ch ~= '' then
          n = redis.call('PUBLISH', ch, string.format('%d %s', fence, head))
        end
        if n > 0 or not check then
          redis.call('SET', KEYS[1], head, 'PX', ttl)
          return head, 0
        end
      end
    end
  end
end

