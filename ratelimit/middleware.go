package ratelimit

import (
	"net/http"
	"strconv"
	"time"

	"github.com/redkit-go/redkit/internal/telemetry"
)

// Middleware limits HTTP requests: each request spends one event of
// key(r) under every limit, as AllowAll does. Every limited response
// carries RateLimit-Limit (the burst of the limit closest to exhaustion),
// RateLimit-Remaining and RateLimit-Reset (whole seconds until a full
// burst, rounded up); a refused request gets 429 Too Many Requests with
// Retry-After (whole seconds, at least 1) and does not reach the handler.
//
// A key function that returns "" bypasses the limiter: the request goes
// to the handler as it is, without headers (use it for health checks or
// trusted callers). While Redis is unavailable the Options.Fallback
// decides; set Options.Timeout so that a Redis that stops answering does
// not hold requests for the Kit's CommandTimeout. Any other error (a Redis error reply such as OOM) is logged
// and answered with 503 Service Unavailable; a request whose context
// ended gets no answer from the limiter.
//
// Middleware panics if key is nil, limits is empty or a limit is invalid
// (programming errors, caught when the handler is built).
func (l *Limiter) Middleware(key func(*http.Request) string, limits ...Limit) func(http.Handler) http.Handler {
	if key == nil {
		panic("ratelimit: Middleware with a nil key func")
	}
	if len(limits) == 0 {
		panic("ratelimit: Middleware without limits")
	}
	for _, lim := range limits {
		if err := lim.Validate(); err != nil {
			panic(err)
		}
	}
	limits = append([]Limit(nil), limits...)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k := key(r)
			if k == "" {
				next.ServeHTTP(w, r)
				return
			}
			res, err := l.AllowAll(r.Context(), k, limits...)
			if err != nil {
				if r.Context().Err() != nil {
					return
				}
				l.log.Warn("ratelimit: middleware could not check the limit", keyName, l.name, telemetry.KeyError, err)
				http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
				return
			}
			h := w.Header()
			h.Set("RateLimit-Limit", strconv.Itoa(res.Limit.burst()))
			h.Set("RateLimit-Remaining", strconv.Itoa(res.Remaining))
			h.Set("RateLimit-Reset", strconv.FormatInt(seconds(res.ResetAfter, 0), 10))
			if !res.Allowed {
				h.Set("Retry-After", strconv.FormatInt(seconds(res.RetryAfter, 1), 10))
				http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// seconds rounds d up to whole seconds, at least least.
func seconds(d time.Duration, least int64) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, least)
}
