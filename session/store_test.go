package session_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2"

	"github.com/redkit-go/redkit/internal/testutil"
	"github.com/redkit-go/redkit/session"
	"github.com/redkit-go/redkit/session/sessiontest"
)

// The conformance suite on our Store (one node and cluster: see
// scenarios), and scs's own scs.Store behind real scs middleware.
func testStore(t *testing.T, b backend) {
	sessiontest.Run(t, func(t *testing.T) scs.Store {
		k := testutil.OpenKit(t, strings.ReplaceAll(t.Name(), "/", ".")+":", b.addrs...)
		return session.NewManager(k, nil).Store()
	})

	t.Run("WithSCS", func(t *testing.T) {
		k := testutil.OpenKit(t, strings.ReplaceAll(t.Name(), "/", ".")+":", b.addrs...)
		sm := scs.New()
		sm.Store = session.NewManager(k, nil).Store()
		sm.Cookie.Secure = false
		mux := http.NewServeMux()
		mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
			sm.Put(r.Context(), "v", r.FormValue("v"))
		})
		mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, sm.GetString(r.Context(), "v"))
		})
		mux.HandleFunc("/renew", func(w http.ResponseWriter, r *http.Request) {
			if err := sm.RenewToken(r.Context()); err != nil {
				t.Error(err)
			}
		})
		srv := httptestServer(t, sm.LoadAndSave(mux))
		br := newBrowser(t, srv)
		br.get("/put?v=hello")
		br.get("/renew")
		if got := br.get("/get"); got != "hello" {
			t.Fatalf("scs over our Store: %q", got)
		}
		all, err := sm.Store.(scs.IterableStore).All()
		if err != nil || len(all) != 1 {
			t.Fatalf("All = %d sessions, %v; want 1 (the renewed one)", len(all), err)
		}
	})
}
