package session

import (
	"cmp"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/redkit-go/redkit/internal/optcheck"
)

// Defaults for Options.
const (
	// DefaultIdleTimeout ends a session nobody used for this long.
	DefaultIdleTimeout = 30 * time.Minute
	// DefaultLifetime ends every session this long after it was created,
	// however busy it is.
	DefaultLifetime = 24 * time.Hour
	// DefaultCookieName is the cookie that carries the session ID.
	DefaultCookieName = "session"
)

// Options configures a Manager. The zero value (or a nil *Options) means
// the defaults. Negative durations and cookie attributes a browser would
// reject are invalid: NewManager panics with the error Validate reports (a
// programming error, caught at construction), and never adjusts a value
// silently.
type Options struct {
	// IdleTimeout ends a session that saw no request for this long;
	// default DefaultIdleTimeout. Redis enforces it (the session's hash
	// expires), so an idle session is gone even for a client that kept the
	// cookie. To spare a write per request, the deadline is pushed back
	// only once a tenth of IdleTimeout has passed since it was last set
	// (or whenever the session is written): a session may end up to a
	// tenth of IdleTimeout before IdleTimeout after its last request.
	IdleTimeout time.Duration

	// Lifetime is the absolute limit: a session ends this long after it
	// was created, whatever its activity; default DefaultLifetime. The
	// creation time is stored with the session and checked on every load,
	// and the hash never outlives it in Redis. RenewID keeps it.
	Lifetime time.Duration

	// Cookie is how the session ID travels.
	Cookie CookieOptions

	// Logger receives what return values cannot show: data that failed to
	// decode, a save that failed after the handler ran. Session IDs are
	// never logged (only a short, one-way fingerprint). Default the Kit's
	// logger.
	Logger *slog.Logger
}

// CookieOptions are the attributes of the session cookie. The cookie is
// always HttpOnly and has no Expires or Max-Age (it ends with the browser
// session; the server enforces IdleTimeout and Lifetime).
type CookieOptions struct {
	// Name, Path and Domain of the cookie; defaults "session", "/" and ""
	// (the host that set it, and no other). A name starting with "__Host-"
	// (OWASP's advice: the browser then refuses the cookie from any other
	// host or over plain HTTP) needs Path "/" and no Domain.
	Name, Path, Domain string
	// Insecure drops the Secure attribute, so that the cookie travels over
	// plain HTTP. Set it only for local development without TLS.
	Insecure bool
	// SameSite is the SameSite attribute; 0 means http.SameSiteLaxMode.
	// http.SameSiteNoneMode requires Secure (Insecure false).
	SameSite http.SameSite
}

// Validate reports every invalid field of o, each error naming the field
// and its value ("session: Options.IdleTimeout must not be negative (got
// -1s)"), joined with errors.Join; nil when o is nil or valid. NewManager
// panics with this error.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	c := optcheck.For("session: Options")
	optcheck.NonNegative(c, "IdleTimeout", o.IdleTimeout)
	optcheck.NonNegative(c, "Lifetime", o.Lifetime)
	ck := o.Cookie
	if ck.Name != "" && !validCookieName(ck.Name) {
		c.Add("Cookie.Name", "must be a cookie name token: letters, digits and !#$%%&'*+-.^_`|~ (got %q)", ck.Name)
	}
	if strings.ContainsAny(ck.Path, ";\r\n\x00") {
		c.Add("Cookie.Path", "must not contain ';' or control characters (got %q)", ck.Path)
	}
	if strings.ContainsAny(ck.Domain, "; \t\r\n\x00") {
		c.Add("Cookie.Domain", "must not contain ';', spaces or control characters (got %q)", ck.Domain)
	}
	if ck.SameSite < 0 || ck.SameSite > http.SameSiteNoneMode {
		c.Add("Cookie.SameSite", "must be an http.SameSite value (got %d)", int(ck.SameSite))
	}
	switch {
	case strings.HasPrefix(ck.Name, "__Host-") && (ck.Insecure || ck.Domain != "" || (ck.Path != "" && ck.Path != "/")):
		c.Add("Cookie.Name", "%q: browsers accept a __Host- cookie only when Secure, with Path / and no Domain", ck.Name)
	case strings.HasPrefix(ck.Name, "__Secure-") && ck.Insecure:
		c.Add("Cookie.Name", "%q: browsers accept a __Secure- cookie only when Secure (Insecure is set)", ck.Name)
	}
	if ck.SameSite == http.SameSiteNoneMode && ck.Insecure {
		c.Add("Cookie.SameSite", "SameSiteNoneMode needs a Secure cookie: browsers reject it with Insecure set")
	}
	return c.Err()
}

// normalize returns o (valid: see Validate) with defaults applied.
func (o *Options) normalize(log *slog.Logger) Options {
	var n Options
	if o != nil {
		n = *o
	}
	n.IdleTimeout = cmp.Or(n.IdleTimeout, DefaultIdleTimeout)
	n.Lifetime = cmp.Or(n.Lifetime, DefaultLifetime)
	n.Cookie.Name = cmp.Or(n.Cookie.Name, DefaultCookieName)
	n.Cookie.Path = cmp.Or(n.Cookie.Path, "/")
	if n.Cookie.SameSite == 0 {
		n.Cookie.SameSite = http.SameSiteLaxMode
	}
	if n.Logger == nil {
		n.Logger = log
	}
	return n
}

// validCookieName reports whether s is an RFC 6265 token.
func validCookieName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
