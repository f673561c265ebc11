package session

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/codec"
	"github.com/redkit-go/redkit/internal/engine"
	"github.com/redkit-go/redkit/internal/telemetry"
)

// ErrNoSession is returned by the Manager's calls when ctx carries no
// session: the request did not pass through Manager.Middleware.
var ErrNoSession = errors.New("session: no session in context (is the handler behind Manager.Middleware?)")

// Manager creates, loads and saves sessions in Redis through a Kit. A
// Manager is safe for concurrent use; several Managers (in one process or
// many) on the same Redis and KeyPrefix share the sessions. It starts no
// goroutine and needs no Close.
type Manager struct {
	k      *redkit.Kit
	opts   Options
	format codec.Format
	log    *slog.Logger
	tel    *telemetry.T
}

// NewManager returns a Manager on k. It panics if k is nil or
// opts.Validate reports an error.
func NewManager(k *redkit.Kit, opts *Options) *Manager {
	if k == nil {
		panic("session: NewManager with nil Kit")
	}
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	tel := engine.HooksOf(k.Client()).Tel
	n := opts.normalize(tel.Logger)
	return &Manager{k: k, opts: n, format: k.Format(), log: n.Logger, tel: tel}
}

// sessionKey is the hash of session id: its hash tag is the ID, so on a
// cluster a session lives in one slot and sessions spread over all.
func (m *Manager) sessionKey(id string) string { return m.k.Key("session", "{"+id+"}") }

// userKey is the index of userID's sessions.
func (m *Manager) userKey(userID string) string {
	return m.k.Key("session", "user", redkit.HashTag(userID))
}

// cookie returns the session cookie carrying id.
func (m *Manager) cookie(id string) *http.Cookie {
	c := m.opts.Cookie
	return &http.Cookie{
		Name: c.Name, Value: id, Path: c.Path, Domain: c.Domain,
		HttpOnly: true, Secure: !c.Insecure, SameSite: c.SameSite,
	}
}

type ctxKey struct{}

// FromContext returns the session of the request whose context is ctx,
// or nil when the request did not pass through Manager.Middleware. The
// Session's methods (and Get) accept nil and then do nothing.
func FromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(ctxKey{}).(*Session)
	return s
}

// Middleware gives every request a Session (see FromContext). The session
// is read from Redis only when the handler first uses it; what the handler
// changed is written (only the changed keys) just before the response
// starts, so that a new session's cookie goes out with it, and again after
// the handler returns if it changed more. A request that only reads
// refreshes the idle deadline at most once per IdleTimeout/10.
//
// A cookie that does not hold a well-formed ID, or the ID of a session
// that does not exist (expired, destroyed, forged), gets a new session,
// and nothing is written to Redis unless the handler stores something.
// Stored data that does not decode is logged and replaced by a new
// session; it never fails the request. A save that fails is logged
// (Session.Err reports a failed load to the handler). The changes of a
// request whose session was destroyed (Destroy, DestroyUser, RenewID) or
// expired while it ran are dropped: a session never comes back.
//
// The ResponseWriter passed on supports http.Flusher and Unwrap (for
// http.ResponseController).
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := &Session{m: m, ctx: r.Context()}
		if c, err := r.Cookie(m.opts.Cookie.Name); err == nil && validID(c.Value) {
			s.cookieID = c.Value
		}
		sw := &writer{ResponseWriter: w, s: s}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, s)))
		if !sw.started {
			sw.started = true
			s.flush(w.Header())
		} else {
			s.flush(nil)
		}
	})
}

// writer saves the session before the response's headers go out.
type writer struct {
	http.ResponseWriter
	s       *Session
	started bool
}

func (w *writer) start() {
	if !w.started {
		w.started = true
		w.s.flush(w.Header())
	}
}

// WriteHeader saves the session, then writes the header.
func (w *writer) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.start()
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write saves the session before the first write, then writes b.
func (w *writer) Write(b []byte) (int, error) {
	w.start()
	return w.ResponseWriter.Write(b)
}

// Flush saves the session, then flushes the response.
func (w *writer) Flush() {
	w.start()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// session returns ctx's session, loaded, with s.mu held: the caller
// unlocks.
func session(ctx context.Context, op string) (*Session, error) {
	s := FromContext(ctx)
	if s == nil {
		return nil, redkit.Wrap(op, "", ErrNoSession)
	}
	s.mu.Lock()
	s.load()
	if s.loadErr != nil {
		err := s.loadErr
		s.mu.Unlock()
		return nil, redkit.Wrap(op, "", err)
	}
	return s, nil
}

// RenewID gives the session of the request whose context is ctx a new ID
// (call it on login and on every change of privilege, against session
// fixation), keeping its data and lifetime. The old ID reads nothing from
// the moment RenewID reads the data: the hash under it is read and deleted
// in one step (a Lua script), then written whole under the new ID (which
// is in another cluster slot, so this is a second step). If that second
// step fails, the session is lost (the user is logged out) and the error
// returned; it is never left under both IDs. Requests of the old ID that
// run meanwhile find no session. The new cookie goes out with the
// response. A session not yet in Redis just gets a new ID when saved.
//
// Errors: ErrNoSession; redkit.ErrUnavailable, ctx's error (from Redis).
func (m *Manager) RenewID(ctx context.Context) (err error) {
	const op = "session: renew id"
	ctx, sp := m.tel.Start(ctx, "session.renew_id", "")
	defer func() { telemetry.End(sp, err) }()
	s, err := session(ctx, op)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	if !s.stored {
		if !s.renewed {
			s.id = "" // a new session: a fresh ID is made when it is saved
		}
		return nil
	}
	old, oldUser := s.id, s.user
	msg, err := m.k.Exec(ctx, takeScript, []string{m.sessionKey(old)}, nil)
	if err != nil {
		return redkit.Wrap(op, "", err)
	}
	flat, err := msg.AsStrSlice()
	if err != nil {
		return redkit.Wrap(op, "", err)
	}
	fields, err := parsePairs(flat)
	var st stored
	if err == nil && len(fields) > 0 {
		st, err = parseHash(fields)
	}
	if err != nil || len(fields) == 0 {
		if err != nil && !errors.Is(err, errNoCreated) {
			m.log.Warn("session: stored session does not decode; starting a fresh session", "session.fp", fingerprint(old), telemetry.KeyError, err)
		}
		if oldUser != "" {
			m.k.Do(ctx, m.k.B().Zrem().Key(m.userKey(oldUser)).Member(old).Build())
		}
		s.fresh()
		s.cookie = cookieDelete
		return nil
	}
	// The latest data (other requests may have written since this one
	// loaded), with this request's changes on top.
	for k := range s.changed {
		if v, ok := s.values[k]; ok {
			st.values[k] = v
		} else {
			delete(st.values, k)
		}
	}
	if !s.userMod {
		s.user = st.user
	}
	s.values, s.created, s.indexed = st.values, st.created, time.Time{}
	s.id, s.stored, s.renewed = newID(), false, true
	err = s.saveLocked(ctx)
	if st.user != "" {
		m.k.Do(ctx, m.k.B().Zrem().Key(m.userKey(st.user)).Member(old).Build())
	}
	if err != nil {
		s.fresh()
		s.cookie = cookieDelete
		return redkit.Wrap(op, "", err)
	}
	return nil
}

// Destroy ends the session of the request whose context is ctx: its data
// is deleted from Redis now, it leaves its user's index, and the response
// expires the cookie. Values Put after Destroy start a new session.
//
// Errors: ErrNoSession; redkit.ErrUnavailable, ctx's error (from Redis).
func (m *Manager) Destroy(ctx context.Context) error {
	const op = "session: destroy"
	s, err := session(ctx, op)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	if s.stored {
		if err := m.remove(ctx, s.id, s.user); err != nil {
			return redkit.Wrap(op, "", err)
		}
	}
	hadCookie := s.stored || s.cookieID != ""
	s.fresh()
	if hadCookie {
		s.cookie = cookieDelete
	} else {
		s.cookie = cookieKeep
	}
	return nil
}

// remove deletes session id and its entry in user's index.
func (m *Manager) remove(ctx context.Context, id, user string) error {
	cmds := []rueidis.Completed{m.k.B().Del().Key(m.sessionKey(id)).Build()}
	if user != "" {
		cmds = append(cmds, m.k.B().Zrem().Key(m.userKey(user)).Member(id).Build())
	}
	res, err := m.k.DoMulti(ctx, cmds...)
	if err != nil {
		return err
	}
	for _, r := range res {
		if err := r.Error(); err != nil {
			return err
		}
	}
	return nil
}

// SetUser ties the session of the request whose context is ctx to userID
// (after a login: call RenewID first), and saves the session now, so that
// UserSessions and DestroyUser see it. A session of another user leaves
// that user's index. userID may be any non-empty string.
//
// Errors: ErrNoSession; redkit.ErrEmptyKey for an empty userID;
// redkit.ErrUnavailable, ctx's error (from Redis).
func (m *Manager) SetUser(ctx context.Context, userID string) error {
	const op = "session: set user"
	if userID == "" {
		return redkit.Wrap(op, "", redkit.ErrEmptyKey)
	}
	s, err := session(ctx, op)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	old := s.user
	s.user, s.userMod = userID, true // written (and indexed) even if unchanged
	if err := s.saveLocked(ctx); err != nil {
		return redkit.Wrap(op, userID, err)
	}
	if old != "" && old != userID && s.id != "" {
		if _, err := m.k.Do(ctx, m.k.B().Zrem().Key(m.userKey(old)).Member(s.id).Build()); err != nil {
			return redkit.Wrap(op, old, err)
		}
	}
	return nil
}

// index adds (or refreshes) session id in user's index with its deadline.
func (m *Manager) index(ctx context.Context, user, id string, deadline, now time.Time) error {
	_, err := m.k.Exec(ctx, indexScript, []string{m.userKey(user)},
		[]string{id, strconv.FormatInt(deadline.UnixMilli(), 10), strconv.FormatInt(now.UnixMilli(), 10)})
	if err != nil {
		return redkit.Wrap("session: index", user, err)
	}
	return nil
}

// UserSessions returns the IDs of userID's live sessions (those given
// SetUser(userID), not destroyed nor expired), in no set order. The index
// is pruned as it is read: entries past their deadline, and entries whose
// session is gone, are removed. The IDs are secrets, as cookies are.
//
// Errors: redkit.ErrEmptyKey for an empty userID; redkit.ErrUnavailable,
// ctx's error.
func (m *Manager) UserSessions(ctx context.Context, userID string) ([]string, error) {
	const op = "session: user sessions"
	if userID == "" {
		return nil, redkit.Wrap(op, "", redkit.ErrEmptyKey)
	}
	idx := m.userKey(userID)
	msg, err := m.k.Exec(ctx, listScript, []string{idx}, []string{strconv.FormatInt(time.Now().UnixMilli(), 10)})
	if err != nil {
		return nil, redkit.Wrap(op, userID, err)
	}
	ids, err := msg.AsStrSlice()
	if err != nil || len(ids) == 0 {
		return nil, redkit.Wrap(op, userID, err)
	}
	// An entry can outlive its session by a moment (a refresh racing
	// DestroyUser): check each, and drop the dead.
	cmds := make([]rueidis.Completed, len(ids))
	for i, id := range ids {
		cmds[i] = m.k.B().Hexists().Key(m.sessionKey(id)).Field(fieldCreated).Build()
	}
	res, err := m.k.DoMulti(ctx, cmds...)
	if err != nil {
		return nil, redkit.Wrap(op, userID, err)
	}
	live := ids[:0:0]
	var dead []string
	for i, r := range res {
		n, err := r.AsInt64()
		if err != nil {
			return nil, redkit.Wrap(op, userID, err)
		}
		if n == 1 {
			live = append(live, ids[i])
		} else {
			dead = append(dead, ids[i])
		}
	}
	if len(dead) > 0 {
		if _, err := m.k.Do(ctx, m.k.B().Zrem().Key(idx).Member(dead...).Build()); err != nil {
			return nil, redkit.Wrap(op, userID, err)
		}
	}
	return live, nil
}

// DestroyUser ends every session of userID ("log out everywhere"), on
// every Manager that shares this Redis and KeyPrefix, and returns how many
// live sessions it ended. It takes the user's index (reads and deletes it
// in one step), then deletes each session; requests of those sessions
// that are running cannot save them back. A session tied to userID after
// DestroyUser read the index (a new login) is not ended.
//
// Errors: redkit.ErrEmptyKey for an empty userID; redkit.ErrUnavailable,
// ctx's error; on error some sessions may be ended.
func (m *Manager) DestroyUser(ctx context.Context, userID string) (n int64, err error) {
	const op = "session: destroy user"
	ctx, sp := m.tel.Start(ctx, "session.destroy_user", m.userKey(userID))
	defer func() { telemetry.End(sp, err) }()
	if userID == "" {
		return 0, redkit.Wrap(op, "", redkit.ErrEmptyKey)
	}
	msg, err := m.k.Exec(ctx, takeIndexScript, []string{m.userKey(userID)}, nil)
	if err != nil {
		return 0, redkit.Wrap(op, userID, err)
	}
	ids, err := msg.AsStrSlice()
	if err != nil || len(ids) == 0 {
		return 0, redkit.Wrap(op, userID, err)
	}
	cmds := make([]rueidis.Completed, len(ids))
	for i, id := range ids {
		cmds[i] = m.k.B().Del().Key(m.sessionKey(id)).Build()
	}
	res, err := m.k.DoMulti(ctx, cmds...)
	if err != nil {
		return 0, redkit.Wrap(op, userID, err)
	}
	var firstErr error
	for _, r := range res {
		d, err := r.AsInt64()
		if err != nil && firstErr == nil {
			firstErr = err
		}
		n += d
	}
	return n, redkit.Wrap(op, userID, firstErr)
}
