package session

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/codec"
	"github.com/redkit-go/redkit/internal/telemetry"
)

// Session is the session of one request, from Manager.Middleware (get it
// with FromContext). It is loaded from Redis on first use, and what the
// handler changed is saved when the response starts (before its headers
// go out, so a new session's cookie can be set) and again when the handler
// returns if it changed more after that. A request that never touches its
// session costs no Redis call.
//
// A Session is safe for concurrent use by the goroutines of one request.
// It keeps the request's context for the lazy load: do not use it after
// the handler returned.
type Session struct {
	m   *Manager
	ctx context.Context

	mu       sync.Mutex
	cookieID string // a well-formed ID from the request's cookie, or ""
	loaded   bool
	loadErr  error

	id      string // the ID in Redis; "" while the session has none
	stored  bool   // the hash exists in Redis (as far as this request knows)
	created time.Time
	user    string
	indexed time.Time         // the session's score in its user's index
	values  map[string]string // name -> encoded value
	changed map[string]bool   // names Put or Removed since the last save
	userMod bool              // user changed since the last save
	renewed bool              // RenewID took the data: write it under the new ID
	ttlAt   time.Time         // when ttl was read or set
	ttl     time.Duration     // the hash's TTL at ttlAt (-1: none)
	cookie  cookieAction
}

type cookieAction uint8

const (
	cookieKeep   cookieAction = iota
	cookieSet                 // send the (new) ID
	cookieDelete              // expire the client's cookie
)

// load reads the session from Redis once. With s.mu held.
func (s *Session) load() {
	if s.loaded {
		return
	}
	s.loaded = true
	s.fresh()
	if s.cookieID == "" {
		return
	}
	m := s.m
	key := m.sessionKey(s.cookieID)
	ctx, sp := m.tel.Start(s.ctx, "session.load", "") // no key: it holds the ID
	res, err := m.k.DoMulti(ctx, m.k.B().Hgetall().Key(key).Build(), m.k.B().Pttl().Key(key).Build())
	telemetry.End(sp, err)
	if err == nil {
		err = res[0].Error()
	}
	if err != nil {
		if errors.Is(redkit.Classify(err), redkit.ErrWrongType) {
			s.corrupt(key, err)
			return
		}
		s.loadErr = redkit.Wrap("session: load", "", err)
		return
	}
	fields, err := res[0].AsStrMap()
	if err != nil {
		s.corrupt(key, err)
		return
	}
	if len(fields) == 0 {
		return // unknown, expired or forged: a new session, written only when something is Put
	}
	st, err := parseHash(fields)
	if errors.Is(err, errNoCreated) {
		// What a save racing Destroy leaves behind: not a session.
		m.log.Debug("session: leftover of an ended session deleted", "session.fp", fingerprint(s.cookieID))
		m.k.Do(s.ctx, m.k.B().Del().Key(key).Build())
		return
	}
	if err != nil {
		s.corrupt(key, err)
		return
	}
	now := time.Now()
	if now.Sub(st.created) >= m.opts.Lifetime {
		// Past its absolute lifetime (the hash's TTL should have ended it;
		// a clock step or a TTL set by hand may not have).
		m.remove(s.ctx, s.cookieID, st.user)
		return
	}
	ttl, err := res[1].AsInt64()
	if err != nil {
		ttl = -1
	}
	s.id, s.stored, s.created, s.user, s.indexed, s.values = s.cookieID, true, st.created, st.user, st.indexed, st.values
	s.ttlAt, s.ttl = now, time.Duration(ttl)*time.Millisecond
}

// corrupt handles a hash that does not decode: logged (without the ID),
// deleted so the ID stops working, and the request gets a fresh session.
func (s *Session) corrupt(key string, err error) {
	s.m.log.Warn("session: stored session does not decode; starting a fresh session",
		"session.fp", fingerprint(s.cookieID), telemetry.KeyError, err)
	s.m.k.Do(s.ctx, s.m.k.B().Del().Key(key).Build()) // best effort; it would expire anyway
	s.fresh()
}

// fresh makes s an empty session with no ID.
func (s *Session) fresh() {
	s.id, s.stored, s.created, s.user, s.indexed = "", false, time.Time{}, "", time.Time{}
	s.values = map[string]string{}
	s.changed = map[string]bool{}
	s.userMod, s.renewed = false, false
}

// Get returns the value stored under key in s, decoded as T with the
// Kit's Format, and whether there was one. A value that does not decode
// as T is logged and reported missing (it stays stored). A nil s, or a
// session whose load failed (see Err), has no values.
func Get[T any](s *Session, key string) (T, bool) {
	var zero T
	if s == nil {
		return zero, false
	}
	s.mu.Lock()
	s.load()
	raw, ok := s.values[key]
	s.mu.Unlock()
	if !ok {
		return zero, false
	}
	v, err := codec.Decode[T](s.m.format, unsafe.Slice(unsafe.StringData(raw), len(raw)))
	if err != nil {
		s.m.log.Warn("session: value does not decode; reported missing",
			telemetry.KeyKey, key, "session.fp", fingerprint(s.cookieID), telemetry.KeyError, err)
		return zero, false
	}
	return v, true
}

// Put stores v under key, encoded with the Kit's Format (as Get[T] reads
// it back), to be saved with the response. Only the keys a request
// changes are written, one hash field each: concurrent requests of one
// session that Put different keys all persist; for the same key the last
// save wins. A value the codec cannot encode is logged and not stored.
// Put on a nil Session does nothing.
func (s *Session) Put(key string, v any) {
	if s == nil {
		return
	}
	b, err := codec.EncodeValue(s.m.format, v)
	if err != nil {
		s.m.log.Error("session: value does not encode; not stored", telemetry.KeyKey, key, telemetry.KeyError, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	s.values[key] = unsafe.String(unsafe.SliceData(b), len(b))
	s.changed[key] = true
}

// Remove deletes key from s (saved with the response).
func (s *Session) Remove(key string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	if _, ok := s.values[key]; ok || s.stored {
		delete(s.values, key)
		s.changed[key] = true
	}
}

// ID returns the session's ID, or "" while it has none: a new session gets
// its ID when it is first saved. Treat it as a secret (it is the
// session); redkit never logs it.
func (s *Session) ID() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	return s.id
}

// Err returns why the session could not be loaded (redkit.ErrUnavailable,
// ctx's error...), or nil. A session that failed to load has no values and
// is not saved, so that a request cannot overwrite data it did not see.
func (s *Session) Err() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	return s.loadErr
}

// pendingLocked reports whether s has something to write.
func (s *Session) pendingLocked() bool {
	return len(s.changed) > 0 || s.userMod || s.renewed
}

// deadline returns the TTL a write at now gives the session: IdleTimeout,
// cut to what is left of its Lifetime.
func (s *Session) deadline(now time.Time) time.Duration {
	o := &s.m.opts
	return max(min(o.IdleTimeout, s.created.Add(o.Lifetime).Sub(now)), time.Millisecond)
}

// saveLocked writes what changed, or refreshes the idle deadline when
// enough of it has passed. With s.mu held.
//
// The write of a session loaded from Redis is one pipeline, not a script
// (a script costs Redis several times more CPU, which the bench/ session
// rows pay for): HEXISTS of the creation time, HSET of the changed
// fields, HDEL of the removed ones, PEXPIRE. If the session was destroyed
// or expired meanwhile, the HSET leaves a hash without a creation time,
// which no load accepts as a session (it is deleted, and it has a TTL
// anyway): a destroyed session never comes back. A new session is written
// in MULTI/EXEC, so it never exists without its TTL.
func (s *Session) saveLocked(ctx context.Context) error {
	if !s.loaded {
		return nil
	}
	if s.loadErr != nil {
		if s.pendingLocked() {
			return errors.New("session: changes not saved: the session did not load: " + s.loadErr.Error())
		}
		return nil
	}
	now := time.Now()
	if !s.pendingLocked() {
		if s.stored {
			return s.refreshLocked(ctx, now)
		}
		return nil
	}
	m := s.m
	isNew := !s.stored
	if isNew {
		if s.id == "" {
			s.id = newID()
		}
		if s.created.IsZero() {
			s.created = now
		}
	}
	ttl := s.deadline(now)
	indexed := false
	if s.user != "" && (isNew || s.userMod || s.indexed.Before(now.Add(ttl))) {
		score := now.Add(ttl + m.opts.IdleTimeout/10)
		if err := m.index(ctx, s.user, s.id, score, now); err != nil {
			if isNew && !s.renewed {
				s.id = ""
			}
			return err
		}
		s.indexed, indexed = score, true
	}
	key := m.sessionKey(s.id)
	b := m.k.B()
	hset := b.Hset().Key(key).FieldValue()
	nset := 0
	add := func(f, v string) { hset = hset.FieldValue(f, v); nset++ }
	var dels []string
	if isNew {
		add(fieldCreated, strconv.FormatInt(s.created.UnixMilli(), 10))
		for k, v := range s.values {
			add(valuePrefix+k, v)
		}
	} else {
		for k := range s.changed {
			if v, ok := s.values[k]; ok {
				add(valuePrefix+k, v)
			} else {
				dels = append(dels, valuePrefix+k)
			}
		}
	}
	if s.user != "" && (isNew || s.userMod) {
		add(fieldUser, s.user)
	}
	if indexed {
		add(fieldIndexed, strconv.FormatInt(s.indexed.UnixMilli(), 10))
	}
	pexpire := b.Pexpire().Key(key).Milliseconds(ttl.Milliseconds()).Build()
	var cmds []rueidis.Completed
	if isNew {
		cmds = []rueidis.Completed{b.Multi().Build(), hset.Build(), pexpire, b.Exec().Build()}
	} else {
		cmds = append(make([]rueidis.Completed, 0, 4), b.Hexists().Key(key).Field(fieldCreated).Build())
		if nset > 0 {
			cmds = append(cmds, hset.Build())
		}
		if len(dels) > 0 {
			cmds = append(cmds, b.Hdel().Key(key).Field(dels...).Build())
		}
		cmds = append(cmds, pexpire)
	}
	res, err := m.k.DoMulti(ctx, cmds...)
	if err == nil {
		for _, r := range res {
			if err = r.Error(); err != nil {
				break
			}
		}
	}
	if err != nil {
		if isNew && !s.renewed {
			s.id = "" // nothing was stored under it
		}
		return redkit.Wrap("session: save", "", err)
	}
	if !isNew {
		if there, _ := res[0].AsInt64(); there == 0 {
			// Destroyed (DestroyUser, another request's Destroy or RenewID)
			// or expired while this request ran: its changes must not bring
			// it back, least of all logged in.
			m.k.Do(ctx, b.Del().Key(key).Build()) // what the HSET left; it has a TTL anyway
			m.log.Info("session: ended while a request ran; its changes were dropped", "session.fp", fingerprint(s.id))
			s.fresh()
			s.cookie = cookieDelete
			return nil
		}
	} else {
		s.cookie = cookieSet
	}
	s.stored, s.renewed, s.userMod = true, false, false
	clear(s.changed)
	s.ttlAt, s.ttl = now, ttl
	return nil
}

// refreshLocked pushes the idle deadline back when a tenth of IdleTimeout
// (or more) has passed since it was last set, so a busy session is not
// rewritten on every request: one PEXPIRE (and, for a session with a
// user, one index update) every IdleTimeout/10 at most.
func (s *Session) refreshLocked(ctx context.Context, now time.Time) error {
	m := s.m
	want := s.deadline(now)
	left := s.ttl - now.Sub(s.ttlAt)
	due := s.ttl < 0 || want-left >= m.opts.IdleTimeout/10
	reindex := s.user != "" && s.indexed.Before(now.Add(want))
	if !due && !reindex {
		return nil
	}
	key := m.sessionKey(s.id)
	b := m.k.B()
	pexpire := b.Pexpire().Key(key).Milliseconds(want.Milliseconds()).Build()
	if !reindex {
		if _, err := m.k.Do(ctx, pexpire); err != nil { // a no-op if the session is gone
			return redkit.Wrap("session: refresh", "", err)
		}
		s.ttlAt, s.ttl = now, want
		return nil
	}
	score := now.Add(want + m.opts.IdleTimeout/10)
	if err := m.index(ctx, s.user, s.id, score, now); err != nil {
		return err
	}
	res, err := m.k.DoMulti(ctx, b.Hexists().Key(key).Field(fieldCreated).Build(),
		b.Hset().Key(key).FieldValue().FieldValue(fieldIndexed, strconv.FormatInt(score.UnixMilli(), 10)).Build(), pexpire)
	if err == nil {
		for _, r := range res {
			if err = r.Error(); err != nil {
				break
			}
		}
	}
	if err != nil {
		return redkit.Wrap("session: refresh", "", err)
	}
	if there, _ := res[0].AsInt64(); there == 0 {
		m.k.Do(ctx, b.Del().Key(key).Build())
		s.fresh()
		return nil
	}
	s.indexed, s.ttlAt, s.ttl = score, now, want
	return nil
}

// flush saves the session when the response starts (h is its header, to
// which a cookie is added) or when the handler returned (h nil if the
// response had started: too late for a cookie).
func (s *Session) flush(h http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A client that went away does not undo what its handler did: the
	// save is bounded by the Kit's CommandTimeout, not the request.
	ctx, sp := s.m.tel.Start(context.WithoutCancel(s.ctx), "session.save", "")
	err := s.saveLocked(ctx)
	telemetry.End(sp, err)
	if err != nil {
		s.m.log.Error("session: save failed", "session.fp", fingerprint(s.id), telemetry.KeyError, err)
	}
	switch {
	case s.cookie == cookieKeep:
	case h != nil:
		c := s.m.cookie(s.id)
		if s.cookie == cookieDelete {
			c.Value, c.MaxAge = "", -1
		}
		h.Add("Set-Cookie", c.String())
		h.Add("Vary", "Cookie")
		h.Add("Cache-Control", `no-cache="Set-Cookie"`)
		s.cookie = cookieKeep
	case s.cookie == cookieSet:
		s.m.log.Warn("session: new session ID saved after the response started; the client did not get its cookie (Put, RenewID or SetUser before writing the response)",
			"session.fp", fingerprint(s.id))
		s.cookie = cookieKeep
	}
}
