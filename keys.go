package redkit

import "strings"

// Key returns the Kit's KeyPrefix followed by parts joined with ':'.
// Key("user", "42") with prefix "myapp:" is "myapp:user:42". Every key
// redkit writes goes through Key, so one prefix isolates one application.
func (k *Kit) Key(parts ...string) string {
	return JoinKey(k.cfg.KeyPrefix, parts...)
}

// JoinKey returns prefix followed by parts joined with ':'.
func JoinKey(prefix string, parts ...string) string {
	n := len(prefix)
	for _, p := range parts {
		n += len(p) + 1
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(prefix)
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(p)
	}
	return b.String()
}

// HashTag wraps s in braces, "{s}", so that every key containing it hashes
// to the same Redis Cluster slot: only the part between the first '{' and
// the next '}' is hashed. Use it for keys that one command or script
// touches together:
//
//	src := k.Key("cart", redkit.HashTag("user42"), "items")
//	dst := k.Key("cart", redkit.HashTag("user42"), "saved")
//
// The tag is never empty and distinct names give distinct tags. A brace
// inside s would end the tag early, and "{}" is no tag at all (Redis then
// hashes the whole key, so keys meant to share a slot would not), so s is
// escaped: '%' becomes "%25", '{' "%7B" and '}' "%7D", and the empty
// string becomes "{%}", which no other s can produce. A name without '%',
// '{' or '}' is used as it is.
func HashTag(s string) string {
	switch {
	case s == "":
		return "{%}"
	case strings.ContainsAny(s, "%{}"):
		return "{" + tagEscaper.Replace(s) + "}"
	}
	return "{" + s + "}"
}

var tagEscaper = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D")

// HasHashTag reports whether key contains a non-empty hash tag, i.e. only
// part of it decides its cluster slot. As in Redis, the tag is what lies
// between the first '{' and the first '}' after it; with nothing between
// them ("x{}y", "{}{a}") the whole key is hashed.
func HasHashTag(key string) bool {
	_, ok := hashTag(key)
	return ok
}

// hashTag returns the part of key that Redis Cluster hashes when key has a
// non-empty hash tag.
func hashTag(key string) (string, bool) {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return "", false
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return "", false
	}
	return key[i+1 : i+1+j], true
}

// EscapePattern escapes the glob characters * ? [ ] and \ in s so that a
// SCAN MATCH (or KEYS, PSUBSCRIBE) pattern built from it matches s
// literally. Use it for any user input placed inside a pattern.
func EscapePattern(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
