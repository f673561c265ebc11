package queue

import "errors"

var (
	// ErrEmpty is returned by Pop when no job is ready, and (joined with
	// the context's error) by PopWait when its context ends first.
	ErrEmpty = errors.New("queue: empty")

	// ErrJobLost is returned by Job.Ack, Job.Nack and Job.Extend when the
	// delivery no longer owns the job: its visibility deadline passed and
	// it went back to the queue (and may have been delivered again), or it
	// was already acknowledged or returned.
	ErrJobLost = errors.New("queue: job lost (visibility timeout passed or already acknowledged)")

	// ErrDuplicate is returned by PushUnique while a job with the same
	// unique key is waiting, delayed or in flight, or within the ttl of
	// its push.
	ErrDuplicate = errors.New("queue: duplicate unique job")
)
