-- release: delete KEYS[1] if ARGV[1] (the holder's token) still holds it.
-- Returns 1 when released, 0 when the key is gone or another token holds
-- it (that holder is never touched).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
