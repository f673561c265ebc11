package health_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/redkit-go/redkit"
	"github.com/redkit-go/redkit/health"
	"github.com/redkit-go/redkit/redistest"
)

func ExampleChecker_Handler() {
	srv, err := redistest.Launch(nil) // a real redis-server; use your own URL in production
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	kit, err := redkit.Open(context.Background(), redkit.Config{URL: srv.URL()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kit.Close()

	checker := health.NewChecker(kit, nil)
	defer checker.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /healthz", checker.Handler())

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	fmt.Println(rec.Code, checker.Status().Healthy)
	// Output: 200 true
}
