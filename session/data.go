package session

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A session is one Redis hash, "<prefix>session:{<id>}" (the ID is the
// hash tag, so every key of one session is in one cluster slot). Its
// fields:
//
//	_c     creation time, unix milliseconds (for Lifetime)
//	_u     the user ID given to SetUser, if any
//	_i     the session's score in its user's index, unix milliseconds
//	.name  the value Put under name, encoded with the Kit's Format
//
// One field per value is what lets two concurrent requests that write
// different names both persist. Fields starting with '_' that this
// version does not know are ignored (room for later versions); anything
// else makes the hash unreadable, and the session starts afresh.
const (
	fieldCreated = "_c"
	fieldUser    = "_u"
	fieldIndexed = "_i"
	valuePrefix  = "."
)

// stored is a session as read from its hash.
type stored struct {
	created time.Time
	user    string
	indexed time.Time         // zero: not indexed (or unreadable: index again)
	values  map[string]string // name -> encoded value
}

var errNoCreated = errors.New("no creation time")

// parseHash reads a session's hash fields (HGETALL). It never panics on
// bad input; an error means the hash is not a session this version wrote.
func parseHash(fields map[string]string) (stored, error) {
	st := stored{values: make(map[string]string, len(fields))}
	seenCreated := false
	for f, v := range fields {
		switch {
		case strings.HasPrefix(f, valuePrefix):
			st.values[f[len(valuePrefix):]] = v
		case f == fieldCreated:
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ms <= 0 {
				return stored{}, fmt.Errorf("creation time %q is not a positive unix millisecond count", v)
			}
			st.created, seenCreated = time.UnixMilli(ms), true
		case f == fieldUser:
			st.user = v
		case f == fieldIndexed:
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
				st.indexed = time.UnixMilli(ms)
			}
		case strings.HasPrefix(f, "_"):
			// A later version's metadata.
		default:
			return stored{}, fmt.Errorf("unknown field %q", f)
		}
	}
	if !seenCreated {
		return stored{}, errNoCreated
	}
	return st, nil
}

// parsePairs turns a flat HGETALL array (field, value, field, value...)
// into a map, as take.lua returns it.
func parsePairs(flat []string) (map[string]string, error) {
	if len(flat)%2 != 0 {
		return nil, fmt.Errorf("odd number of hash elements (%d)", len(flat))
	}
	m := make(map[string]string, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		m[flat[i]] = flat[i+1]
	}
	return m, nil
}
