package lock

import (
	_ "embed"

	"github.com/redis/rueidis"
)

// The scripts are sent with EVALSHA, falling back to EVAL on NOSCRIPT
// (rueidis.Lua). Each touches only keys that share one hash tag, so they
// run on a cluster.
var (
	//go:embed handoff.lua
	handoffLua string
	//go:embed acquire.lua
	acquireLua string
	//go:embed release.lua
	releaseLua string
	//go:embed abandon.lua
	abandonLua string
	//go:embed extend.lua
	extendLua string
	//go:embed handover.lua
	handoverLua string
	//go:embed seed.lua
	seedLua string

	//go:embed rwmutex.lua
	rwLua string
	//go:embed rw_rlock.lua
	rwRLockLua string
	//go:embed rw_lock.lua
	rwLockLua string
	//go:embed rw_runlock.lua
	rwRUnlockLua string
	//go:embed rw_unlock.lua
	rwUnlockLua string
	//go:embed rw_rextend.lua
	rwRExtendLua string

	//go:embed sem_acquire.lua
	semAcquireLua string
	//go:embed sem_release.lua
	semReleaseLua string
	//go:embed sem_extend.lua
	semExtendLua string

	//go:embed redlock_acquire.lua
	redlockAcquireLua string
	//go:embed redlock_fence.lua
	redlockFenceLua string
)

// Shebangs (Redis 7.0+): scripts that take a lock are refused with an
// OOM error when Redis is at maxmemory (without one, Redis lets a script
// write once an earlier command in it has written, so an acquire could
// succeed at maxmemory or fail half-way); scripts that release or extend
// run regardless, so holders can always let go and keep their leases.
const (
	takes = "#!lua\n"
	frees = "#!lua flags=allow-oom\n"
)

var (
	acquireScript = rueidis.NewLuaScript(takes + handoffLua + acquireLua)
	releaseScript = rueidis.NewLuaScript(frees + handoffLua + releaseLua)
	abandonScript = rueidis.NewLuaScript(frees + handoffLua + abandonLua)
	extendScript  = rueidis.NewLuaScript(frees + extendLua)
	// handover may reserve fences at maxmemory too: INCRBY of an
	// existing counter takes no memory, and a release must not fail.
	handoverScript = rueidis.NewLuaScript(frees + handoffLua + handoverLua)
	seedScript     = rueidis.NewLuaScript(takes + handoffLua + seedLua)

	rwRLockScript   = rueidis.NewLuaScript(takes + rwLua + rwRLockLua)
	rwLockScript    = rueidis.NewLuaScript(takes + rwLua + rwLockLua)
	rwRUnlockScript = rueidis.NewLuaScript(frees + rwLua + rwRUnlockLua)
	rwUnlockScript  = rueidis.NewLuaScript(frees + rwLua + rwUnlockLua)
	rwRExtendScript = rueidis.NewLuaScript(frees + rwLua + rwRExtendLua)

	semAcquireScript = rueidis.NewLuaScript(takes + rwLua + semAcquireLua)
	semReleaseScript = rueidis.NewLuaScript(frees + rwLua + semReleaseLua)
	semExtendScript  = rueidis.NewLuaScript(frees + rwLua + semExtendLua)

	redlockAcquireScript = rueidis.NewLuaScript(takes + redlockAcquireLua)
	redlockFenceScript   = rueidis.NewLuaScript(takes + redlockFenceLua)
)
