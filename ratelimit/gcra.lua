-- GCRA over one string per limited key. Its value is a record of 24
-- bytes per limit used on the key: the limit (its emission interval and
-- tolerance, Burst * interval) and its theoretical arrival time (TAT),
-- each a little-endian double of microseconds (of Redis's clock for the
-- TAT). Binary, because number <-> text is most of a script's own cost
-- (sprintf, strtod: ~0.5µs each in Redis's Lua, measured), while
-- struct.pack/unpack are a few dozen ns. All numbers are integers below
-- 2^53, exact in doubles. The key is set to expire when every TAT in it
-- has passed (2 ms later at most): then every limit is back to a full
-- burst, as when the key is absent.
-- KEYS[1] the key; ARGV[1] n, the events to spend (negative: -n are
-- checked, nothing is spent or written); then per limit its 16 bytes:
-- interval and tolerance, packed as in the records.
-- Either every limit allows and all are spent, or nothing is written.
-- Returns {allowed, remaining, retry after, reset after, binding limit}.
-- A hot path: three calls (TIME, GET, SET PX), no tables but the reply's.
local k = KEYS[1]
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local n = tonumber(ARGV[1])
local peek = n < 0
if peek then n = -n end
local v = redis.pcall('GET', k)
if type(v) == 'table' then
  -- The hash of an earlier version of this package reads as a reset
  -- (SET replaces it; Peek leaves it).
  if v.err and redis.call('TYPE', k).ok == 'hash' then
    v = false
  else
    return v
  end
elseif v and (#v == 0 or #v % 24 ~= 0) then
  return redis.error_reply('WRONGTYPE ratelimit: the key holds no limiter state')
end
-- One pass over the limits, with no tables: each limit's TAT is read from
-- its record in v, and the results are kept for both outcomes (spent or
-- not) until it is known whether every limit allows.
local m = #ARGV - 1
local ok, retry, found, val = 1, 0, 0, ''
local remS, whichS, resetS = -1, 1, 0 -- if spent
local remP, whichP, resetP = -1, 1, 0 -- if not
for i = 1, m do
  local id = ARGV[i + 1]
  local iv, tol = struct.unpack('<dd', id)
  local tat = now
  if v then
    -- The record starts with id at a multiple of 24 (a match elsewhere
    -- is bytes of other numbers).
    local s = string.find(v, id, 1, true)
    while s and (s - 1) % 24 ~= 0 do s = string.find(v, id, s + 1, true) end
    if s then
      found = found + 24
      local x = struct.unpack('<d', v, s + 16)
      if x > now then tat = x end
    end
  end
  local new = tat + n * iv
  local over = new - now - tol
  if over > 0 then
    ok = 0
    if over > retry then retry = over end
  end
  local r = math.floor((tol - (new - now)) / iv)
  if remS < 0 or r < remS then remS, whichS = r, i end
  if new - now > resetS then resetS = new - now end
  r = math.floor((tol - (tat - now)) / iv)
  if remP < 0 or r < remP then remP, whichP = r, i end
  if tat - now > resetP then resetP = tat - now end
  val = val .. id .. struct.pack('<d', new)
end
if ok == 0 or peek then
  return {ok, remP, retry, resetP, whichP}
end
-- The key outlives every TAT in it, of this call's limits and of others'
-- (kept while ahead of now). PX counts from Redis's time in whole ms,
-- which may be up to 1 ms behind TIME's: 2 ms more than the TTL.
local ttl = resetS
if v and found ~= #v then
  for p = 1, #v, 24 do
    local x = struct.unpack('<d', v, p + 16)
    local id = string.sub(v, p, p + 15)
    if x > now then
      local mine = false
      for i = 1, m do
        if ARGV[i + 1] == id then mine = true end
      end
      if not mine then
        val = val .. string.sub(v, p, p + 23)
        if x - now > ttl then ttl = x - now end
      end
    end
  end
end
redis.call('SET', k, val, 'PX', math.ceil(ttl / 1000) + 2)
return {1, remS, 0, resetS, whichS}
