package main

// Customers: logging in, the cart and logging out, all in the session
// (package session: one Redis hash per session, one field per key, so two
// tabs changing the cart and the name at once both persist).
//   - POST /api/login {"name": "ada"}: rate-limited per client address
//     (ratelimit.Middleware: 5 a minute, 2 a second); renews the session
//     ID (a login must never keep a pre-login ID) and indexes the session
//     under the user, so "log out everywhere" can find it;
//   - GET /api/me: who is logged in, the cart, and how many sessions the
//     user has (browsers, instances);
//   - PUT /api/cart {"pizza": "diavola", "qty": 2}: qty 0 removes it;
//   - POST /api/logout, POST /api/logout-all (every session of the user,
//     on every instance).

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strings"

	"github.com/redkit-go/redkit/ratelimit"
	"github.com/redkit-go/redkit/session"
)

const (
	userKey = "user"
	cartKey = "cart"
)

// cart is what the session holds under cartKey: pizza → quantity.
type cart map[string]int

var validName = regexp.MustCompile(`^[A-Za-z0-9_. -]{1,32}$`)

// Login limits: per client address, both at once (ratelimit.AllowAll).
var loginLimits = []ratelimit.Limit{ratelimit.PerMinute(5), ratelimit.PerSecond(2)}

func (s *shop) setupCustomers(context.Context, context.Context) error {
	byAddr := func(r *http.Request) string {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		return "login:" + host
	}
	limited := s.limiter.Middleware(byAddr, loginLimits...)
	s.mux.Handle("POST /api/login", s.panel.countRefusals(limited(http.HandlerFunc(s.login))))
	s.mux.HandleFunc("POST /api/logout", s.logout)
	s.mux.HandleFunc("POST /api/logout-all", s.logoutAll)
	s.mux.HandleFunc("GET /api/me", s.me)
	s.mux.HandleFunc("PUT /api/cart", s.putCart)
	return nil
}

// currentUser is the logged-in user of the request's session, or "".
func currentUser(r *http.Request) string {
	u, _ := session.Get[string](session.FromContext(r.Context()), userKey)
	return u
}

// requireUser answers 401 when nobody is logged in.
func requireUser(w http.ResponseWriter, r *http.Request) (string, bool) {
	u := currentUser(r)
	if u == "" {
		writeError(w, http.StatusUnauthorized, "log in first")
		return "", false
	}
	return u, true
}

func (s *shop) login(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&body); err != nil || !validName.MatchString(strings.TrimSpace(body.Name)) {
		writeError(w, http.StatusBadRequest, `want {"name": "..."}: 1 to 32 letters, digits, spaces, "_", "." or "-"`)
		return
	}
	name := strings.TrimSpace(body.Name)
	ctx := r.Context()
	if err := s.sessions.RenewID(ctx); err != nil {
		writeRedisError(w, err)
		return
	}
	session.FromContext(ctx).Put(userKey, name)
	if err := s.sessions.SetUser(ctx, name); err != nil {
		writeRedisError(w, err)
		return
	}
	s.me(w, r)
}

func (s *shop) me(w http.ResponseWriter, r *http.Request) {
	sess := session.FromContext(r.Context())
	user, _ := session.Get[string](sess, userKey)
	c, _ := session.Get[cart](sess, cartKey)
	out := map[string]any{"user": user, "cart": c, "instance": s.name}
	if user != "" {
		ids, err := s.sessions.UserSessions(r.Context(), user)
		if err != nil {
			writeRedisError(w, err)
			return
		}
		out["sessions"] = len(ids)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *shop) putCart(w http.ResponseWriter, r *http.Request) {
	if _, ok := requireUser(w, r); !ok {
		return
	}
	var body struct {
		Pizza string `json:"pizza"`
		Qty   int    `json:"qty"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&body); err != nil || body.Pizza == "" || body.Qty < 0 || body.Qty > 20 {
		writeError(w, http.StatusBadRequest, `want {"pizza": "...", "qty": 0..20}`)
		return
	}
	if ok, err := s.menu.exists(r.Context(), body.Pizza); err != nil {
		writeRedisError(w, err)
		return
	} else if !ok {
		writeError(w, http.StatusNotFound, "no pizza "+body.Pizza+" on the menu")
		return
	}
	sess := session.FromContext(r.Context())
	c, _ := session.Get[cart](sess, cartKey)
	if c == nil {
		c = cart{}
	}
	if body.Qty == 0 {
		delete(c, body.Pizza)
	} else {
		c[body.Pizza] = body.Qty
	}
	sess.Put(cartKey, c)
	writeJSON(w, http.StatusOK, map[string]any{"cart": c})
}

func (s *shop) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.sessions.Destroy(r.Context()); err != nil {
		writeRedisError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": ""})
}

func (s *shop) logoutAll(w http.ResponseWriter, r *http.Request) {
	user, ok := requireUser(w, r)
	if !ok {
		return
	}
	n, err := s.sessions.DestroyUser(r.Context(), user)
	if err != nil {
		writeRedisError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": "", "ended": n})
}
