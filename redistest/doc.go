// Package redistest runs real Redis for tests, the way net/http/httptest
// runs real HTTP servers: Start launches a redis-server on a free port of
// 127.0.0.1, hands back its address, and kills it (and removes its
// directory) when the test ends.
//
// Beyond a single server it starts a Redis Cluster (StartCluster: masters,
// replicas, slots assigned, converged) and a Sentinel group (StartSentinel:
// a master, replicas and three sentinels), and it injects faults: a Server
// can be stopped, killed, restarted on the same port, paused with SIGSTOP
// and resumed; a Cluster or Sentinel can fail over on demand; a Proxy
// placed between client and server adds latency, blackholes traffic or
// resets connections.
//
// Servers are real redis-server processes, found in PATH (or through
// REDISTEST_SERVER_BIN and REDISTEST_CLI_BIN). A missing binary fails the
// test, with the install command in the message, rather than skipping it:
// a test suite that silently skips its Redis tests proves nothing. Every
// process runs in its own process group with a parent-death signal, so none
// outlives the test binary, and each is killed and waited for by Close,
// which t.Cleanup calls; if the test has failed, the end of each server's
// log is logged first. The only goroutines redistest starts are one waiting
// on each process and the Proxy's, and all of them end by Close. Each
// server gets its own directory: in $REDISTEST_DIR if set, else in /dev/shm
// when it has room (a tmpfs, so redis's fsyncs cannot stall on a busy
// disk), else in the system's temporary directory.
//
// Server.Do runs a command through a small built-in RESP2 client, for
// setting up and inspecting state independently of the client under test.
//
// # Without a test
//
// Start, StartCluster, StartSentinel and NewProxy wrap an error-returning
// core that Launch, LaunchCluster, LaunchSentinel and LaunchProxy expose
// for code that has no testing.TB: a runnable example, a demo program, a
// TestMain sharing one server between a package's tests. They return the
// error (a missing binary is an error naming the install command), leave
// nothing behind when they fail, and hand back a value whose Close kills
// its processes and removes their directories:
//
//	srv, err := redistest.Launch(nil)
//	if err != nil {
//		return err
//	}
//	defer srv.Close()
//
// Methods that can fail, such as Server.Restart, return the error. For
// what came from Start, StartCluster or StartSentinel they also fail the
// test that started it, so a test need not check. The lookups that return
// only a value (Cluster.Masters, Cluster.MasterFor, Sentinel.Master and the
// like) and the failovers fail the test given or the one that started the
// group, or return nil when there is none.
//
// What it leaves out: Redis modules, Unix sockets, TLS for clusters and
// sentinel groups, client-certificate authentication, and passwords on
// cluster and sentinel nodes. It does not pick a Redis version: tests run
// against whatever redis-server is installed (7.0 or later is assumed).
// It is not meant for production or for benchmarks of Redis itself.
package redistest
