-- ack.lua: finish delivered jobs, each if its delivery still owns it.
-- KEYS[1] inflight, KEYS[2] jobs (unused), KEYS[3] meta, KEYS[4] stats,
-- KEYS[5] uniq, KEYS[6] uniqx (see push.lua and pop.lua)
-- ARGV[1] stats ttl ms, then pairs: id, receipt token
-- Returns one 1 or 0 per job: 0 when the job went back to the queue or was
-- delivered again (the token no longer matches).
local n = (#ARGV - 1) / 2
local fields = {}
for i = 1, n do
  local id = ARGV[2 * i]
  fields[#fields + 1] = id .. ':r'
  fields[#fields + 1] = id .. ':u'
end
local m = redis.call('HMGET', KEYS[3], unpack(fields))
local res, ids, del = {}, {}, {}
local now = nil
for i = 1, n do
  local id = ARGV[2 * i]
  if m[2 * i - 1] == ARGV[2 * i + 1] then
    res[i] = 1
    ids[#ids + 1] = id
    local d = #del
    del[d + 1], del[d + 2], del[d + 3], del[d + 4] = id .. ':v', id .. ':p', id .. ':a', fields[2 * i - 1]
    del[d + 5], del[d + 6], del[d + 7], del[d + 8] = id .. ':w', id .. ':t', id .. ':e', fields[2 * i]
    local u = m[2 * i]
    if u then
      -- The unique key outlives the job until its ttl ends.
      if not now then
        local t = redis.call('TIME')
        now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      end
      local until_ = tonumber(redis.call('ZSCORE', KEYS[6], u) or '0')
      if until_ <= now or until_ >= 1e15 then
        redis.call('ZREM', KEYS[6], u)
        if redis.call('HGET', KEYS[5], u) == id then
          redis.call('HDEL', KEYS[5], u)
        end
      end
    end
  else
    res[i] = 0
  end
end
if #ids > 0 then
  redis.call('ZREM', KEYS[1], unpack(ids))
  redis.call('HDEL', KEYS[3], unpack(del))
  local total = redis.call('HINCRBY', KEYS[4], 'processed', #ids)
  if total - #ids < 1 or math.floor(total / 1000) ~= math.floor((total - #ids) / 1000) then
    redis.call('PEXPIRE', KEYS[4], ARGV[1])
  end
end
return res
