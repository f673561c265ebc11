package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// idBytes is the entropy of a session ID: 256 bits from crypto/rand, well
// above OWASP's 64-bit minimum, so IDs cannot be guessed or enumerated.
const idBytes = 32

// idLen is the length of an ID: idBytes in unpadded base64url.
var idLen = base64.RawURLEncoding.EncodedLen(idBytes)

// newID returns a fresh session ID. crypto/rand.Read never fails (it
// crashes the program if the system's generator is broken).
func newID() string {
	var b [idBytes]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validID reports whether s has the form of an ID newID makes: idLen
// characters of the base64url alphabet, canonical (the last character
// leaves no stray bits). Anything else from a cookie is not looked up at
// all: it cannot name a session, and it must not reach a Redis key.
func validID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	// 32 bytes are 256 bits; 43 characters carry 258: the last character's
	// low 2 bits must be zero (base64url decoding in strict mode says so).
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// fingerprint is what logs show instead of a session ID: the first 8 bytes
// of its SHA-256, enough to tell log lines of one session from another's,
// useless for taking the session over.
func fingerprint(id string) string {
	if id == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:8])
}
