package session_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/redistest"
	"github.com/redkit-go/redkit/session"
)

// fuzzManager is one Manager on one server for every fuzz input of f.
func fuzzManager(f *testing.F) (*redkit.Kit, *session.Manager) {
	srv := redistest.Start(f, nil)
	k := testutil.OpenKit(f, "fz:", srv.Addr())
	return k, session.NewManager(k, &session.Options{Logger: (&logBuffer{}).logger()})
}

// serve runs one request with the given Cookie header through m's
// middleware; the handler reads, writes and renews. It fails t on a panic
// or a status other than 200.
func serve(t *testing.T, m *session.Manager, cookie string) {
	t.Helper()
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		session.Get[string](s, "a")
		session.Get[map[string]int](s, "m")
		s.Put("b", "x")
		if err := m.RenewID(r.Context()); err != nil {
			t.Errorf("RenewID: %v", err)
		}
		if err := m.Destroy(r.Context()); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", cookie)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("cookie %q: status %d", cookie, rec.Code)
	}
}

// FuzzCookie sends arbitrary Cookie headers: never a panic or an error
// status, and nothing is left in Redis.
func FuzzCookie(f *testing.F) {
	k, m := fuzzManager(f)
	for _, s := range []string{"", "session=", "session=" + strings.Repeat("A", 43), "session=a; session=b",
		"session={x}*", "session=\x00\xff", "other=1", "session=" + strings.Repeat("Z", 5000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cookie string) {
		serve(t, m, cookie)
		n, err := k.Do(context.Background(), k.B().Dbsize().Build())
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := n.AsInt64(); v != 0 {
			t.Fatalf("cookie %q left %d keys", cookie, v)
		}
	})
}

// FuzzStoredData stores arbitrary fields in a session's hash and serves a
// request of that session: whatever is stored, the request succeeds (a
// fresh session when the data does not decode).
func FuzzStoredData(f *testing.F) {
	k, m := fuzzManager(f)
	f.Add("_c", "1700000000000", ".a", "plain")
	f.Add("_c", "9999999999999", ".m", "{\"x\":1}")
	f.Add("_c", "1", ".m", "\xffRKz\x07garbage")
	f.Add("_c", "nope", ".a", "x")
	f.Add("zz", "1", ".a", "x")
	f.Add("_u", "alice", "_c", "1700000000000")
	f.Add("_i", "x", "_c", "1700000000000")
	f.Add("_c", "1700000000000", "_i", "99999999999999999999")
	f.Add(".m", "[1,2", "_c", "1700000000000")
	f.Fuzz(func(t *testing.T, f1, v1, f2, v2 string) {
		ctx := context.Background()
		id := strings.Repeat("A", 43)
		key := "fz:session:{" + id + "}"
		k.Do(ctx, k.B().Del().Key(key).Build())
		if f1 == "" || f2 == "" {
			return
		}
		if _, err := k.Do(ctx, k.B().Hset().Key(key).FieldValue().FieldValue(f1, v1).FieldValue(f2, v2).Build()); err != nil {
			t.Fatal(err)
		}
		k.Do(ctx, k.B().Expire().Key(key).Seconds(60).Build())
		serve(t, m, "session="+id)
	})
}
