package session

import (
	_ "embed"

	"github.com/redis/rueidis"
)

// The scripts run with EVALSHA, falling back to EVAL on NOSCRIPT
// (rueidis.Lua). Each touches one key, so they run on a cluster.
var (
	//go:embed take.lua
	takeLua string
	//go:embed index.lua
	indexLua string
	//go:embed list.lua
	listLua string
	//go:embed takeindex.lua
	takeIndexLua string
)

// Shebangs (Redis 7.0+): writes that add data are refused at maxmemory;
// scripts that only shrink or delete run regardless.
const (
	adds   = "#!lua\n"
	shrink = "#!lua flags=allow-oom\n"
)

var (
	takeScript      = rueidis.NewLuaScript(shrink + takeLua)
	indexScript     = rueidis.NewLuaScript(adds + indexLua)
	listScript      = rueidis.NewLuaScript(shrink + listLua)
	takeIndexScript = rueidis.NewLuaScript(shrink + takeIndexLua)
)
