package session

import (
	"context"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit"
)

// Store keeps scs sessions (github.com/alexedwards/scs/v2) in Redis through
// the Kit: it implements scs.Store, scs.CtxStore, scs.IterableStore and
// scs.IterableCtxStore, so an scs user switches with one line:
//
//	sessionManager.Store = mgr.Store()
//
// Each token is one string key, "<prefix>session:scs:{<token>}", written
// with SET PXAT (Redis expires it at the deadline scs gives). The token is
// the key's hash tag, so on a cluster the sessions spread over the slots;
// All SCANs every master. scs stores the whole session as one blob, so
// with it (unlike with Manager) two concurrent requests of one session
// that both change it lose one's change.
//
// Tokens are never part of an error. A Store is safe for concurrent use.
type Store struct {
	k *redkit.Kit
}

var (
	_ scs.Store            = (*Store)(nil)
	_ scs.CtxStore         = (*Store)(nil)
	_ scs.IterableStore    = (*Store)(nil)
	_ scs.IterableCtxStore = (*Store)(nil)
)

// Store returns the scs store on m's Kit.
func (m *Manager) Store() *Store { return &Store{k: m.k} }

func (s *Store) key(token string) string { return s.k.Key("session", "scs", redkit.HashTag(token)) }

// Find is FindCtx with context.Background.
func (s *Store) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// FindCtx returns the data stored for token, and whether there is any
// (false for a missing, expired or malformed token, with a nil error).
// Errors: redkit.ErrUnavailable, ctx's error.
func (s *Store) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	b, err := s.k.Do(ctx, s.k.B().Get().Key(s.key(token)).Build())
	if rueidis.IsRedisNil(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, redkit.Wrap("session: store find", "", err)
	}
	data, err := b.AsBytes()
	if err != nil {
		return nil, false, redkit.Wrap("session: store find", "", err)
	}
	return data, true, nil
}

// Commit is CommitCtx with context.Background.
func (s *Store) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// CommitCtx stores b for token until expiry, replacing what was there. An
// expiry already past deletes the token. Errors: redkit.ErrUnavailable,
// redkit.ErrOOM, ctx's error.
func (s *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	key := s.key(token)
	var cmd rueidis.Completed
	if ms := expiry.UnixMilli(); ms > time.Now().UnixMilli() {
		cmd = s.k.B().Set().Key(key).Value(rueidis.BinaryString(b)).PxatMillisecondsTimestamp(ms).Build()
	} else {
		cmd = s.k.B().Del().Key(key).Build()
	}
	if _, err := s.k.Do(ctx, cmd); err != nil {
		return redkit.Wrap("session: store commit", "", err)
	}
	return nil
}

// Delete is DeleteCtx with context.Background.
func (s *Store) Delete(token string) error { return s.DeleteCtx(context.Background(), token) }

// DeleteCtx deletes token's data; a missing token is not an error.
// Errors: redkit.ErrUnavailable, ctx's error.
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	if _, err := s.k.Do(ctx, s.k.B().Del().Key(s.key(token)).Build()); err != nil {
		return redkit.Wrap("session: store delete", "", err)
	}
	return nil
}

// All is AllCtx with context.Background.
func (s *Store) All() (map[string][]byte, error) { return s.AllCtx(context.Background()) }

// scanCount is the COUNT hint of each SCAN step.
const scanCount = 500

// AllCtx returns every live session, token to data (an empty map when
// there is none). It SCANs every master (never KEYS, so Redis is not
// blocked) and reads what it finds; sessions written or expiring while it
// runs may or may not be included. Errors: redkit.ErrUnavailable, ctx's
// error.
func (s *Store) AllCtx(ctx context.Context) (map[string][]byte, error) {
	const op = "session: store all"
	nodes, err := masters(ctx, s.k)
	if err != nil {
		return nil, redkit.Wrap(op, "", err)
	}
	prefix := s.k.Key("session", "scs", "")
	match := redkit.EscapePattern(prefix) + "{*"
	out := map[string][]byte{}
	for _, node := range nodes {
		for cursor := uint64(0); ; {
			if err := ctx.Err(); err != nil {
				return nil, redkit.Wrap(op, "", err)
			}
			page, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(match).Count(scanCount).Build()).AsScanEntry()
			if err != nil {
				return nil, redkit.Wrap(op, "", err)
			}
			if len(page.Elements) > 0 {
				cmds := make([]rueidis.Completed, len(page.Elements))
				for i, key := range page.Elements {
					cmds[i] = s.k.B().Get().Key(key).Build()
				}
				res, err := s.k.DoMulti(ctx, cmds...)
				if err != nil {
					return nil, redkit.Wrap(op, "", err)
				}
				for i, r := range res {
					b, err := r.AsBytes()
					if rueidis.IsRedisNil(err) {
						continue // expired since the SCAN
					}
					if err != nil {
						return nil, redkit.Wrap(op, "", err)
					}
					if token, ok := tokenOf(page.Elements[i][len(prefix):]); ok {
						out[token] = b
					}
				}
			}
			if page.Cursor == 0 {
				break
			}
			cursor = page.Cursor
		}
	}
	return out, nil
}

// tokenOf undoes redkit.HashTag: "{tok}" -> tok.
func tokenOf(tag string) (string, bool) {
	if len(tag) < 2 || tag[0] != '{' || tag[len(tag)-1] != '}' {
		return "", false
	}
	t := tag[1 : len(tag)-1]
	if t == "%" {
		return "", true
	}
	if strings.IndexByte(t, '%') >= 0 {
		t = tagUnescaper.Replace(t)
	}
	return t, true
}

var tagUnescaper = strings.NewReplacer("%25", "%", "%7B", "{", "%7D", "}")

// masters returns a client per master to SCAN: the Kit's client on one
// node or Sentinel, each master's on a cluster (replicas hold copies).
func masters(ctx context.Context, k *redkit.Kit) ([]rueidis.Client, error) {
	cl := k.Client()
	if k.Mode() != "cluster" {
		return []rueidis.Client{cl}, nil
	}
	var out []rueidis.Client
	for _, node := range cl.Nodes() {
		msg, err := node.Do(ctx, node.B().Role().Build()).ToArray()
		if err != nil {
			return nil, err
		}
		if len(msg) > 0 {
			if role, _ := msg[0].ToString(); strings.EqualFold(role, "master") {
				out = append(out, node)
			}
		}
	}
	return out, nil
}
