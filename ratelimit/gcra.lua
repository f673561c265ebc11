-- GCRA over one hash per limited key: a field per limit holds its
-- theoretical arrival time (TAT), in microseconds of Redis's clock, and
-- field "e" the time the key is set to expire.
-- KEYS[1] the hash; ARGV[1] n, the events to spend (negative: -n are
-- checked, nothing is spent or written); then per limit its field,
-- emission interval and tolerance (Burst * interval), in microseconds.
-- All numbers are integers below 2^53, exact in Lua's doubles; redis.call
-- writes a number with %.17g, so they are stored exactly as integers.
-- Either every limit allows and all are spent, or nothing is written.
-- Returns {allowed, remaining, retry after, reset after, binding limit}.
-- A hot path: three calls (TIME, HMGET, HSET) unless the expiry must move.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local peek = n < 0
if peek then n = -n end
if #ARGV == 4 then
  -- One limit (Allow, AllowN): the same as below, without tables (the
  -- "redkit Allow" rows of bench/ratelimit.go).
  local f, iv, tol = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
  local v = redis.call('HMGET', KEYS[1], 'e', f)
  local tat = tonumber(v[2]) or now
  if tat < now then tat = now end
  local new = tat + n * iv
  local over = new - now - tol
  if over > 0 or peek then
    if over < 0 then over = 0 end
    return {over > 0 and 0 or 1, math.floor((tol - (tat - now)) / iv), over, tat - now, 1}
  end
  local reset = new - now
  if now + reset > (tonumber(v[1]) or 0) then
    local ttl = reset + math.max(reset, 10000000)
    redis.call('HSET', KEYS[1], f, new, 'e', now + ttl)
    redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000))
  else
    redis.call('HSET', KEYS[1], f, new)
  end
  return {1, math.floor((tol - reset) / iv), 0, reset, 1}
end
local m = (#ARGV - 1) / 3
local fields = {'e'}
for i = 1, m do fields[i + 1] = ARGV[3 * i - 1] end
local v = redis.call('HMGET', KEYS[1], unpack(fields))
local ok, retry = 1, 0
local tats, news = {}, {}
for i = 1, m do
  local tat = tonumber(v[i + 1]) or now
  if tat < now then tat = now end
  local new = tat + n * tonumber(ARGV[3 * i])
  local over = new - now - tonumber(ARGV[3 * i + 1])
  if over > 0 then
    ok = 0
    if over > retry then retry = over end
  end
  tats[i], news[i] = tat, new
end
local spend = ok == 1 and not peek
local rem, reset, which = -1, 0, 1
for i = 1, m do
  local x = tats[i]
  if spend then x = news[i] end
  local r = math.floor((tonumber(ARGV[3 * i + 1]) - (x - now)) / tonumber(ARGV[3 * i]))
  if rem < 0 or r < rem then rem, which = r, i end
  if x - now > reset then reset = x - now end
end
if spend then
  local set = {}
  for i = 1, m do
    set[2 * i - 1] = fields[i + 1]
    set[2 * i] = news[i]
  end
  -- The key must outlive every TAT in it (of this call's limits and of
  -- others'). It is set to expire at "e", which moves only when this
  -- call's need passes it, and then past the need by the larger of the
  -- reset time and 10s: so PEXPIRE runs at most about once per 10s of a
  -- key in use (measured: a tenth of the script's cost when every call
  -- moved it), and an idle key lives at most that much past its reset.
  local e = tonumber(v[1]) or 0
  if now + reset > e then
    local ttl = reset + math.max(reset, 10000000)
    set[2 * m + 1] = 'e'
    set[2 * m + 2] = now + ttl
    redis.call('HSET', KEYS[1], unpack(set))
    redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000))
  else
    redis.call('HSET', KEYS[1], unpack(set))
  end
end
return {ok, rem, retry, reset, which}
