package pubsub

import "errors"

// ErrInvalid reports a bad argument to a call: a nil handler, or invalid
// SubscribeOptions (joined with the error Validate reports).
var ErrInvalid = errors.New("pubsub: invalid argument")
