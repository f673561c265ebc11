-- pop.lua: deliver the highest-priority ready job to one worker, atomically.
-- A full pop (ARGV[8] = '1'; Pop and PopWait always, Work now and then)
-- first returns due delayed jobs and in-flight jobs whose visibility
-- deadline has passed to the ready set (up to ARGV[4] of each); a light
-- one does that only when nothing is ready. Then the job with the highest
-- priority (the oldest among equals) moves to the in-flight set, scored by
-- its deadline, under a fresh receipt token. With ARGV[5] = '1' it also
-- removes dead jobs older than the retention and releases unique keys
-- whose ttl ended.
-- KEYS[1] ready, KEYS[2] delayed, KEYS[3] inflight (zset: id -> deadline ms),
-- KEYS[4] jobs (payloads of jobs pushed before they moved to meta), KEYS[5] meta,
-- KEYS[6] seq, KEYS[7] signal, KEYS[8] dead (zset: id -> when it died, ms),
-- KEYS[9] uniq, KEYS[10] uniqx, KEYS[11] stats (see push.lua)
-- ARGV[1] visibility ms, ARGV[2] (unused), ARGV[3] worker, ARGV[4] limit,
-- ARGV[5] housekeeping '1'/'0', ARGV[6] dead retention ms, ARGV[7] stats ttl ms,
-- ARGV[8] full '1'/'0', ARGV[9] '1' when the caller was not woken for
-- this pop (it just finished a job): if it takes the last ready job, the
-- wake-up tokens left are stale and go; ARGV[10] how many jobs at most,
-- ARGV[11..] a receipt token for each
-- Returns {1, now, reclaimed, 1 if more are ready, deadline, count, then
-- per job: id, payload, priority, attempts, last error, ready time (-1:
-- the time in the id), then, when it dropped the wake-up tokens, the next
-- delayed job's due time} or, when nothing is ready, {0, next due time or
-- -1, now, reclaimed}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[4])
local reclaimed = 0

local function requeue(id, ready_at)
  local p = redis.call('HGET', KEYS[5], id .. ':p')
  if not p then
    return -- the job's data is gone (queue deleted meanwhile): drop the id
  end
  local seq = redis.call('INCR', KEYS[6])
  redis.call('ZADD', KEYS[1], p, string.format('%015.0f', 1e15 - seq) .. ':' .. id)
  redis.call('HSET', KEYS[5], id .. ':t', ready_at)
end

-- first[key] caches the earliest member of delayed and inflight.
local first = {}
local function earliest_of(key)
  if first[key] == nil then
    local d = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    first[key] = false
    if #d > 0 then
      first[key] = tonumber(d[2])
    end
  end
  return first[key]
end

-- Returns how many jobs it made ready.
local function reclaim()
  local n = 0
  local at = earliest_of(KEYS[2])
  if at and at <= now then
    local due = redis.call('ZRANGE', KEYS[2], '-inf', now, 'BYSCORE', 'LIMIT', 0, limit, 'WITHSCORES')
    for i = 1, #due, 2 do
      redis.call('ZREM', KEYS[2], due[i])
      requeue(due[i], due[i + 1])
    end
    n = n + #due / 2
    first[KEYS[2]] = nil
  end
  at = earliest_of(KEYS[3])
  if at and at <= now then
    local expired = redis.call('ZRANGE', KEYS[3], '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
    for _, id in ipairs(expired) do
      redis.call('ZREM', KEYS[3], id)
      redis.call('HDEL', KEYS[5], id .. ':r', id .. ':w')
      requeue(id, now)
    end
    reclaimed = #expired
    n = n + #expired
    first[KEYS[3]] = nil
  end
  return n
end

local function housekeeping()
  local retention = tonumber(ARGV[6])
  local old = redis.call('ZRANGE', KEYS[8], '-inf', now - retention, 'BYSCORE', 'LIMIT', 0, limit)
  for _, id in ipairs(old) do
    redis.call('ZREM', KEYS[8], id)
    redis.call('HDEL', KEYS[4], id)
    redis.call('HDEL', KEYS[5], id .. ':v', id .. ':p', id .. ':a', id .. ':r', id .. ':w', id .. ':t', id .. ':e', id .. ':u')
  end
  local ended = redis.call('ZRANGE', KEYS[10], '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
  for _, u in ipairs(ended) do
    local holder = redis.call('HGET', KEYS[9], u)
    if holder and redis.call('HGET', KEYS[5], holder .. ':u') == u then
      redis.call('ZADD', KEYS[10], 1e15, u) -- released when the job ends
    else
      redis.call('ZREM', KEYS[10], u)
      redis.call('HDEL', KEYS[9], u)
    end
  end
  redis.call('PEXPIRE', KEYS[11], ARGV[7])
end

-- take delivers up to n jobs: {jobs fields..., count, more}.
local function take(n)
  -- Numbers become text once each (sprintf, ~0.5µs in Redis's Lua), not
  -- once per job.
  local deadline = now + tonumber(ARGV[1])
  local dl = tostring(deadline)
  while true do
    local top = redis.call('ZPOPMAX', KEYS[1], n)
    if #top == 0 then
      return nil
    end
    local got = #top / 2
    local more = 0
    if got == n and redis.call('ZCARD', KEYS[1]) > 0 then
      more = 1
    end
    local ids, fields = {}, {}
    for i = 1, got do
      local id = string.sub(top[2 * i - 1], 17)
      ids[i] = id
      local b = 5 * (i - 1)
      fields[b + 1], fields[b + 2], fields[b + 3] = id .. ':v', id .. ':p', id .. ':a'
      fields[b + 4], fields[b + 5] = id .. ':e', id .. ':t'
    end
    local m = redis.call('HMGET', KEYS[5], unpack(fields))
    local out, za, hs = {}, {}, {}
    local k = 0
    for i = 1, got do
      local id = ids[i]
      local b = 5 * (i - 1)
      local payload = m[b + 1] or redis.call('HGET', KEYS[4], id)
      if payload then
        k = k + 1
        local attempts = tonumber(m[b + 3] or '0') + 1
        za[#za + 1] = dl
        za[#za + 1] = id
        hs[#hs + 1] = fields[b + 3]
        hs[#hs + 1] = attempts
        hs[#hs + 1] = id .. ':r'
        hs[#hs + 1] = ARGV[10 + k]
        hs[#hs + 1] = id .. ':w'
        hs[#hs + 1] = ARGV[3]
        local o = #out
        out[o + 1], out[o + 2], out[o + 3] = id, payload, m[b + 2] or top[2 * i]
        out[o + 4], out[o + 5], out[o + 6] = attempts, m[b + 4] or '', tonumber(m[b + 5] or '-1')
      end
    end
    if k > 0 then
      redis.call('ZADD', KEYS[3], unpack(za))
      redis.call('HSET', KEYS[5], unpack(hs))
      if more == 0 and ARGV[9] == '1' then
        -- A worker that was not woken took the last jobs: the wake-up
        -- tokens left are for jobs already taken, or tell due times,
        -- which the reply tells instead.
        redis.call('DEL', KEYS[7])
        local d = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
        if #d > 0 then
          out[#out + 1] = tonumber(d[2])
        end
      end
      return {1, now, reclaimed, more, deadline, k, unpack(out)}
    end
  end
end

local full = ARGV[8] == '1'
if full then
  reclaim()
end
if ARGV[5] == '1' then
  housekeeping()
end
local want = tonumber(ARGV[10])
local got = take(want)
if got then
  return got
end
if not full and reclaim() > 0 then
  got = take(want)
  if got then
    return got
  end
end

-- Empty: stale wake-up tokens and the FIFO counter can go.
redis.call('DEL', KEYS[6], KEYS[7])

local due_at = -1
local function consider(at)
  if at and (due_at < 0 or at < due_at) then
    due_at = at
  end
end
consider(earliest_of(KEYS[2]))
consider(earliest_of(KEYS[3]))
if ARGV[5] == '1' then
  -- When the next clean-up is due.
  local d = redis.call('ZRANGE', KEYS[8], 0, 0, 'WITHSCORES')
  if #d > 0 then
    consider(tonumber(d[2]) + tonumber(ARGV[6]))
  end
  d = redis.call('ZRANGE', KEYS[10], 0, 0, 'WITHSCORES')
  if #d > 0 and tonumber(d[2]) < 1e15 then
    consider(tonumber(d[2]))
  end
end
return {0, due_at, now, reclaimed}
