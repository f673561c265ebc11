// Package leaktest is the goroutine-leak check every redkit package runs
// in TestMain: goleak with the few engine goroutines that are not leaks.
package leaktest

import (
	"testing"

	"go.uber.org/goleak"
)

// Options are the goleak options redkit's tests share.
//
// rueidis's reconnect backoff (singleflight DelayDo) sleeps in a goroutine
// for up to a second after a failed dial and then exits on its own; a test
// that kills a server can end inside that sleep. It is bounded and owned
// by the engine, not a leak of ours. Likewise, after a cluster topology
// refresh the engine closes the replaced connections from a goroutine that
// first sleeps a few seconds, so in-flight commands can finish.
func Options() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1"),
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"),
	}
}

// VerifyTestMain runs the tests and fails the binary if goroutines leak.
func VerifyTestMain(m *testing.M) { goleak.VerifyTestMain(m, Options()...) }
