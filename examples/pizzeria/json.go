package main

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/lock"
)

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers {"error": msg}.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// writeRedisError answers a redkit error with the status it calls for:
// 503 while Redis cannot be reached (the page shows the breaker), 404
// for what is not there, 409 for a lost lock or a stale fence, 500
// otherwise.
func writeRedisError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, redkit.ErrUnavailable), errors.Is(err, lock.ErrNotAcquired):
		code = http.StatusServiceUnavailable
	case errors.Is(err, redkit.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, lock.ErrLockLost), errors.Is(err, errStaleFence):
		code = http.StatusConflict
	}
	writeError(w, code, err.Error())
}
