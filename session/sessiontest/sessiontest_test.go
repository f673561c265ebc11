package sessiontest_test

import (
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"

	"github.com/redkit-go/redkit/internal/leaktest"
	"github.com/redkit-go/redkit/session/sessiontest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// The suite on scs's own reference store: what it asks of a store is what
// scs's memstore does, so it is fair to any store. (session's tests run it
// on session.Store, on one node and on a cluster.)
func TestMemstore(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) scs.Store {
		// No cleanup goroutine: expired entries are already invisible.
		return memstore.NewWithCleanupInterval(0)
	})
}
