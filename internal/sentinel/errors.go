package sentinel

import "errors"

// ErrNoMaster is returned by New when no sentinel names a master for the
// master set that answers ROLE as a master. It is wrapped with each
// sentinel's and each candidate's reason.
var ErrNoMaster = errors.New("sentinel: no master")
