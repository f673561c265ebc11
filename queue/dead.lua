-- dead.lua: the newest dead jobs.
-- KEYS[1] dead, KEYS[2] jobs (unused), KEYS[3] meta (see push.lua and pop.lua)
-- ARGV[1] limit
-- Returns {id, died at ms, payload, priority, attempts, last error, ...}.
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
local out = {}
for i = 1, #ids, 2 do
  local id = ids[i]
  local m = redis.call('HMGET', KEYS[3], id .. ':p', id .. ':a', id .. ':e', id .. ':v')
  table.insert(out, id)
  table.insert(out, ids[i + 1])
  table.insert(out, m[4] or '')
  table.insert(out, m[1] or '0')
  table.insert(out, m[2] or '0')
  table.insert(out, m[3] or '')
end
return out
