package session_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/redistest"
	"github.com/redkit-go/redkit/session"
)

// backend is where a scenario runs: one redis-server or a cluster.
type backend struct {
	addrs   []string
	masters []*redistest.Server
}

// keys returns the keys under prefix on every master (KEYS: tests only).
func (b backend) keys(t testing.TB, prefix string) []string {
	t.Helper()
	var out []string
	for _, m := range b.masters {
		v, err := m.Do("KEYS", redkit.EscapePattern(prefix)+"*")
		if err != nil {
			t.Fatalf("KEYS: %v", err)
		}
		out = append(out, strings.Fields(strings.Trim(v, "[]"))...)
	}
	slices.Sort(out)
	return out
}

// env is one scenario's Manager, app and Kit, under a prefix of its own.
type env struct {
	t      *testing.T
	b      backend
	prefix string
	k      *redkit.Kit
	m      *session.Manager
	srv    *httptest.Server
	logs   *logBuffer
}

func newEnv(t *testing.T, b backend, opts *session.Options) *env {
	t.Helper()
	e := &env{t: t, b: b, prefix: strings.ReplaceAll(t.Name(), "/", ".") + ":", logs: &logBuffer{}}
	e.k = testutil.OpenKit(t, e.prefix, b.addrs...)
	var o session.Options
	if opts != nil {
		o = *opts
	}
	o.Cookie.Insecure = true // httptest serves plain HTTP
	o.Logger = e.logs.logger()
	e.m = session.NewManager(e.k, &o)
	e.srv = app(t, e.m)
	return e
}

func (e *env) keys() []string { return e.b.keys(e.t, e.prefix) }

// sessionKey is the hash of session id under e's prefix.
func (e *env) sessionKey(id string) string { return e.prefix + "session:{" + id + "}" }

func (e *env) exists(key string) bool {
	e.t.Helper()
	n, err := e.k.Do(context.Background(), e.k.B().Exists().Key(key).Build())
	if err != nil {
		e.t.Fatal(err)
	}
	v, _ := n.AsInt64()
	return v == 1
}

// scenarios run on one node and on a cluster.
var scenarios = []struct {
	name string
	run  func(t *testing.T, b backend)
}{
	{"PutGetRemove", testPutGetRemove},
	{"CookieAttributes", testCookieAttributes},
	{"RenewID", testRenewID},
	{"Destroy", testDestroy},
	{"IdleTimeout", testIdleTimeout},
	{"Lifetime", testLifetime},
	{"DestroyUserTwoManagers", testDestroyUser},
	{"IndexShrinks", testIndexShrinks},
	{"ConcurrentKeys", testConcurrentKeys},
	{"CorruptData", testCorruptData},
	{"ForgedCookie", testForgedCookie},
	{"Store", testStore},
	{"NoResurrect", testNoResurrect},
	{"RefreshEconomy", testRefreshEconomy},
	{"UserChangeAndRacingRenew", testUserChangeAndRacingRenew},
}

func TestSingle(t *testing.T) {
	srv := redistest.Start(t, nil)
	b := backend{addrs: []string{srv.Addr()}, masters: []*redistest.Server{srv}}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			s.run(t, b)
		})
	}
}

func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster: not in -short")
	}
	c := redistest.StartCluster(t, 3, 0)
	b := backend{addrs: c.Addrs(), masters: c.Masters()}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			s.run(t, b)
		})
	}
}

func testPutGetRemove(t *testing.T, b backend) {
	e := newEnv(t, b, nil)
	br := newBrowser(t, e.srv)
	if got := br.get(get("a")); got != "-" {
		t.Fatalf("get a on a new session = %q", got)
	}
	if ks := e.keys(); len(ks) != 0 {
		t.Fatalf("a read of a new session wrote %v", ks)
	}
	br.get(put("a", "1"))
	br.get(put("b", "two words"))
	id := br.cookie()
	if len(id) != 43 {
		t.Fatalf("cookie %q: want a 43-character ID", id)
	}
	if got := br.get("/id"); got != id {
		t.Fatalf("ID() = %q; cookie %q", got, id)
	}
	if got := br.get(get("a")) + "," + br.get(get("b")); got != "1,two words" {
		t.Fatalf("got %q", got)
	}
	br.get("/del?k=a")
	if got := br.get(get("a")); got != "-" {
		t.Fatalf("a after Remove = %q", got)
	}
	// One hash per session, one field per key.
	if ks := e.keys(); len(ks) != 1 || ks[0] != e.sessionKey(id) {
		t.Fatalf("keys %v; want only %s", ks, e.sessionKey(id))
	}
	if br.cookie() != id {
		t.Fatal("the ID changed without RenewID")
	}
	// Another browser has its own session.
	other := newBrowser(t, e.srv)
	if got := other.get(get("b")); got != "-" {
		t.Fatalf("another browser reads %q", got)
	}
}

func testCookieAttributes(t *testing.T, b backend) {
	k := testutil.OpenKit(t, strings.ReplaceAll(t.Name(), "/", ".")+":", b.addrs...)
	// The defaults (Secure on), checked on the raw header.
	m := session.NewManager(k, nil)
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Put("x", 1)
		w.WriteHeader(http.StatusTeapot) // the cookie goes out before the header
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusTeapot {
		t.Fatalf("status %d", rec.Code)
	}
	sc := rec.Result().Cookies()
	if len(sc) != 1 {
		t.Fatalf("Set-Cookie: %q", rec.Header().Values("Set-Cookie"))
	}
	c := sc[0]
	if c.Name != "session" || c.Path != "/" || c.Domain != "" || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Fatalf("cookie %+v; want session, Path=/, HttpOnly, Secure, SameSite=Lax, no expiry", c)
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(raw) != 32 {
		t.Fatalf("ID %q: want 256 bits of base64url (%v)", c.Value, err)
	}

	// Custom name, path, domain, SameSite.
	m2 := session.NewManager(k, &session.Options{Cookie: session.CookieOptions{
		Name: "sid", Path: "/app", Domain: "example.com", SameSite: http.SameSiteStrictMode,
	}})
	h2 := m2.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Put("x", 1)
	}))
	rec = httptest.NewRecorder()
	h2.ServeHTTP(rec, httptest.NewRequest("GET", "/app", nil)) // the handler writes nothing
	sc = rec.Result().Cookies()
	if len(sc) != 1 || sc[0].Name != "sid" || sc[0].Path != "/app" || sc[0].Domain != "example.com" || sc[0].SameSite != http.SameSiteStrictMode || !sc[0].Secure {
		t.Fatalf("Set-Cookie %q", rec.Header().Values("Set-Cookie"))
	}

	// A request that only reads an existing session sets no cookie.
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(c)
	rec = httptest.NewRecorder()
	m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v, ok := session.Get[int](session.FromContext(r.Context()), "x"); !ok || v != 1 {
			t.Errorf("Get[int] = %v, %v", v, ok)
		}
	})).ServeHTTP(rec, req)
	if v := rec.Header().Values("Set-Cookie"); len(v) != 0 {
		t.Fatalf("read-only request set %q", v)
	}
}

func testRenewID(t *testing.T, b backend) {
	e := newEnv(t, b, nil)
	br := newBrowser(t, e.srv)
	br.get(put("cart", "pizza"))
	old := br.cookie()
	br.get("/login?user=alice")
	renewed := br.cookie()
	if renewed == "" || renewed == old {
		t.Fatalf("cookie %q after login; was %q: want a new ID", renewed, old)
	}
	if got := br.get(get("cart")); got != "pizza" {
		t.Fatalf("cart after RenewID = %q; want the data kept", got)
	}
	if e.exists(e.sessionKey(old)) {
		t.Fatal("the old ID's hash is still in Redis")
	}
	ids, err := e.m.UserSessions(t.Context(), "alice")
	if err != nil || len(ids) != 1 || ids[0] != renewed {
		t.Fatalf("UserSessions = %v, %v; want [the new ID]", len(ids), err)
	}
	// The old cookie reads nothing (an attacker who fixed it gets nothing).
	attacker := newBrowser(t, e.srv)
	attacker.setCookie(old)
	if got := attacker.get(get("cart")); got != "-" {
		t.Fatalf("old ID reads %q", got)
	}
	// Renewing again keeps data, user and the index right.
	br.get("/renew")
	again := br.cookie()
	if again == renewed {
		t.Fatal("second RenewID kept the ID")
	}
	if got := br.get(get("cart")); got != "pizza" {
		t.Fatalf("cart after second RenewID = %q", got)
	}
	ids, err = e.m.UserSessions(t.Context(), "alice")
	if err != nil || len(ids) != 1 || ids[0] != again {
		t.Fatalf("UserSessions after second RenewID: %d ids, %v", len(ids), err)
	}
	// RenewID on a session not yet stored creates nothing.
	fresh := newBrowser(t, e.srv)
	fresh.get("/renew")
	if fresh.cookie() != "" {
		t.Fatal("RenewID of an empty session set a cookie")
	}
	if strings.Contains(e.logs.String(), old) || strings.Contains(e.logs.String(), again) {
		t.Fatal("a session ID appears in the logs")
	}
}

func testDestroy(t *testing.T, b backend) {
	e := newEnv(t, b, nil)
	br := newBrowser(t, e.srv)
	br.get("/login?user=bob")
	br.get(put("a", "1"))
	id := br.cookie()
	br.get("/logout")
	if br.cookie() != "" {
		t.Fatal("cookie still set after Destroy")
	}
	if e.exists(e.sessionKey(id)) {
		t.Fatal("hash still in Redis after Destroy")
	}
	if ids, err := e.m.UserSessions(t.Context(), "bob"); err != nil || len(ids) != 0 {
		t.Fatalf("UserSessions after Destroy: %d, %v", len(ids), err)
	}
	replay := newBrowser(t, e.srv)
	replay.setCookie(id)
	if got := replay.get(get("a")); got != "-" {
		t.Fatalf("destroyed ID reads %q", got)
	}
	// Without the middleware, the calls say so.
	if err := e.m.Destroy(context.Background()); err == nil || !strings.Contains(err.Error(), "no session") {
		t.Fatalf("Destroy without a session = %v", err)
	}
}

func testIdleTimeout(t *testing.T, b backend) {
	e := newEnv(t, b, &session.Options{IdleTimeout: 3 * time.Second})
	br := newBrowser(t, e.srv)
	br.get(put("a", "1"))
	id := br.cookie()
	// Activity keeps it alive past IdleTimeout...
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); {
		if got := br.get(get("a")); got != "1" {
			t.Fatalf("active session lost its data: %q", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// ...and idleness ends it, in Redis.
	waitUntil(t, "the idle session to expire", func() bool { return !e.exists(e.sessionKey(id)) })
	if got := br.get(get("a")); got != "-" {
		t.Fatalf("expired session reads %q", got)
	}
}

func testLifetime(t *testing.T, b backend) {
	e := newEnv(t, b, &session.Options{IdleTimeout: time.Minute, Lifetime: 1500 * time.Millisecond})
	br := newBrowser(t, e.srv)
	br.get(put("a", "1"))
	id := br.cookie()
	pttl, err := e.k.Do(t.Context(), e.k.B().Pttl().Key(e.sessionKey(id)).Build())
	if err != nil {
		t.Fatal(err)
	}
	if ms, _ := pttl.AsInt64(); ms <= 0 || ms > 1500 {
		t.Fatalf("PTTL %d ms; want at most the lifetime", ms)
	}
	// Busy the whole time, the session still ends at its lifetime.
	waitUntil(t, "the session to reach its lifetime", func() bool {
		br.get(put("b", "x"))
		return br.get(get("a")) == "-"
	})
}

func testDestroyUser(t *testing.T, b backend) {
	e1 := newEnv(t, b, nil)
	// A second instance: its own Kit and Manager, the same prefix.
	k2 := testutil.OpenKit(t, e1.prefix, b.addrs...)
	m2 := session.NewManager(k2, &session.Options{Cookie: session.CookieOptions{Insecure: true}})
	srv2 := app(t, m2)

	phone, laptop, other := newBrowser(t, e1.srv), newBrowser(t, srv2), newBrowser(t, srv2)
	phone.get("/login?user=carol")
	phone.get(put("a", "phone"))
	laptop.get("/login?user=carol")
	laptop.get(put("a", "laptop"))
	other.get("/login?user=dave")
	other.get(put("a", "dave"))

	ids, err := e1.m.UserSessions(t.Context(), "carol")
	if err != nil || len(ids) != 2 {
		t.Fatalf("UserSessions(carol) = %d ids, %v; want 2", len(ids), err)
	}
	n, err := m2.DestroyUser(t.Context(), "carol")
	if err != nil || n != 2 {
		t.Fatalf("DestroyUser = %d, %v; want 2", n, err)
	}
	if got := phone.get(get("a")) + "," + laptop.get(get("a")); got != "-,-" {
		t.Fatalf("after DestroyUser: %q", got)
	}
	if got := other.get(get("a")); got != "dave" {
		t.Fatalf("another user's session: %q", got)
	}
	if ids, err := e1.m.UserSessions(t.Context(), "carol"); err != nil || len(ids) != 0 {
		t.Fatalf("UserSessions after DestroyUser = %d, %v", len(ids), err)
	}
	if n, err := e1.m.DestroyUser(t.Context(), "carol"); err != nil || n != 0 {
		t.Fatalf("second DestroyUser = %d, %v", n, err)
	}
	if _, err := e1.m.DestroyUser(t.Context(), ""); err == nil {
		t.Fatal("DestroyUser(\"\") succeeded")
	}
}

func testIndexShrinks(t *testing.T, b backend) {
	e := newEnv(t, b, &session.Options{IdleTimeout: 2 * time.Second})
	for range 3 {
		br := newBrowser(t, e.srv)
		br.get("/login?user=erin")
	}
	idx := e.prefix + "session:user:{erin}"
	card := func() int64 {
		v, err := e.k.Do(t.Context(), e.k.B().Zcard().Key(idx).Build())
		if err != nil {
			t.Fatal(err)
		}
		n, _ := v.AsInt64()
		return n
	}
	if n := card(); n != 3 {
		t.Fatalf("index holds %d; want 3", n)
	}
	waitUntil(t, "the sessions to expire", func() bool {
		ids, err := e.m.UserSessions(t.Context(), "erin")
		return err == nil && len(ids) == 0
	})
	// Pruned on read, and the index key itself expires with its last
	// session.
	waitUntil(t, "the index to empty", func() bool { return card() == 0 })
	waitUntil(t, "every key to go", func() bool { return len(e.keys()) == 0 })
}

func testConcurrentKeys(t *testing.T, b backend) {
	e := newEnv(t, b, nil)
	br := newBrowser(t, e.srv)
	br.get(put("seed", "1"))
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Each request loads the session, then writes its own key.
			br.get(put("k"+string(rune('a'+i)), "v"))
		})
	}
	wg.Wait()
	for i := range n {
		if got := br.get(get("k" + string(rune('a'+i)))); got != "v" {
			t.Fatalf("key %d lost: %q", i, got)
		}
	}
	if got := br.get(get("seed")); got != "1" {
		t.Fatalf("seed = %q", got)
	}
}

func testCorruptData(t *testing.T, b backend) {
	e := newEnv(t, b, nil)
	ctx := t.Context()
	cases := map[string]func(key string){
		"unknown field": func(key string) { e.k.Do(ctx, e.k.B().Hset().Key(key).FieldValue().FieldValue("bogus", "x").Build()) },
		"bad creation time": func(key string) {
			e.k.Do(ctx, e.k.B().Hset().Key(key).FieldValue().FieldValue("_c", "yesterday").Build())
		},
		"no creation time": func(key string) { e.k.Do(ctx, e.k.B().Hdel().Key(key).Field("_c").Build()) },
		"wrong type": func(key string) {
			e.k.Do(ctx, e.k.B().Del().Key(key).Build())
			e.k.Do(ctx, e.k.B().Set().Key(key).Value("not a hash").Build())
		},
	}
	for name, corrupt := range cases {
		br := newBrowser(t, e.srv)
		br.get(put("a", "1"))
		id := br.cookie()
		corrupt(e.sessionKey(id))
		before := strings.Count(e.logs.String(), "does not decode")
		body, code := br.try(get("a"))
		if code != http.StatusOK || body != "-" {
			t.Fatalf("%s: %d %q; want 200 and a fresh session", name, code, body)
		}
		want := before + 1
		if name == "no creation time" {
			want = before // what a save racing Destroy leaves: not a session, quietly dropped
		}
		if strings.Count(e.logs.String(), "does not decode") != want {
			t.Fatalf("%s: not logged: %s", name, e.logs.String())
		}
		br.get(put("b", "2"))
		if br.cookie() == id {
			t.Fatalf("%s: the corrupt session's ID was kept", name)
		}
		if got := br.get(get("b")); got != "2" {
			t.Fatalf("%s: the fresh session does not work: %q", name, got)
		}
		if strings.Contains(e.logs.String(), id) {
			t.Fatalf("%s: the session ID appears in the logs", name)
		}
	}
}

func testForgedCookie(t *testing.T, b backend) {
	e := newEnv(t, b, nil)
	raw := make([]byte, 32)
	rand.Read(raw)
	forged := []string{
		base64.RawURLEncoding.EncodeToString(raw), // well-formed, unknown
		"../../etc/passwd", "}{*", strings.Repeat("A", 4096), "",
	}
	for _, f := range forged {
		br := newBrowser(t, e.srv)
		br.setCookie(f)
		br.get(get("a"))
		br.get("/id")
		br.get("/del?k=a")
		br.get("/renew")
		br.get("/logout")
		br.get("/nothing")
		if ks := e.keys(); len(ks) != 0 {
			t.Fatalf("forged cookie %.20q created %v", f, ks)
		}
		br.setCookie(f)
		br.get(put("a", "1"))
		if c := br.cookie(); c == f || len(c) != 43 {
			t.Fatalf("forged cookie %.20q: after Put the cookie is %.20q; want a fresh ID", f, c)
		}
		if got := br.get(get("a")); got != "1" {
			t.Fatalf("new session: %q", got)
		}
		br.get("/logout")
	}
	if ks := e.keys(); len(ks) != 0 {
		t.Fatalf("left %v", ks)
	}
}

// A request that loaded its session before DestroyUser (or another
// request's Destroy) ended it cannot save it back: not as a session, not
// in the user's index.
func testNoResurrect(t *testing.T, b backend) {
	e := newEnv(t, b, nil)
	loaded, resume := make(chan struct{}), make(chan struct{})
	slow := e.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		session.Get[string](s, "a")
		close(loaded)
		<-resume
		s.Put("a", "after")
	}))
	br := newBrowser(t, e.srv)
	br.get("/login?user=frank")
	br.get(put("a", "before"))
	id := br.cookie()
	done := make(chan struct{})
	go func() {
		defer close(done)
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: id})
		rec := httptest.NewRecorder()
		slow.ServeHTTP(rec, req)
	}()
	<-loaded
	if n, err := e.m.DestroyUser(t.Context(), "frank"); err != nil || n != 1 {
		t.Fatalf("DestroyUser = %d, %v", n, err)
	}
	close(resume)
	<-done
	if got := br.get(get("a")); got != "-" {
		t.Fatalf("the destroyed session reads %q", got)
	}
	if ids, err := e.m.UserSessions(t.Context(), "frank"); err != nil || len(ids) != 0 {
		t.Fatalf("UserSessions = %d, %v", len(ids), err)
	}
	waitUntil(t, "no keys left", func() bool { return len(e.keys()) == 0 })
}

// A read-only request refreshes the idle deadline only once a tenth of
// IdleTimeout has passed since it was last set.
func testRefreshEconomy(t *testing.T, b backend) {
	e := newEnv(t, b, &session.Options{IdleTimeout: 30 * time.Second})
	br := newBrowser(t, e.srv)
	br.get(put("a", "1"))
	key := e.sessionKey(br.cookie())
	pttl := func() int64 {
		v, err := e.k.Do(t.Context(), e.k.B().Pttl().Key(key).Build())
		if err != nil {
			t.Fatal(err)
		}
		n, _ := v.AsInt64()
		return n
	}
	time.Sleep(100 * time.Millisecond)
	before := pttl()
	br.get(get("a"))
	if after := pttl(); after > before {
		t.Fatalf("a read right after a write moved the deadline (PTTL %d -> %d ms)", before, after)
	}
	time.Sleep(3100 * time.Millisecond) // past IdleTimeout/10
	before = pttl()
	br.get(get("a"))
	if after := pttl(); after <= before {
		t.Fatalf("a read after IdleTimeout/10 did not move the deadline (PTTL %d -> %d ms)", before, after)
	}
}

// SetUser of another user moves the session between the indexes;
// concurrent RenewIDs of one session leave it under at most one new ID.
func testUserChangeAndRacingRenew(t *testing.T, b backend) {
	e := newEnv(t, b, nil)
	br := newBrowser(t, e.srv)
	br.get("/login?user=gina")
	br.get("/login?user=hank")
	count := func(user string) int {
		ids, err := e.m.UserSessions(t.Context(), user)
		if err != nil {
			t.Fatal(err)
		}
		return len(ids)
	}
	if g, h := count("gina"), count("hank"); g != 0 || h != 1 {
		t.Fatalf("after a change of user: gina %d, hank %d sessions; want 0, 1", g, h)
	}
	br.get(put("a", "1"))
	id := br.cookie()

	// Two requests of the same session renew at once.
	renew := e.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := e.m.RenewID(r.Context()); err != nil {
			t.Error(err)
		}
	}))
	var wg sync.WaitGroup
	newIDs := make([]string, 4)
	for i := range newIDs {
		wg.Go(func() {
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: id})
			rec := httptest.NewRecorder()
			renew.ServeHTTP(rec, req)
			for _, c := range rec.Result().Cookies() {
				if c.Value != "" {
					newIDs[i] = c.Value
				}
			}
		})
	}
	wg.Wait()
	live := 0
	for _, n := range newIDs {
		if n != "" && e.exists(e.sessionKey(n)) {
			live++
		}
	}
	if live > 1 {
		t.Fatalf("%d copies of the session after racing RenewIDs; want at most 1", live)
	}
	if e.exists(e.sessionKey(id)) {
		t.Fatal("the old ID survived RenewID")
	}
	if n := count("hank"); n != live {
		t.Fatalf("hank's index has %d sessions; %d live", n, live)
	}
}
