-- Deletes a consumer of a group only when it has no pending entry, so
-- no entry is ever dropped with its consumer.
-- KEYS[1] stream; ARGV[1] group, ARGV[2] consumer
-- Returns 1 deleted, 0 kept (it has pending entries).
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #p > 0 then
  return 0
end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
