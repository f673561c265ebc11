-- GCRA over one string per limited key. Its value packs, per limit, the
-- limit's theoretical arrival time (TAT) in microseconds of Redis's
-- clock: " <interval>:<tolerance>:<tat>" one after the other (a leading
-- space each). The key is set to expire when every TAT in it has passed
-- (2 ms later at most): then every limit is back to a full burst, as when
-- the key is absent.
-- KEYS[1] the key; ARGV[1] n, the events to spend (negative: -n are
-- checked, nothing is spent or written); then per limit its emission
-- interval and tolerance (Burst * interval), in microseconds, as decimal
-- integers. All numbers are integers below 2^53, exact in Lua's doubles;
-- they are written with %d (Lua's own number format would round them).
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
elseif v and string.byte(v) ~= 32 then
  return redis.error_reply('WRONGTYPE ratelimit: the key holds no limiter state')
end
-- One pass over the limits, with no tables: each limit's TAT is read from
-- its entry in v, and the results are kept for both outcomes (spent or
-- not) until it is known whether every limit allows.
local m = (#ARGV - 1) / 2
local ok, retry, found, val = 1, 0, 0, ''
local remS, whichS, resetS = -1, 1, 0 -- if spent
local remP, whichP, resetP = -1, 1, 0 -- if not
for i = 1, m do
  local ivs, tols = ARGV[2 * i], ARGV[2 * i + 1]
  local iv, tol = tonumber(ivs), tonumber(tols)
  local f = ' ' .. ivs .. ':' .. tols .. ':'
  local tat = now
  if v then
    local s, e = string.find(v, f, 1, true)
    if s then
      local d = string.match(v, '^%d+', e + 1)
      if not d then return redis.error_reply('WRONGTYPE ratelimit: the key holds no limiter state') end
      found = found + #f + #d
      local x = tonumber(d)
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
  val = string.format('%s%s%d', val, f, new)
end
if ok == 0 or peek then
  return {ok, remP, retry, resetP, whichP}
end
-- The key outlives every TAT in it, of this call's limits and of others'
-- (kept while ahead of now; an entry " i:t:" found in val is this call's:
-- a space begins each entry only). PX counts from Redis's time in whole
-- ms, which may be up to 1 ms behind TIME's: 2 ms more than the TTL.
local ttl = resetS
if v and found ~= #v then
  for e, x in string.gmatch(v, '( %d+:%d+:)(%d+)') do
    local xt = tonumber(x)
    if xt > now and not string.find(val, e, 1, true) then
      val = val .. e .. x
      if xt - now > ttl then ttl = xt - now end
    end
  end
end
redis.call('SET', k, val, 'PX', math.ceil(ttl / 1000) + 2)
return {1, remS, 0, resetS, whichS}
