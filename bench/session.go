package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/boj/redistore"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/session"
)

func init() {
	register(Suite{Name: "session", Title: "HTTP sessions (session)", Run: runSession})
}

// sessionGoroutines are the concurrencies measured; each goroutine has a
// session of its own (a user's browser).
var sessionGoroutines = []int{1, 128}

var errSessionMissing = errors.New("session: data missing")

// sessionCart is the small session every contender holds: a user ID, a
// cart and a request counter. The write request reads the counter and
// stores counter+1; the read request reads the user and the counter.
var sessionCart = []string{"margherita", "diavola"}

// discardWriter is a ResponseWriter that keeps only the header and status.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// sessionContender is one library: a handler for the write request, one
// for the read request, and a session per goroutine (its cookie).
type sessionContender struct {
	name        string
	write, read http.Handler
	base        []*http.Request // per goroutine: GET / with the session cookie
	writers     []*discardWriter
}

// setup creates n sessions through h (no cookie in; the Set-Cookie out
// becomes that goroutine's request).
func (c *sessionContender) setup(ctx context.Context, h http.Handler, n int) error {
	c.base = make([]*http.Request, n)
	c.writers = make([]*discardWriter, n)
	for g := range n {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil).WithContext(ctx))
		cookies := rec.Result().Cookies()
		if len(cookies) != 1 {
			return fmt.Errorf("%s: setup set %d cookies (status %d)", c.name, len(cookies), rec.Code)
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(cookies[0])
		c.base[g] = req
		c.writers[g] = &discardWriter{h: http.Header{}}
	}
	return nil
}

// op serves one request of goroutine g through h. Each call gets a
// request of its own (gorilla/sessions keeps its registry in the request),
// with the harness's ctx, as a server would.
func (c *sessionContender) op(h http.Handler) Op {
	return func(ctx context.Context, g, i int) error {
		w := c.writers[g]
		clear(w.h)
		w.code = http.StatusOK
		h.ServeHTTP(w, c.base[g].WithContext(ctx))
		if w.code != http.StatusOK {
			return fmt.Errorf("%w: status %d", errSessionMissing, w.code)
		}
		return nil
	}
}

func runSession(env *Env) (*Section, error) {
	var cl closers
	defer cl.closeAll()
	ctx := env.Context()
	prefix := env.KeyPrefix("session")
	n := sessionGoroutines[len(sessionGoroutines)-1]

	// redkit: its defaults, on a Kit with its defaults.
	kit, err := env.OpenKit(redkit.Config{KeyPrefix: prefix + "redkit:"})
	if err != nil {
		return nil, err
	}
	cl.add(func() { kit.Close() })
	mgr := session.NewManager(kit, nil)
	rk := &sessionContender{name: "redkit session",
		write: mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := session.FromContext(r.Context())
			count, ok := session.Get[int](s, "count")
			if !ok {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			s.Put("count", count+1)
		})),
		read: mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := session.FromContext(r.Context())
			_, ok1 := session.Get[string](s, "user")
			_, ok2 := session.Get[int](s, "count")
			if !ok1 || !ok2 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		})),
	}
	if err := rk.setup(ctx, mgr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Put("user", "user-42")
		s.Put("cart", sessionCart)
		s.Put("count", 0)
	})), n); err != nil {
		return nil, err
	}

	// scs v2 + goredisstore on go-redis v9 (its defaults).
	gr, err := env.OpenGoRedis(nil)
	if err != nil {
		return nil, err
	}
	cl.add(func() { gr.Close() })
	sm := scs.New()
	// scs.New starts a memstore with a cleanup goroutine; stop it at the
	// end (by then it has started: StopCleanup before that does nothing).
	cl.add(sm.Store.(*memstore.MemStore).StopCleanup)
	sm.Store = goredisstore.NewWithPrefix(gr, prefix+"scs:")
	sc := &sessionContender{name: "scs + goredisstore",
		write: sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			count, ok := sm.Get(r.Context(), "count").(int)
			if !ok {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			sm.Put(r.Context(), "count", count+1)
		})),
		read: sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, ok1 := sm.Get(r.Context(), "user").(string)
			_, ok2 := sm.Get(r.Context(), "count").(int)
			if !ok1 || !ok2 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		})),
	}
	if err := sc.setup(ctx, sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "user", "user-42")
		sm.Put(r.Context(), "cart", sessionCart)
		sm.Put(r.Context(), "count", 0)
	})), n); err != nil {
		return nil, err
	}

	// gorilla/sessions + boj/redistore (redigo pool of up to 128 idle
	// connections, so that 128 goroutines reuse theirs; its default
	// PING on borrow kept), signed cookies (one HMAC key, as its README).
	rs, err := redistore.NewRediStore(n, "tcp", env.Addr, "", "", []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		return nil, fmt.Errorf("redistore: %w", err)
	}
	cl.add(func() { rs.Close() })
	rs.SetKeyPrefix(prefix + "redistore:")
	const gname = "session"
	gs := &sessionContender{name: "gorilla/sessions + redistore",
		write: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := rs.Get(r, gname)
			count, ok := s.Values["count"].(int)
			if err != nil || !ok {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			s.Values["count"] = count + 1
			if err := s.Save(r, w); err != nil {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}),
		read: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := rs.Get(r, gname)
			_, ok1 := s.Values["user"].(string)
			_, ok2 := s.Values["count"].(int)
			if err != nil || !ok1 || !ok2 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}),
	}
	if err := gs.setup(ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := rs.New(r, gname)
		s.Values["user"] = "user-42"
		s.Values["cart"] = sessionCart
		s.Values["count"] = 0
		if err := s.Save(r, w); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}), n); err != nil {
		return nil, err
	}

	contenders := []*sessionContender{rk, sc, gs}
	variants := func(read bool) []Variant {
		vs := make([]Variant, len(contenders))
		for i, c := range contenders {
			h := c.write
			if read {
				h = c.read
			}
			vs[i] = Variant{Name: c.name, Op: c.op(h)}
		}
		return vs
	}
	// best is the faster peer and redkit's ratio to it.
	best := func(res []Result) (Result, float64) {
		b := res[1]
		if res[2].OpsPerSec > b.OpsPerSec {
			b = res[2]
		}
		return b, res[0].Ratio(b)
	}

	tw := ResultTable("Write request: load the session, read a counter, store counter+1, save (ops/s = requests/s):", "redkit")
	tr := ResultTable("Read-only request: load the session, read two values, nothing written:", "redkit")
	var targets []Target
	for _, g := range sessionGoroutines {
		env.Logf("session: write request, %d goroutines", g)
		res := env.Compare(g, variants(false)...)
		tw.AddResults(res, 0)
		b, ratio := best(res)
		min := 1.0
		if g >= 128 {
			min = 1.5
		}
		targets = append(targets, Target{What: fmt.Sprintf("session write request, %d goroutines: redkit/faster peer (%s)", g, b.Name), Ratio: ratio, Min: min})
	}
	for _, g := range sessionGoroutines {
		env.Logf("session: read-only request, %d goroutines", g)
		tr.AddResults(env.Compare(g, variants(true)...), 0)
	}
	return &Section{
		Intro: "One HTTP request through each library's middleware, served in process (`ServeHTTP` on a " +
			"discarding ResponseWriter, so no network stack), each goroutine with a session of its own " +
			"(user ID, a two-item cart, a counter). redkit: `session.Manager.Middleware`, its defaults " +
			"(one hash per session: HGETALL+PTTL in one round trip to load, one pipeline to save: HEXISTS, " +
			"HSET of the changed field only, PEXPIRE; a read-only request writes nothing). scs v2.9.0 with " +
			"`github.com/alexedwards/scs/goredisstore` on go-redis v9, its defaults (gob blob: GET to load, " +
			"SET PXAT of the whole session to save). gorilla/sessions v1.4.0 with boj/redistore v1.4.1 " +
			"(redigo pool with its PING on borrow, gob blob, HMAC-signed cookie; SETEX of the whole session).",
		Tables:  []Table{tw, tr},
		Targets: targets,
		Notes: []string{
			"Each call builds its request with `WithContext(ctx)` (the harness's ctx with a deadline), as a server builds one per request; gorilla/sessions needs it (its registry lives in the request).",
			"scs's Redis store here is goredisstore (served by the module proxy), not the redigo-based redisstore.",
		},
	}, nil
}
