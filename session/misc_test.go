package session_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/redistest"
	"github.com/redkit-go/redkit/session"
)

type cart struct {
	Items []string
	Total int
}

// Typed values round-trip through the Kit's codec; a Get of the wrong
// type reports missing and logs.
func TestTypedValues(t *testing.T) {
	srv := redistest.Start(t, nil)
	e := newEnv(t, backend{addrs: []string{srv.Addr()}, masters: []*redistest.Server{srv}}, nil)
	var cookie *http.Cookie
	run := func(fn func(s *session.Session)) {
		h := e.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fn(session.FromContext(r.Context())) }))
		req := httptest.NewRequest("GET", "/", nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if c := rec.Result().Cookies(); len(c) > 0 {
			cookie = c[0]
		}
	}
	type color string
	run(func(s *session.Session) {
		s.Put("cart", cart{Items: []string{"margherita"}, Total: 9})
		s.Put("n", 42)
		s.Put("color", color("red"))
		s.Put("raw", []byte{0, 1, 2})
	})
	run(func(s *session.Session) {
		if c, ok := session.Get[cart](s, "cart"); !ok || c.Total != 9 || len(c.Items) != 1 {
			t.Errorf("cart = %+v, %v", c, ok)
		}
		if n, ok := session.Get[int](s, "n"); !ok || n != 42 {
			t.Errorf("n = %v, %v", n, ok)
		}
		if c, ok := session.Get[color](s, "color"); !ok || c != "red" {
			t.Errorf("color = %q, %v", c, ok)
		}
		if b, ok := session.Get[[]byte](s, "raw"); !ok || string(b) != "\x00\x01\x02" {
			t.Errorf("raw = %q, %v", b, ok)
		}
		if _, ok := session.Get[int](s, "cart"); ok {
			t.Error("Get[int] of a struct succeeded")
		}
		if _, ok := session.Get[int](s, "missing"); ok {
			t.Error("Get of a missing key succeeded")
		}
	})
	if !strings.Contains(e.logs.String(), "value does not decode") {
		t.Errorf("wrong-type Get not logged: %s", e.logs.String())
	}
	// The string value is stored raw (other clients read it as it is).
	v, err := e.k.Do(t.Context(), e.k.B().Hget().Key(e.sessionKey(cookie.Value)).Field(".color").Build())
	if s, _ := v.ToString(); err != nil || s != "red" {
		t.Errorf("stored color = %q, %v", s, err)
	}
}

// A nil Session (no middleware) is safe to use and holds nothing.
func TestNilSession(t *testing.T) {
	s := session.FromContext(context.Background())
	if s != nil {
		t.Fatal("FromContext of a bare context is not nil")
	}
	s.Put("a", 1)
	s.Remove("a")
	if _, ok := session.Get[int](s, "a"); ok || s.ID() != "" || s.Err() != nil {
		t.Fatal("nil session holds something")
	}
	srv := redistest.Start(t, nil)
	m := session.NewManager(testutil.OpenKit(t, "nil:", srv.Addr()), nil)
	for name, err := range map[string]error{
		"RenewID": m.RenewID(context.Background()),
		"Destroy": m.Destroy(context.Background()),
		"SetUser": m.SetUser(context.Background(), "u"),
	} {
		if !errors.Is(err, session.ErrNoSession) {
			t.Errorf("%s without middleware = %v; want ErrNoSession", name, err)
		}
	}
	if _, err := m.UserSessions(context.Background(), ""); !errors.Is(err, redkit.ErrEmptyKey) {
		t.Errorf("UserSessions(\"\") = %v", err)
	}
}

// With Redis down, a request still gets a response (no panic), the handler
// sees the error through Err and the calls, and no error or log line
// holds the session ID.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t, nil)
	logs := &logBuffer{}
	k, err := redkit.Open(context.Background(), redkit.Config{Addrs: []string{srv.Addr()}, KeyPrefix: "down:",
		CommandTimeout: time.Second, Retry: redkit.RetryPolicy{Retries: -1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	m := session.NewManager(k, &session.Options{Logger: logs.logger()})
	var cookie *http.Cookie
	var errs []error
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if cookie == nil {
			s.Put("a", "1")
			return
		}
		_, ok := session.Get[string](s, "a")
		errs = append(errs, s.Err(), m.RenewID(r.Context()), m.SetUser(r.Context(), "u"), m.Destroy(r.Context()))
		s.Put("b", "2")
		if ok {
			t.Error("Get succeeded with Redis down")
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	cookie = rec.Result().Cookies()[0]
	srv.Stop()
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(cookie)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("status %d", rec.Code)
	}
	for i, err := range errs {
		if err == nil {
			t.Errorf("call %d succeeded with Redis down", i)
			continue
		}
		if !errors.Is(err, redkit.ErrUnavailable) {
			t.Errorf("call %d: %v; want ErrUnavailable", i, err)
		}
		if strings.Contains(err.Error(), cookie.Value) {
			t.Errorf("error %q holds the session ID", err)
		}
	}
	if !strings.Contains(logs.String(), "save failed") {
		t.Errorf("the unsaved Put was not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), cookie.Value) {
		t.Error("the logs hold the session ID")
	}
}
