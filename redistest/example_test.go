package redistest_test

import (
	"fmt"
	"log"
	"testing"

	"github.com/redkit-go/redkit/redistest"
)

// Code without a testing.TB, such as this example, launches the server and
// closes it.
func Example() {
	srv, err := redistest.Launch(nil)
	if err != nil {
		log.Fatal(err) // redis-server missing: the message names the install command
	}
	defer srv.Close() // kills the server and removes its directory

	if _, err := srv.Do("SET", "greeting", "hello"); err != nil {
		log.Fatal(err)
	}
	v, _ := srv.Do("GET", "greeting")
	fmt.Println(v)
	// Output: hello
}

// In a test, Start takes the test's *testing.T (or *testing.B): a failure
// to start fails the test, and the server is killed and its directory
// removed when the test ends. (An example has no test, so this one is
// compiled but not run.)
func ExampleStart() {
	var t *testing.T // the test's t

	srv := redistest.Start(t, &redistest.Options{Persistence: true})
	srv.Do("SET", "order:1", "margherita")
	srv.Restart() // on failure it fails t: no error to check in a test
	if v, _ := srv.Do("GET", "order:1"); v != "margherita" {
		t.Errorf("after Restart, order:1 = %q", v)
	}
}

func ExampleServer_Restart() {
	srv, err := redistest.Launch(&redistest.Options{Persistence: true})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	srv.Do("SET", "order:1", "margherita")
	// SIGTERM, then start again on the same port and directory. Outside a
	// test the error is the only report of a failure.
	if err := srv.Restart(); err != nil {
		log.Fatal(err)
	}
	v, _ := srv.Do("GET", "order:1")
	fmt.Println(v)
	// Output: margherita
}

func ExampleLaunchProxy() {
	srv, err := redistest.Launch(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	p, err := redistest.LaunchProxy(srv.Addr())
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	// Point the client under test at p.Addr() instead of srv.Addr(), then:
	p.SetLatency(0)
	p.Blackhole(true)
	p.Blackhole(false)
	p.ResetAll()
	fmt.Println(p.Target() == srv.Addr())
	// Output: true
}

func ExampleLaunchCluster() {
	cl, err := redistest.LaunchCluster(3, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close() // kills all six nodes

	fmt.Println(len(cl.Addrs()), "nodes,", len(cl.Masters()), "masters")
	m := cl.MasterFor("user:42")
	fmt.Println(m.Do("SET", "user:42", "ada"))
	// Output:
	// 6 nodes, 3 masters
	// OK <nil>
}

func ExampleLaunchSentinel() {
	s, err := redistest.LaunchSentinel(1)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	fmt.Println(s.MasterName(), len(s.Addrs()), "sentinels")
	fmt.Println(s.Master() == s.Nodes()[0])
	// Output:
	// mymaster 3 sentinels
	// true
}
