package session_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/redistest"
	"github.com/redkit-go/redkit/session"
)

// connect starts a redis-server for the example; use your own URL in
// production.
func connect() (*redkit.Kit, func(), error) {
	srv, err := redistest.Launch(nil)
	if err != nil {
		return nil, nil, err
	}
	kit, err := redkit.Open(context.Background(), redkit.Config{URL: srv.URL(), KeyPrefix: "shop:"})
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	return kit, func() { kit.Close(); srv.Close() }, nil
}

// client is a browser: a cookie jar.
func client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func fetch(c *http.Client, url string) string {
	resp, err := c.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

type Cart struct{ Pizzas []string }

func Example() {
	kit, done, err := connect()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	// Insecure only because httptest serves plain HTTP.
	mgr := session.NewManager(kit, &session.Options{Cookie: session.CookieOptions{Insecure: true}})

	mux := http.NewServeMux()
	mux.HandleFunc("/add", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		cart, _ := session.Get[Cart](s, "cart")
		cart.Pizzas = append(cart.Pizzas, r.FormValue("pizza"))
		s.Put("cart", cart)
		fmt.Fprintln(w, len(cart.Pizzas), "in the cart")
	})
	srv := httptest.NewServer(mgr.Middleware(mux))
	defer srv.Close()

	browser := client()
	fmt.Print(fetch(browser, srv.URL+"/add?pizza=margherita"))
	fmt.Print(fetch(browser, srv.URL+"/add?pizza=diavola"))
	fmt.Print(fetch(client(), srv.URL+"/add?pizza=funghi")) // another browser
	// Output:
	// 1 in the cart
	// 2 in the cart
	// 1 in the cart
}

// On login: a new ID (against session fixation), then the user, so that
// DestroyUser can log them out everywhere.
func ExampleManager_DestroyUser() {
	kit, done, err := connect()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	mgr := session.NewManager(kit, &session.Options{Cookie: session.CookieOptions{Insecure: true}})

	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := mgr.RenewID(r.Context()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		if err := mgr.SetUser(r.Context(), r.FormValue("user")); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		session.FromContext(r.Context()).Put("user", r.FormValue("user"))
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		user, ok := session.Get[string](session.FromContext(r.Context()), "user")
		if !ok {
			user = "nobody"
		}
		fmt.Fprintln(w, user)
	})
	srv := httptest.NewServer(mgr.Middleware(mux))
	defer srv.Close()

	phone, laptop := client(), client()
	fetch(phone, srv.URL+"/login?user=alice")
	fetch(laptop, srv.URL+"/login?user=alice")
	fmt.Print(fetch(phone, srv.URL+"/whoami"))

	ids, _ := mgr.UserSessions(context.Background(), "alice")
	fmt.Println(len(ids), "sessions")
	n, _ := mgr.DestroyUser(context.Background(), "alice") // "log out everywhere"
	fmt.Println(n, "ended")
	fmt.Print(fetch(phone, srv.URL+"/whoami"), fetch(laptop, srv.URL+"/whoami"))
	// Output:
	// alice
	// 2 sessions
	// 2 ended
	// nobody
	// nobody
}

// scs users keep their code and change the store.
func ExampleManager_Store() {
	kit, done, err := connect()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	sm := scs.New()
	sm.Store = session.NewManager(kit, nil).Store() // works on a cluster too
	sm.Cookie.Secure = false                        // httptest serves plain HTTP

	mux := http.NewServeMux()
	mux.HandleFunc("/visit", func(w http.ResponseWriter, r *http.Request) {
		n := sm.GetInt(r.Context(), "visits") + 1
		sm.Put(r.Context(), "visits", n)
		fmt.Fprintln(w, "visit", n)
	})
	srv := httptest.NewServer(sm.LoadAndSave(mux))
	defer srv.Close()
	c := client()
	fmt.Print(fetch(c, srv.URL+"/visit"), fetch(c, srv.URL+"/visit"))
	// Output:
	// visit 1
	// visit 2
}

// A login handler: RenewID gives the session a new ID (the one from before
// the login no longer reads anything), and SetUser indexes it under the
// user for UserSessions and DestroyUser.
func ExampleManager_RenewID() {
	kit, done, err := connect()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer done()
	mgr := session.NewManager(kit, &session.Options{Cookie: session.CookieOptions{Insecure: true}})

	mux := http.NewServeMux()
	mux.HandleFunc("/visit", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Put("seen", true)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := mgr.RenewID(ctx); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		s := session.FromContext(ctx)
		s.Put("user", r.FormValue("name"))
		if err := mgr.SetUser(ctx, r.FormValue("name")); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		seen, _ := session.Get[bool](s, "seen")
		fmt.Fprintln(w, "logged in; data kept:", seen)
	})
	srv := httptest.NewServer(mgr.Middleware(mux))
	defer srv.Close()

	browser := client()
	fetch(browser, srv.URL+"/visit")
	fmt.Print(fetch(browser, srv.URL+"/login?name=ada"))
	ids, _ := mgr.UserSessions(context.Background(), "ada")
	fmt.Println(len(ids), "session for ada")
	// Output:
	// logged in; data kept: true
	// 1 session for ada
}
