-- Reads and deletes a user's index in one step (DestroyUser): KEYS[1] is
-- the index. A session indexed after this belongs to a later login.
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return ids
