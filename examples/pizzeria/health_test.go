package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/redistest"
)

// newTestApp runs the whole demo (every feature) against a fresh server.
func newTestApp(t *testing.T) (*app, *httptest.Server) {
	t.Helper()
	srv := redistest.Start(t, nil)
	kit, err := redkit.Open(t.Context(), redkit.Config{URL: srv.URL(), KeyPrefix: "pizzeria-test:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kit.Close() })
	a, err := newApp(context.Background(), kit, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	hs := httptest.NewServer(a.routes())
	t.Cleanup(hs.Close)
	return a, hs
}

func TestHealthzServesOK(t *testing.T) {
	_, hs := newTestApp(t)
	resp, err := http.Get(hs.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz = %d, want 200", resp.StatusCode)
	}
	resp2, err := http.Get(hs.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusOK {
		t.Fatalf("GET /stats = %d", resp2.StatusCode)
	}
}
