package main

import (
	"encoding/json"
	"testing"

	"github.com/redkit-go/redkit/redistest"
)

func TestHealth(t *testing.T) {
	srv := redistest.Start(t, nil)
	t.Setenv("REDIS_URL", srv.URL())

	var rep healthReport
	code, stdout, stderr := runCLI(t, "health")
	if code != exitOK {
		t.Fatalf("healthy server: exit %d, want 0; stdout %s stderr %s", code, stdout, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	if !rep.Healthy || rep.Status != "ok" || rep.Mode != "standalone" || rep.Nodes != 1 {
		t.Errorf("report %+v", rep)
	}

	srv.Stop()
	code, stdout, _ = runCLI(t, "health", "--url", srv.URL(), "--timeout", "3s")
	if code != exitFail {
		t.Fatalf("stopped server: exit %d, want 1; stdout %s", code, stdout)
	}
	rep = healthReport{}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	if rep.Healthy || rep.Status != "unavailable" || rep.Error == "" {
		t.Errorf("report %+v", rep)
	}
}
