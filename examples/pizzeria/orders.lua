-- Fenced inventory write for the orders feature. KEYS[1] the inventory
-- hash (pizza -> stock, plus "_fence": the fence of the last write).
-- ARGV[1] the writer's fence, then pairs of pizza, new stock.
-- Refuses (returns 0) a write whose fence is not above the last one: a
-- holder whose lock expired (a pause, a slow GC) cannot overwrite the
-- work of the holder after it. Returns 1 when written.
local last = tonumber(redis.call('HGET', KEYS[1], '_fence') or '0')
local fence = tonumber(ARGV[1])
if fence <= last then
  return 0
end
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('HSET', KEYS[1], '_fence', ARGV[1])
return 1
