-- GCRA over one hash per limited key: a field per limit holds its
-- theoretical arrival time (TAT), in microseconds of Redis's clock.
-- KEYS[1] the hash; ARGV[1] n, the events to spend (negative: -n are
-- checked, nothing is spent or written); then per
-- limit its field, emission interval and tolerance (Burst * interval), in
-- microseconds. All numbers are integers below 2^53, exact in Lua's doubles.
-- Either every limit allows and all are spent, or nothing is written.
-- Returns {allowed, remaining, retry after, reset after, binding limit}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local peek = n < 0
if peek then n = -n end
local m = (#ARGV - 1) / 3
local fields = {}
for i = 1, m do fields[i] = ARGV[3 * i - 1] end
local tats = redis.call('HMGET', KEYS[1], unpack(fields))
local ok, rem, retry, reset, which = 1, -1, 0, 0, 1
local tatv, news = {}, {}
for i = 1, m do
  local tat = tonumber(tats[i]) or now
  if tat < now then tat = now end
  local new = tat + n * tonumber(ARGV[3 * i])
  local over = new - now - tonumber(ARGV[3 * i + 1])
  if over > 0 then
    ok = 0
    if over > retry then retry = over end
  end
  tatv[i], news[i] = tat, new
end
for i = 1, m do
  local v = tatv[i]
  if ok == 1 and not peek then v = news[i] end
  local r = math.floor((tonumber(ARGV[3 * i + 1]) - (v - now)) / tonumber(ARGV[3 * i]))
  if rem < 0 or r < rem then rem, which = r, i end
  if v - now > reset then reset = v - now end
end
if ok == 1 and not peek then
  local set = {}
  for i = 1, m do
    set[2 * i - 1] = fields[i]
    set[2 * i] = string.format('%d', news[i])
  end
  redis.call('HSET', KEYS[1], unpack(set))
  -- Expire with the last limit to get back to a full burst, never sooner
  -- than a limit of another call needs.
  local ms = math.ceil(reset / 1000)
  if redis.call('PTTL', KEYS[1]) < ms then
    redis.call('PEXPIRE', KEYS[1], ms)
  end
end
return {ok, rem, retry, reset, which}
