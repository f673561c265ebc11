package redistest_test

import (
	"fmt"

	"github.com/redkit-go/redkit/redistest"
)

// In a test, pass the *testing.T; an Example has none, so it uses NewTB.
func Example() {
	t := redistest.NewTB("Example")
	defer t.Close() // kills the server

	s := redistest.Start(t, nil)
	if _, err := s.Do("SET", "greeting", "hello"); err != nil {
		fmt.Println(err)
	}
	v, _ := s.Do("GET", "greeting")
	fmt.Println(v)
	// Output: hello
}

func ExampleServer_Restart() {
	t := redistest.NewTB("ExampleServer_Restart")
	defer t.Close()

	s := redistest.Start(t, &redistest.Options{Persistence: true})
	s.Do("SET", "order:1", "margherita")
	s.Restart() // SIGTERM, then start again on the same port and directory
	v, _ := s.Do("GET", "order:1")
	fmt.Println(v)
	// Output: margherita
}

func ExampleNewProxy() {
	t := redistest.NewTB("ExampleNewProxy")
	defer t.Close()

	s := redistest.Start(t, nil)
	p := redistest.NewProxy(t, s.Addr())
	// Point the client under test at p.Addr() instead of s.Addr(), then:
	p.SetLatency(0)
	p.Blackhole(true)
	p.Blackhole(false)
	p.ResetAll()
	fmt.Println(p.Target() == s.Addr())
	// Output: true
}
