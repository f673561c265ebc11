package engine

import (
	"context"

	"github.com/redis/rueidis"

	"github.com/redkit-go/redkit/internal/sentinel"
	"github.com/redkit-go/redkit/internal/telemetry"
)

// In Sentinel mode the engine does not use rueidis's sentinel client: that
// one follows only +switch-master from one sentinel, which Sentinel
// publishes at the end of a failover, after the leader already names the
// promoted replica; until then the Kit kept writing to the demoted master,
// and those acknowledged writes were lost when it resynced (measured: half
// of the lost writes were acknowledged after every sentinel named the new
// master). internal/sentinel watches every sentinel for the first sign of a
// promotion and checks the new master with ROLE; the engine then connects
// a standalone client to it and swaps its clients, closing the old ones so
// that nothing more is acknowledged by the old master.

// startSentinel resolves the master and starts following it; it returns
// the watcher (kept by the engine) or an error.
func (e *Engine) startSentinel(ctx context.Context) (*sentinel.Watcher, error) {
	o := e.opt
	return sentinel.New(ctx, &sentinel.Options{
		Addrs:        o.Sentinel.Addrs,
		MasterName:   o.Sentinel.MasterName,
		Username:     o.Sentinel.Username,
		Password:     o.Sentinel.Password,
		TLS:          o.TLS,
		NodeUsername: o.Username,
		NodePassword: o.Password,
		NodeTLS:      o.TLS,
		ClientName:   o.ClientName,
		Timeout:      o.ConnectTimeout,
		Logger:       e.log,
	})
}

// masterOption points a client option at the watcher's master.
func (e *Engine) masterOption(opt rueidis.ClientOption, addr string) rueidis.ClientOption {
	opt.InitAddress = []string{addr}
	opt.Sentinel = rueidis.SentinelOption{}
	opt.ForceSingleClient = true
	opt.TLSConfig = sentinel.TLSFor(e.opt.TLS, addr)
	return opt
}

// followMaster swaps the engine's clients each time the watcher names a
// new master, until the engine closes.
func (e *Engine) followMaster(w *sentinel.Watcher) {
	defer e.wg.Done()
	for {
		select {
		case <-e.closeCh:
			return
		case addr, ok := <-w.Changes():
			if !ok {
				return
			}
			b, err := e.newClientsAt(addr)
			if err != nil {
				e.log.Warn("redkit: cannot connect to the new master", "addr", addr, telemetry.KeyError, err)
				continue // the watcher reports again on its next refresh
			}
			if e.closed.Load() {
				b.close()
				return
			}
			old := e.clients.Swap(b)
			if old != nil {
				old.close()
			}
			e.hooks.FlushAll() // the near caches tracked the old master
			e.log.Info("redkit: following the new master", "addr", addr)
		}
	}
}
