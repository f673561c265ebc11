package engine

import (
	"context"
	"sync"
	"time"
)

// Report is the result of one health probe.
type Report struct {
	Healthy   bool
	Latency   time.Duration
	Error     string
	Breaker   BreakerState
	Mode      string
	Nodes     int
	CheckedAt time.Time
	// ConsecutiveFailures counts failed probes in a row, over every probe
	// of the engine (Probe and the watches).
	ConsecutiveFailures int
}

type healthState struct {
	sync.Mutex
	last Report
}

// Probe sends PING now, past the circuit breaker (so it can tell when
// Redis is back), and reports. timeout bounds it when ctx has no earlier
// deadline; 0 leaves ctx alone. The probe is the engine's one health
// check: Kit.Health, the Kit's periodic check and health.Checker all
// call it, each with its own timeout.
func (e *Engine) Probe(ctx context.Context, timeout time.Duration) Report {
	r := e.probe(ctx, timeout)
	e.health.Lock()
	if r.Healthy {
		r.ConsecutiveFailures = 0
	} else {
		r.ConsecutiveFailures = e.health.last.ConsecutiveFailures + 1
	}
	e.health.last = r
	e.health.Unlock()
	return r
}

// LastReport returns the most recent probe's report, and false if there
// was none.
func (e *Engine) LastReport() (Report, bool) {
	e.health.Lock()
	defer e.health.Unlock()
	return e.health.last, !e.health.last.CheckedAt.IsZero()
}

func (e *Engine) probe(ctx context.Context, timeout time.Duration) Report {
	r := Report{Breaker: e.brk.state(), CheckedAt: time.Now()}
	c := e.current()
	if c == nil {
		r.Error = e.notConnected().Error()
		if e.closed.Load() {
			r.Error = ErrClosed.Error()
		}
		return r
	}
	r.Mode = string(c.Mode())
	r.Nodes = len(c.Nodes())
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	err := c.Do(ctx, c.B().Ping().Build()).Error()
	r.Latency = time.Since(start)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.Healthy = true
	return r
}

// Watch probes every interval (each probe bounded by timeout) and calls
// fn with each report, from a goroutine of the engine's, until stop is
// called or the engine closes; the first probe is made at once. fn must
// not block for long. stop waits for the goroutine to end.
func (e *Engine) Watch(interval, timeout time.Duration, fn func(Report)) (stop func()) {
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			r := e.Probe(ctx, timeout)
			if ctx.Err() == nil && !e.closed.Load() {
				fn(r)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}
