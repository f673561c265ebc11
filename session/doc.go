// Package session keeps HTTP sessions in Redis: secure by default, with no
// lost updates between concurrent requests, per-user "log out everywhere",
// and a cluster-ready store for scs (github.com/alexedwards/scs/v2).
//
//	mgr := session.NewManager(kit, nil)
//	http.ListenAndServe(addr, mgr.Middleware(mux))
//
//	// in a handler:
//	s := session.FromContext(r.Context())
//	cart, _ := session.Get[Cart](s, "cart")
//	s.Put("cart", cart)
//	// on login:
//	mgr.RenewID(r.Context())
//	mgr.SetUser(r.Context(), user.ID)
//
// # Storage
//
// A session is one Redis hash, "<prefix>session:{<id>}": one field per
// key, encoded with the Kit's codec and compression (Kit.Format), plus its
// creation time and user. A request writes only the keys it changed, so
// two concurrent requests of one session that write different keys both
// persist; when they write the same key, the last to save wins. The ID is
// the key's hash tag: on a cluster every key of a session is in one slot,
// and sessions spread over all. A user's index ("<prefix>session:user:
// {<user>}", a sorted set of session IDs scored by deadline) lives in the
// user's slot; it is pruned as it is read and written, and expires with
// the user's last session. Its scores run IdleTimeout/10 past each
// session's deadline, so that it is updated at most that often and never
// drops a live session; UserSessions checks each entry against its
// session. A save never brings back a session that was destroyed while
// the request ran (see Middleware).
//
// # Security
//
// Following the OWASP Session Management Cheat Sheet:
//   - IDs are 256 bits from crypto/rand, base64url; a cookie that is not
//     a well-formed ID is never looked up, and an unknown ID (expired,
//     destroyed, forged) starts a new session with a new ID. Nothing is
//     written to Redis until something is stored.
//   - The cookie is HttpOnly, Secure (CookieOptions.Insecure opts out, for
//     plain-HTTP development only), SameSite=Lax unless set, with no
//     Expires: the browser drops it when it closes.
//   - IdleTimeout and Lifetime are enforced by the server: the hash's TTL
//     is the idle deadline, cut to the absolute lifetime, and the creation
//     time is checked on every load.
//   - RenewID (on login or any change of privilege) moves the data to a new
//     ID and deletes the old one; DestroyUser ends every session of a user.
//   - Session IDs never appear in logs or errors (logs show a one-way
//     fingerprint); data that does not decode is logged and replaced by a
//     new session, never a 500.
//
// # scs
//
// Manager.Store returns a Store for scs users (scs.Store, scs.CtxStore,
// scs.IterableStore): one line to switch, and it works on a cluster. The
// subpackage sessiontest is a conformance suite any scs store can run.
//
// Left out: session data shared across users, server push of session
// changes, and sliding cookie expiry (the cookie lives as long as the
// browser session; the server decides when the session ends).
package session
