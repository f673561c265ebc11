-- Redlock, first phase, on one master. KEYS[1] lock  KEYS[2] fence
-- ARGV[1] token  ARGV[2] ttl ms. Returns the fence counter's value when
-- the lock was set, -1 when another holder has it.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return -1
end
return tonumber(redis.call('GET', KEYS[2]) or '0')
