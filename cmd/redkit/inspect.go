package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
)

const inspectUsage = `
Usage: redkit inspect [--prefix P] [flags]

SCANs the keys under prefix P (on every master of a cluster; never KEYS)
and summarises them by capability:

	locks     mutexes, RWMutexes and semaphores: held or free, fence, TTL, waiters
	queues    waiting, delayed, in-flight and dead jobs per queue
	streams   every key of TYPE stream: length, and per consumer group
	          consumers, pending entries and lag
	sessions  keys under session:, and per-user index keys
	caches    entries and side keys (tags, load locks, refresh metadata) per cache
	other     the rest, by first key segment and type

The prefix is the Kit's Config.KeyPrefix exactly as configured ("app:",
with its colon); it defaults to REDIS_KEY_PREFIX or the URL's key_prefix.
An empty prefix inspects every key.

Exit status: 0 ok, 1 failure (Redis unreachable), 2 usage error.
`

// Inspection is inspect's result (its --json output).
type Inspection struct {
	Prefix    string       `json:"prefix"`
	Nodes     int          `json:"nodes"`
	Scanned   int          `json:"scanned"`
	Truncated bool         `json:"truncated,omitempty"` // --limit reached
	Locks     []LockInfo   `json:"locks"`
	Queues    []QueueInfo  `json:"queues"`
	Streams   []StreamInfo `json:"streams"`
	Sessions  SessionInfo  `json:"sessions"`
	Caches    []CacheInfo  `json:"caches"`
	Other     []OtherInfo  `json:"other"`
}

// LockInfo is one lock, RWMutex or semaphore.
type LockInfo struct {
	Kind    string `json:"kind"` // lock, rwlock, semaphore
	Name    string `json:"name"`
	Held    bool   `json:"held"`
	State   string `json:"state"`             // free, held; for an RWMutex read-held or write-held
	Holders int64  `json:"holders,omitempty"` // readers or permits held, for RWMutex and semaphores
	Fence   int64  `json:"fence"`             // the counter: the last fence handed out; 0 = none yet
	TTLMS   int64  `json:"ttl_ms"`            // the holder key's remaining TTL; -1 none, -2 not held
	Waiters int64  `json:"waiters"`
}

// QueueInfo is one queue's depths.
type QueueInfo struct {
	Name     string `json:"name"`
	Waiting  int64  `json:"waiting"`
	Delayed  int64  `json:"delayed"`
	InFlight int64  `json:"in_flight"`
	Dead     int64  `json:"dead"`
}

// StreamInfo is one stream and its consumer groups.
type StreamInfo struct {
	Key    string      `json:"key"`
	Length int64       `json:"length"`
	Groups []GroupInfo `json:"groups"`
}

// GroupInfo is one consumer group of a stream.
type GroupInfo struct {
	Name      string `json:"name"`
	Consumers int64  `json:"consumers"`
	Pending   int64  `json:"pending"`
	Lag       int64  `json:"lag"` // -1 when the server cannot tell (before 7.0, or after XDEL/XTRIM)
}

// SessionInfo counts the keys under session:.
type SessionInfo struct {
	Keys    int        `json:"keys"`    // session keys (not index keys)
	Indexes int        `json:"indexes"` // per-user index keys
	Users   []UserInfo `json:"users,omitempty"`
}

// UserInfo is one per-user index key: its user and how many members
// (sessions) it lists.
type UserInfo struct {
	User     string `json:"user"`
	Sessions int64  `json:"sessions"`
}

// CacheInfo counts one cache's keys.
type CacheInfo struct {
	Name    string `json:"name"`
	Entries int    `json:"entries"` // value keys (a cache.Counter's keys count here too)
	Tags    int    `json:"tags"`
	Meta    int    `json:"meta"`    // early-refresh metadata keys
	Loading int    `json:"loading"` // load locks held now
}

// OtherInfo counts keys no layout claims, by first segment and type.
type OtherInfo struct {
	Group string `json:"group"`
	Type  string `json:"type"`
	Count int    `json:"count"`
}

func runInspect(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("inspect", inspectUsage)
	var c conn
	c.register(fs, 60*time.Second, "print JSON instead of tables")
	prefix := fs.String("prefix", "", "key prefix to inspect (default: the Kit's key prefix)")
	limit := fs.Int("limit", 200000, "stop after scanning this many keys")
	if code := fs.parse(args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError(stderr, "unexpected argument %q", fs.Arg(0))
	}
	if *limit < 1 {
		return fs.usageError(stderr, "--limit must be at least 1 (got %d)", *limit)
	}
	cfg, err := c.config()
	if err != nil {
		return fs.usageError(stderr, "%v", err)
	}
	p := cfg.KeyPrefix
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "prefix" {
			p = *prefix
		}
	})
	if p != "" && !strings.HasSuffix(p, ":") {
		fmt.Fprintf(stderr, "redkit inspect: note: prefix %q has no trailing ':'; keys are read as written by a Kit with exactly this KeyPrefix\n", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	k, err := c.open(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "redkit inspect:", err)
		return exitFail
	}
	defer k.Close()
	in, err := inspect(ctx, k, where(cfg), p, *limit)
	if err != nil {
		fmt.Fprintln(stderr, "redkit inspect:", err)
		return exitFail
	}
	if c.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(in)
		return exitOK
	}
	printInspection(stdout, in)
	return exitOK
}

// scanCount is the COUNT hint of each SCAN step.
const scanCount = 1000

// inspect scans the keys under prefix on every master and reads what
// each capability's keys say.
func inspect(ctx context.Context, k *redkit.Kit, addr, prefix string, limit int) (*Inspection, error) {
	nodes, err := masters(ctx, k, addr)
	if err != nil {
		return nil, err
	}
	in := &Inspection{Prefix: prefix, Nodes: len(nodes), // lists as [], never null, in JSON
		Locks: []LockInfo{}, Queues: []QueueInfo{}, Streams: []StreamInfo{}, Caches: []CacheInfo{}, Other: []OtherInfo{}}
	var keys []keyInfo
	match := redkit.EscapePattern(prefix) + "*"
scan:
	for _, n := range nodes {
		cursor := uint64(0)
		for {
			page, err := n.c.Do(ctx, n.c.B().Scan().Cursor(cursor).Match(match).Count(scanCount).Build()).AsScanEntry()
			if err != nil {
				return nil, fmt.Errorf("SCAN on %s: %w", n.addr, err)
			}
			types, err := keyTypes(ctx, n.c, page.Elements)
			if err != nil {
				return nil, fmt.Errorf("TYPE on %s: %w", n.addr, err)
			}
			for i, key := range page.Elements {
				if types[i] == "none" { // deleted since the SCAN
					continue
				}
				ki := classify(strings.TrimPrefix(key, prefix), types[i])
				ki.key = key
				keys = append(keys, ki)
				if len(keys) >= limit {
					in.Truncated = true
					break scan
				}
			}
			if cursor = page.Cursor; cursor == 0 {
				break
			}
		}
	}
	in.Scanned = len(keys)
	if err := summarise(ctx, k, in, keys); err != nil {
		return nil, err
	}
	return in, nil
}

func keyTypes(ctx context.Context, c rueidis.Client, keys []string) ([]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	cmds := make(rueidis.Commands, len(keys))
	for i, key := range keys {
		cmds[i] = c.B().Type().Key(key).Build()
	}
	out := make([]string, len(keys))
	for i, r := range c.DoMulti(ctx, cmds...) {
		s, err := r.ToString()
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// size is a key's element count and TTL.
type size struct {
	n     int64 // elements; for a string, its integer value (0 if not one)
	pttl  int64
	found bool
}

// sizes reads the element count (or integer value) and PTTL of keys, in
// batches.
func sizes(ctx context.Context, k *redkit.Kit, keys []keyInfo) (map[string]size, error) {
	out := make(map[string]size, len(keys))
	const batch = 256
	for len(keys) > 0 {
		b := keys[:min(batch, len(keys))]
		keys = keys[len(b):]
		cmds := make([]rueidis.Completed, 0, 2*len(b))
		for _, ki := range b {
			cmds = append(cmds, countCmd(k, ki), k.B().Pttl().Key(ki.key).Build())
		}
		res, err := k.DoMulti(ctx, cmds...)
		if err != nil {
			return nil, err
		}
		for i, ki := range b {
			s := size{found: true}
			if ki.typ == "string" {
				v, err := res[2*i].ToString()
				if err != nil && !rueidis.IsRedisNil(err) {
					return nil, err
				}
				s.n, _ = strconv.ParseInt(v, 10, 64)
			} else if s.n, err = res[2*i].AsInt64(); err != nil {
				if rueidis.IsRedisNil(err) || redkit.Classify(err) == redkit.ErrWrongType {
					s.found = false
				} else {
					return nil, err
				}
			}
			s.pttl, _ = res[2*i+1].AsInt64()
			out[ki.key] = s
		}
	}
	return out, nil
}

func countCmd(k *redkit.Kit, ki keyInfo) rueidis.Completed {
	b := k.B()
	switch ki.typ {
	case "list":
		return b.Llen().Key(ki.key).Build()
	case "set":
		return b.Scard().Key(ki.key).Build()
	case "zset":
		return b.Zcard().Key(ki.key).Build()
	case "hash":
		return b.Hlen().Key(ki.key).Build()
	case "stream":
		return b.Xlen().Key(ki.key).Build()
	}
	return b.Get().Key(ki.key).Build()
}

// summarise fills in from the classified keys.
func summarise(ctx context.Context, k *redkit.Kit, in *Inspection, keys []keyInfo) error {
	var detail []keyInfo // the keys whose size or TTL is reported
	for _, ki := range keys {
		switch ki.kind {
		case "lock", "rwlock", "semaphore", "queue", "stream":
			detail = append(detail, ki)
		case "session":
			if ki.part == "index" && ki.typ != "string" {
				detail = append(detail, ki)
			}
		}
	}
	sz, err := sizes(ctx, k, detail)
	if err != nil {
		return err
	}

	locks := map[string]*LockInfo{}
	queues := map[string]*QueueInfo{}
	caches := map[string]*CacheInfo{}
	other := map[[2]string]int{}
	for _, ki := range keys {
		s := sz[ki.key]
		switch ki.kind {
		case "lock", "rwlock", "semaphore":
			id := ki.kind + "\x00" + ki.name
			l := locks[id]
			if l == nil {
				l = &LockInfo{Kind: ki.kind, Name: ki.name, TTLMS: -2}
				locks[id] = l
			}
			switch ki.part {
			case partHolder:
				l.Held, l.TTLMS = true, s.pttl
				if ki.typ != "string" {
					l.Holders = s.n
				}
			case partReaders:
				l.Held, l.Holders = l.Held || s.n > 0, s.n
				if l.TTLMS == -2 {
					l.TTLMS = s.pttl
				}
			case partFence:
				l.Fence = s.n
			case partWaiters:
				l.Waiters = s.n
			}
		case "queue":
			q := queues[ki.name]
			if q == nil {
				q = &QueueInfo{Name: ki.name}
				queues[ki.name] = q
			}
			switch ki.part {
			case partWaiting:
				q.Waiting = s.n
			case partDelayed:
				q.Delayed = s.n
			case partInflight:
				q.InFlight = s.n
			case partDead:
				q.Dead = s.n
			}
		case "stream":
			st := StreamInfo{Key: ki.key, Length: s.n, Groups: []GroupInfo{}}
			groups, err := streamGroups(ctx, k, ki.key)
			if err != nil {
				return err
			}
			if groups != nil {
				st.Groups = groups
			}
			in.Streams = append(in.Streams, st)
		case "session":
			if ki.part == "index" {
				in.Sessions.Indexes++
				in.Sessions.Users = append(in.Sessions.Users, UserInfo{User: ki.name, Sessions: s.n})
			} else {
				in.Sessions.Keys++
			}
		case "cache":
			ch := caches[ki.name]
			if ch == nil {
				ch = &CacheInfo{Name: ki.name}
				caches[ki.name] = ch
			}
			switch ki.part {
			case "entry":
				ch.Entries++
			case "tag":
				ch.Tags++
			case "meta":
				ch.Meta++
			case "load-lock":
				ch.Loading++
			}
		default:
			other[[2]string{ki.name, ki.typ}]++
		}
	}
	for _, l := range locks {
		l.State = "free"
		switch {
		case l.Kind == "rwlock" && l.Holders > 0:
			l.State = "read-held"
		case l.Kind == "rwlock" && l.Held:
			l.State = "write-held"
		case l.Held:
			l.State = "held"
		}
		in.Locks = append(in.Locks, *l)
	}
	slices.SortFunc(in.Locks, func(a, b LockInfo) int {
		return strings.Compare(a.Kind+"\x00"+a.Name, b.Kind+"\x00"+b.Name)
	})
	for _, q := range queues {
		in.Queues = append(in.Queues, *q)
	}
	slices.SortFunc(in.Queues, func(a, b QueueInfo) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(in.Streams, func(a, b StreamInfo) int { return strings.Compare(a.Key, b.Key) })
	slices.SortFunc(in.Sessions.Users, func(a, b UserInfo) int {
		if a.Sessions != b.Sessions {
			return int(b.Sessions - a.Sessions)
		}
		return strings.Compare(a.User, b.User)
	})
	for _, c := range caches {
		in.Caches = append(in.Caches, *c)
	}
	slices.SortFunc(in.Caches, func(a, b CacheInfo) int { return strings.Compare(a.Name, b.Name) })
	for g, n := range other {
		in.Other = append(in.Other, OtherInfo{Group: g[0], Type: g[1], Count: n})
	}
	slices.SortFunc(in.Other, func(a, b OtherInfo) int {
		return strings.Compare(a.Group+"\x00"+a.Type, b.Group+"\x00"+b.Type)
	})
	return nil
}

// streamGroups reads XINFO GROUPS.
func streamGroups(ctx context.Context, k *redkit.Kit, key string) ([]GroupInfo, error) {
	msg, err := k.Do(ctx, k.B().XinfoGroups().Key(key).Build())
	if err != nil {
		if redkit.Classify(err) == redkit.ErrWrongType || rueidis.IsRedisNil(err) {
			return nil, nil // gone or replaced since the SCAN
		}
		return nil, fmt.Errorf("XINFO GROUPS %s: %w", key, err)
	}
	arr, err := msg.ToArray()
	if err != nil {
		return nil, err
	}
	out := []GroupInfo{}
	for _, g := range arr {
		m, err := g.AsMap()
		if err != nil {
			return nil, err
		}
		gi := GroupInfo{Lag: -1}
		if v, ok := m["name"]; ok {
			gi.Name, _ = v.ToString()
		}
		if v, ok := m["consumers"]; ok {
			gi.Consumers, _ = v.AsInt64()
		}
		if v, ok := m["pending"]; ok {
			gi.Pending, _ = v.AsInt64()
		}
		if v, ok := m["lag"]; ok && !v.IsNil() {
			if n, err := v.AsInt64(); err == nil {
				gi.Lag = n
			}
		}
		out = append(out, gi)
	}
	return out, nil
}

func printInspection(w io.Writer, in *Inspection) {
	fmt.Fprintf(w, "prefix %q: %d keys on %d master(s)", in.Prefix, in.Scanned, in.Nodes)
	if in.Truncated {
		fmt.Fprint(w, " (stopped at --limit)")
	}
	fmt.Fprintln(w)
	if in.Scanned == 0 {
		fmt.Fprintln(w, "no keys under this prefix (is it the Kit's KeyPrefix? see --prefix)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	section := func(title, header string) {
		tw.Flush()
		fmt.Fprintf(w, "\n%s\n", title)
		fmt.Fprintln(tw, header)
	}
	if len(in.Locks) > 0 {
		section("LOCKS", "KIND\tNAME\tSTATE\tFENCE\tTTL\tHOLDERS\tWAITERS")
		for _, l := range in.Locks {
			ttl := "-"
			switch {
			case l.TTLMS >= 0:
				ttl = (time.Duration(l.TTLMS) * time.Millisecond).String()
			case l.TTLMS == -1:
				ttl = "none"
			}
			fence := "-"
			if l.Fence > 0 {
				fence = strconv.FormatInt(l.Fence, 10)
			}
			holders := "-" // a mutex has one holder
			if l.Kind != "lock" {
				holders = strconv.FormatInt(l.Holders, 10)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", l.Kind, l.Name, l.State, fence, ttl, holders, l.Waiters)
		}
	}
	if len(in.Queues) > 0 {
		section("QUEUES", "NAME\tWAITING\tDELAYED\tIN-FLIGHT\tDEAD")
		for _, q := range in.Queues {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", q.Name, q.Waiting, q.Delayed, q.InFlight, q.Dead)
		}
	}
	if len(in.Streams) > 0 {
		section("STREAMS", "KEY\tLENGTH\tGROUP\tCONSUMERS\tPENDING\tLAG")
		for _, s := range in.Streams {
			if len(s.Groups) == 0 {
				fmt.Fprintf(tw, "%s\t%d\t-\t-\t-\t-\n", s.Key, s.Length)
			}
			for _, g := range s.Groups {
				lag := "?"
				if g.Lag >= 0 {
					lag = strconv.FormatInt(g.Lag, 10)
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\n", s.Key, s.Length, g.Name, g.Consumers, g.Pending, lag)
			}
		}
	}
	if s := in.Sessions; s.Keys+s.Indexes > 0 {
		tw.Flush()
		fmt.Fprintf(w, "\nSESSIONS\n%d session keys, %d per-user index keys\n", s.Keys, s.Indexes)
		if len(s.Users) > 0 {
			fmt.Fprintln(tw, "USER\tSESSIONS")
			for i, u := range s.Users {
				if i == 10 {
					fmt.Fprintf(tw, "(%d more)\t\n", len(s.Users)-i)
					break
				}
				fmt.Fprintf(tw, "%s\t%d\n", u.User, u.Sessions)
			}
		}
	}
	if len(in.Caches) > 0 {
		section("CACHES", "NAME\tENTRIES\tTAGS\tREFRESH-META\tLOADING")
		for _, c := range in.Caches {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", c.Name, c.Entries, c.Tags, c.Meta, c.Loading)
		}
	}
	if len(in.Other) > 0 {
		section("OTHER", "GROUP\tTYPE\tKEYS")
		for _, o := range in.Other {
			fmt.Fprintf(tw, "%s\t%s\t%d\n", o.Group, o.Type, o.Count)
		}
	}
	tw.Flush()
}
