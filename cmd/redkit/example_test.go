package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/redkit-go/redkit/redistest"
)

// The doctor against a plain test server: everything redkit needs is
// there, but nothing is persisted.
func Example_doctor() {
	srv, err := redistest.Launch(nil) // a real redis-server; use your own URL in production
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	var out bytes.Buffer
	code := run([]string{"doctor", "--json", "--url", srv.URL()}, &out, io.Discard)
	var checks []check
	if err := json.Unmarshal(out.Bytes(), &checks); err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range checks {
		fmt.Println(c.Status, c.Check)
	}
	fmt.Println("exit", code)
	// Output:
	// ok connect
	// ok version
	// ok tracking
	// ok keyspace
	// ok eviction
	// warn persistence
	// ok cluster
	// ok sentinel
	// exit 0
}

// The health command's exit code follows the server.
func Example_health() {
	srv, err := redistest.Launch(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	var out bytes.Buffer
	fmt.Println("exit", run([]string{"health", "--url", srv.URL()}, &out, io.Discard))
	srv.Stop()
	fmt.Println("exit", run([]string{"health", "--url", srv.URL()}, &out, io.Discard))
	// Output:
	// exit 0
	// exit 1
}
