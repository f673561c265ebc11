-- Redlock, first phase, on one master. KEYS[1] lock  KEYS[2] fence
-- ARGV[1] token  ARGV[2] ttl ms. Returns the fence counter's value when
-- the lock was set, -1 when another holder has it. A missing counter (new,
-- or lost by a restart without persistence) counts as the server's clock
-- in microseconds: far above any count handed out before, so the fence
-- the quorum agrees on stays above every earlier one even when the master
-- that took part in the last grant lost its counter. Nothing is written
-- here: the second phase raises the quorum's counters.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return -1
end
local v = redis.call('GET', KEYS[2])
if v then
  return tonumber(v)
end
local t = redis.call('TIME')
return tonumber(t[1]) * 1000000 + tonumber(t[2])
