package session_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/redistest"
	"github.com/redkit-go/redkit/session"
)

type discard struct{ h http.Header }

func (w *discard) Header() http.Header         { return w.h }
func (w *discard) Write(b []byte) (int, error) { return len(b), nil }
func (w *discard) WriteHeader(int)             {}

// benchSessions returns a Manager and n session cookies, each session
// holding a user, a small cart and a counter.
func benchSessions(b *testing.B, n int) (*session.Manager, []*http.Cookie) {
	srv := redistest.Start(b, nil)
	m := session.NewManager(testutil.OpenKit(b, "b:", srv.Addr()), nil)
	setup := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Put("user", "user-42")
		s.Put("cart", []string{"margherita", "diavola"})
		s.Put("count", 0)
	}))
	cookies := make([]*http.Cookie, n)
	for i := range cookies {
		rec := httptest.NewRecorder()
		setup.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		cookies[i] = rec.Result().Cookies()[0]
	}
	return m, cookies
}

func benchMiddleware(b *testing.B, write bool) {
	m, cookies := benchSessions(b, 256)
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, ok := session.Get[int](s, "count")
		if !ok {
			b.Error("session lost")
		}
		if write {
			s.Put("count", n+1)
		}
	}))
	b.ReportAllocs()
	b.SetParallelism(64)
	next := make(chan int, len(cookies))
	for i := range cookies {
		next <- i
	}
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(cookies[<-next])
		w := &discard{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			h.ServeHTTP(w, req)
		}
	})
}

// The bench/ session suite's rows, in process.
func BenchmarkMiddlewareWrite(b *testing.B) { benchMiddleware(b, true) }
func BenchmarkMiddlewareRead(b *testing.B)  { benchMiddleware(b, false) }
