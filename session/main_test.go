package session_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/redkit-go/redkit/internal/leaktest"
	"github.com/redkit-go/redkit/session"
)

// scs.New starts a memstore cleanup goroutine that only StopCleanup ends,
// and StopCleanup races with its start (scs v2.9.0): the WithSCS test
// leaves it running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, append(leaktest.Options(),
		goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup"))...)
}

// logBuffer is a concurrency-safe log sink for checking what was logged.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// app is a small web app on a Manager, served by httptest:
//
//	/put?k=K&v=V    Put K=V          /get?k=K   the value of K, or "-"
//	/del?k=K        Remove K         /id        the session's ID
//	/login?user=U   RenewID, SetUser /logout    Destroy
//	/renew          RenewID          /nothing   does not touch the session
func app(t testing.TB, m *session.Manager) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, err error) { http.Error(w, err.Error(), http.StatusInternalServerError) }
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Put(r.FormValue("k"), r.FormValue("v"))
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		v, ok := session.Get[string](session.FromContext(r.Context()), r.FormValue("k"))
		if !ok {
			v = "-"
		}
		io.WriteString(w, v)
	})
	mux.HandleFunc("/del", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Remove(r.FormValue("k"))
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/id", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, session.FromContext(r.Context()).ID())
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := m.RenewID(r.Context()); err != nil {
			fail(w, err)
			return
		}
		if err := m.SetUser(r.Context(), r.FormValue("user")); err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/renew", func(w http.ResponseWriter, r *http.Request) {
		if err := m.RenewID(r.Context()); err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(r.Context()); err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/nothing", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	srv := httptest.NewServer(m.Middleware(mux))
	t.Cleanup(srv.Close)
	return srv
}

// browser is an HTTP client with a cookie jar.
type browser struct {
	t   testing.TB
	srv *httptest.Server
	c   *http.Client
}

func newBrowser(t testing.TB, srv *httptest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	return &browser{t: t, srv: srv, c: c}
}

// get requests path and returns the body, failing t unless the status is
// 200.
func (b *browser) get(path string) string {
	b.t.Helper()
	body, code := b.try(path)
	if code != http.StatusOK {
		b.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	return body
}

func (b *browser) try(path string) (string, int) {
	b.t.Helper()
	resp, err := b.c.Get(b.srv.URL + path)
	if err != nil {
		b.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body), resp.StatusCode
}

// cookie returns the session cookie's value in the jar ("" if none).
func (b *browser) cookie() string {
	u, _ := url.Parse(b.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == session.DefaultCookieName {
			return c.Value
		}
	}
	return ""
}

// setCookie puts a session cookie with value v in the jar.
func (b *browser) setCookie(v string) {
	u, _ := url.Parse(b.srv.URL)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: session.DefaultCookieName, Value: v, Path: "/"}})
}

// waitUntil polls cond every 20ms until it holds, failing t after 20s.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func put(k, v string) string {
	return fmt.Sprintf("/put?k=%s&v=%s", url.QueryEscape(k), url.QueryEscape(v))
}

func get(k string) string { return "/get?k=" + url.QueryEscape(k) }

func httptestServer(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
