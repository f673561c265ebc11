-- Reads and deletes a session's hash in one step (RenewID): KEYS[1] is the
-- hash. Two renewals of one session cannot both copy it, and the old ID
-- reads nothing from the moment this runs.
local v = redis.call('HGETALL', KEYS[1])
if #v > 0 then
  redis.call('DEL', KEYS[1])
end
return v
