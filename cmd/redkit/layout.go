package main

import "strings"

// layout is where one capability keeps its keys under the Kit's prefix.
// This table is the one place inspect learns key layouts from: when a
// package changes its keys, change its row.
type layout struct {
	kind string // capability: lock, rwlock, semaphore, queue, session
	head string // what follows the Kit's prefix, as in "lock:"
	// tagged: the name is a hash tag (redkit.HashTag), head + "{name}" +
	// suffix; else the name runs to the end of the key.
	tagged bool
	// parts maps the suffix after the name to what the key is; "" is the
	// key without suffix. A suffix not listed is reported as it is.
	parts map[string]string
	// index lists the first segments after head that mark per-user index
	// keys (sessions): "session:user:42" indexes user 42's sessions.
	index  []string
	source string // where the code builds these keys
}

// Parts of locks and queues that inspect reads.
const (
	partHolder   = "holder"    // the lock key itself: the holder's token, with the lock's TTL
	partFence    = "fence"     // fence counter (a string integer, no TTL)
	partWaiters  = "waiters"   // waiter queue (list)
	partReaders  = "readers"   // an RWMutex's readers
	partWaiting  = "waiting"   // ready jobs (zset)
	partDelayed  = "delayed"   // delayed jobs (zset)
	partInflight = "in-flight" // delivered, not acknowledged (zset)
	partDead     = "dead"      // dead jobs, if the queue keeps them
)

var layouts = []layout{
	{kind: "lock", head: "lock:", tagged: true, source: "lock/locker.go (mutexKeys)",
		parts: map[string]string{"": partHolder, ":fence": partFence, ":q": partWaiters, ":w": "waiter-leases"}},
	{kind: "rwlock", head: "rwlock:", tagged: true, source: "lock/rwmutex.go (RWMutex)",
		parts: map[string]string{"": partHolder, ":r": partReaders, ":ww": "writer-waiting", ":wake": "wake", ":fence": partFence}},
	{kind: "semaphore", head: "semaphore:", tagged: true, source: "lock/semaphore.go (Semaphore)",
		parts: map[string]string{"": partHolder, ":wake": "wake", ":fence": partFence}},
	{kind: "queue", head: "queue:", tagged: true, source: "queue/priority.go (newKeys)",
		parts: map[string]string{":ready": partWaiting, ":delayed": partDelayed, ":inflight": partInflight,
			":jobs": "jobs", ":meta": "meta", ":seq": "seq", ":signal": "signal", ":dead": partDead,
			":stats": "stats", ":uniq": "unique-keys", ":uniqx": "unique-expiry"}},
	// Sessions (session/manager.go): "session:{<id>}" is one session's
	// hash, "session:user:{<user>}" the index of a user's sessions.
	{kind: "session", head: "session:", source: "session/manager.go (sessionKey, userKey)",
		index: []string{"user"}},
}

// Cache keys (cache/cache.go): entries are "<name>:<key>", side keys
// "<name>#xf:<key>" (early-refresh metadata), "<name>#lock:<key>" (load
// lock) and "<name>#tag:<tag>" (tag sets); a name with ':', '#' or '%'
// is escaped (%3A, %23, %25).
var cacheSide = map[string]string{"xf:": "meta", "lock:": "load-lock", "tag:": "tag"}

// keyInfo is what inspect makes of one key (relative to the prefix).
type keyInfo struct {
	key  string // full key
	typ  string // TYPE
	kind string // lock, queue, session, cache, stream, other
	name string // the lock's, queue's, cache's name; the group for other
	part string // what the key is within its kind
}

// classify maps a key, without the prefix, to its kind, name and part.
func classify(rel, typ string) keyInfo {
	ki := keyInfo{typ: typ}
	if typ == "stream" {
		ki.kind, ki.name = "stream", rel
		return ki
	}
	for _, l := range layouts {
		rest, ok := strings.CutPrefix(rel, l.head)
		if !ok {
			continue
		}
		if !l.tagged {
			ki.kind, ki.name, ki.part = l.kind, rest, l.kind
			first, tail, _ := strings.Cut(rest, ":")
			for _, ix := range l.index {
				if first == ix && tail != "" {
					ki.name, ki.part = tail, "index"
				}
			}
			return ki
		}
		if !strings.HasPrefix(rest, "{") {
			break
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			break
		}
		ki.kind, ki.name = l.kind, unescapeTag(rest[1:end])
		suffix := rest[end+1:]
		if p, ok := l.parts[suffix]; ok {
			ki.part = p
		} else {
			ki.part = strings.TrimPrefix(suffix, ":")
		}
		return ki
	}
	// A cache entry or side key, a counter, a collection, or a key of
	// the application's own.
	i := strings.IndexAny(rel, ":#")
	if i < 0 {
		ki.kind, ki.name = "other", rel
		return ki
	}
	name := unescapeName(rel[:i])
	if rel[i] == '#' {
		for p, part := range cacheSide {
			if strings.HasPrefix(rel[i+1:], p) {
				ki.kind, ki.name, ki.part = "cache", name, part
				return ki
			}
		}
	}
	if rel[i] == ':' && typ == "string" {
		ki.kind, ki.name, ki.part = "cache", name, "entry"
		return ki
	}
	ki.kind, ki.name = "other", name
	return ki
}

var (
	tagUnescaper  = strings.NewReplacer("%7B", "{", "%7D", "}", "%25", "%")
	nameUnescaper = strings.NewReplacer("%3A", ":", "%23", "#", "%25", "%")
)

func unescapeTag(s string) string {
	if s == "%" { // redkit.HashTag("")
		return ""
	}
	return tagUnescaper.Replace(s)
}

func unescapeName(s string) string { return nameUnescaper.Replace(s) }
