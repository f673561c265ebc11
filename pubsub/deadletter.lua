-- Moves one pending entry of a group to the dead-letter stream, with why,
-- and acknowledges it, in one step. An entry no longer pending (acked by
-- its consumer meanwhile) is left alone; one trimmed from the stream is
-- only acknowledged.
-- KEYS[1] stream, KEYS[2] dead-letter stream (same hash tag)
-- ARGV[1] group, ARGV[2] entry ID, ARGV[3] reason, ARGV[4] deliveries
-- Returns 1 moved, 0 trimmed (acknowledged), -1 not pending.
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 then
  return -1
end
local e = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if #e == 0 then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
  return 0
end
local fields = e[1][2]
local payload = ''
for i = 1, #fields, 2 do
  if fields[i] == 'd' then
    payload = fields[i + 1]
  end
end
redis.call('XADD', KEYS[2], '*', 'd', payload, 'reason', ARGV[3], 'source', ARGV[2],
  'group', ARGV[1], 'deliveries', ARGV[4])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1
