package session_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/redistest"
	"github.com/redkit-go/redkit/session"
)

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *session.Options
		want []string // substrings of the error; nil: valid
	}{
		{"nil", nil, nil},
		{"zero", &session.Options{}, nil},
		{"set", &session.Options{IdleTimeout: time.Minute, Lifetime: time.Hour, Cookie: session.CookieOptions{
			Name: "sid", Path: "/app", Domain: "example.com", SameSite: http.SameSiteStrictMode}}, nil},
		{"__Host-", &session.Options{Cookie: session.CookieOptions{Name: "__Host-sid"}}, nil},
		{"lifetime below idle", &session.Options{IdleTimeout: time.Hour, Lifetime: time.Minute}, nil},
		{"SameSite None, Secure", &session.Options{Cookie: session.CookieOptions{SameSite: http.SameSiteNoneMode}}, nil},
		{"negative", &session.Options{IdleTimeout: -time.Second, Lifetime: -1}, []string{
			"session: Options.IdleTimeout must not be negative (got -1s)", "session: Options.Lifetime must not be negative (got -1ns)"}},
		{"name", &session.Options{Cookie: session.CookieOptions{Name: "a b"}}, []string{`session: Options.Cookie.Name must be a cookie name token`, `(got "a b")`}},
		{"name ;", &session.Options{Cookie: session.CookieOptions{Name: "a;b"}}, []string{`Cookie.Name`, `"a;b"`}},
		{"path", &session.Options{Cookie: session.CookieOptions{Path: "/a;b"}}, []string{`session: Options.Cookie.Path must not contain ';'`, `"/a;b"`}},
		{"domain", &session.Options{Cookie: session.CookieOptions{Domain: "a b"}}, []string{`Options.Cookie.Domain`, `"a b"`}},
		{"SameSite", &session.Options{Cookie: session.CookieOptions{SameSite: 9}}, []string{"Options.Cookie.SameSite must be an http.SameSite value (got 9)"}},
		{"__Host- with a domain", &session.Options{Cookie: session.CookieOptions{Name: "__Host-sid", Domain: "example.com"}}, []string{"Cookie.Name", "__Host-"}},
		{"__Host- insecure", &session.Options{Cookie: session.CookieOptions{Name: "__Host-sid", Insecure: true}}, []string{"__Host-"}},
		{"__Host- path", &session.Options{Cookie: session.CookieOptions{Name: "__Host-sid", Path: "/app"}}, []string{"__Host-"}},
		{"__Secure- insecure", &session.Options{Cookie: session.CookieOptions{Name: "__Secure-sid", Insecure: true}}, []string{"__Secure-"}},
		{"__Secure- ok", &session.Options{Cookie: session.CookieOptions{Name: "__Secure-sid", Domain: "example.com"}}, nil},
		{"SameSite None, Insecure", &session.Options{Cookie: session.CookieOptions{SameSite: http.SameSiteNoneMode, Insecure: true}}, []string{"Cookie.SameSite", "Secure"}},
	} {
		t.Run(tc.name, func(t *testing.T) { testutil.WantValid(t, tc.opts.Validate(), tc.want) })
	}
}

func TestNewManagerPanics(t *testing.T) {
	mustPanic := func(what, want string, f func()) {
		t.Helper()
		defer func() {
			r := recover()
			if r == nil || !strings.Contains(strings.TrimSpace(toString(r)), want) {
				t.Errorf("%s: panic %v; want one mentioning %q", what, r, want)
			}
		}()
		f()
	}
	mustPanic("nil kit", "nil Kit", func() { session.NewManager(nil, nil) })
	srv := redistest.Start(t, nil)
	k := testutil.OpenKit(t, "np:", srv.Addr())
	mustPanic("bad options", "IdleTimeout", func() { session.NewManager(k, &session.Options{IdleTimeout: -1}) })
}

func toString(v any) string {
	switch x := v.(type) {
	case error:
		return x.Error()
	case string:
		return x
	}
	return ""
}
