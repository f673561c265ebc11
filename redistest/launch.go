package redistest

import (
	"errors"
	"fmt"
)

// Launch starts a redis-server outside a test — for runnable examples, a
// demo program or a TestMain that shares one server — and returns it with
// the error instead of failing a test. Close stops it and removes its
// directory. A missing redis-server is an error naming the install command.
func Launch(opts *Options) (srv *Server, err error) {
	tb := NewTB("redistest.Launch")
	defer func() {
		if r := recover(); r != nil {
			tb.Close()
			srv, err = nil, launchError(r)
		}
	}()
	s := Start(tb, opts)
	s.owner = tb
	return s, nil
}

// LaunchCluster is StartCluster outside a test; Close stops every node.
func LaunchCluster(masters, replicasPerMaster int) (cl *Cluster, err error) {
	tb := NewTB("redistest.LaunchCluster")
	defer func() {
		if r := recover(); r != nil {
			tb.Close()
			cl, err = nil, launchError(r)
		}
	}()
	c := StartCluster(tb, masters, replicasPerMaster)
	c.owner = tb
	return c, nil
}

func launchError(r any) error {
	if s, ok := r.(string); ok {
		return errors.New(s)
	}
	return fmt.Errorf("redistest: %v", r)
}

// Close stops a server from Launch and removes its directory. For servers
// from Start it does nothing: the test's cleanup stops them. It returns nil.
func (s *Server) Close() error {
	if s.owner != nil {
		s.owner.Close()
	}
	return nil
}

// Close stops a cluster from LaunchCluster; for StartCluster it does
// nothing (the test's cleanup stops it). It returns nil.
func (c *Cluster) Close() error {
	if c.owner != nil {
		c.owner.Close()
	}
	return nil
}
