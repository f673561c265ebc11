package sentinel

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
)

// Watcher tracks the current master of one Sentinel master set (see the
// package documentation for how it chooses). Create it with New; its
// methods are safe for concurrent use.
//
// A Watcher owns one goroutine per sentinel, holding that sentinel's
// subscription, and one for the periodic reconcile, plus a command
// connection per sentinel; Close stops and closes them all.
type Watcher struct {
	opts      Options
	log       *slog.Logger
	sentinels dialer // to the sentinels
	nodes     dialer // to the data nodes, for ROLE
	links     []*link

	cur atomic.Pointer[view] // what Master reports; never nil after New

	// decide serialises decisions, with the ROLE checks they make, and
	// the sends on changes. It is never held while reading cur.
	decide  sync.Mutex
	changes chan string

	cancel    context.CancelFunc // ends every goroutine's context
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// view is the master the Watcher follows and the configuration epoch it
// was named under; epoch -1 before the first answer.
type view struct {
	addr  string
	epoch int64
}

// link is the Watcher's command connection to one sentinel.
type link struct {
	addr string

	mu     sync.Mutex // serialises commands on cmd
	cmd    *conn      // nil until dialed and after an error
	closed bool
}

// answer is one sentinel's view of the master set.
type answer struct {
	sentinel string
	addr     string // GET-MASTER-ADDR-BY-NAME
	epoch    int64  // SENTINEL MASTER config-epoch
}

// New asks every sentinel for the master of opts.MasterName, checks with
// ROLE that the server named under the highest configuration epoch is a
// master, and returns a Watcher that follows it from then on. ctx bounds
// this first resolution only; the Watcher runs until Close.
//
// New returns an error naming the option when opts is nil or invalid, and
// one wrapping ErrNoMaster, with each sentinel's and server's reason, when
// no sentinel answers or the server they name under the highest epoch does
// not answer ROLE as a master.
func New(ctx context.Context, opts *Options) (*Watcher, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	w := &Watcher{
		opts:      o,
		log:       o.Logger.With(slog.String("sentinel.master", o.MasterName)),
		sentinels: dialer{d: &o.Dialer, tls: o.TLS, user: o.Username, pass: o.Password, name: o.ClientName},
		nodes:     dialer{d: &o.Dialer, tls: o.NodeTLS, user: o.NodeUsername, pass: o.NodePassword, name: o.ClientName},
		changes:   make(chan string, 1),
	}
	for _, a := range o.Addrs {
		w.links = append(w.links, &link{addr: a})
	}
	w.cur.Store(&view{epoch: -1})

	answers, errs := w.askAll(ctx)
	if len(answers) > 0 {
		err = w.offer(ctx, answers)
		errs = append(errs, err)
	}
	if w.Master() == "" {
		w.closeLinks()
		return nil, fmt.Errorf("%w for %q: %w", ErrNoMaster, o.MasterName, errors.Join(errs...))
	}

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.cancel = cancel
	for _, l := range w.links {
		w.wg.Add(1)
		go w.watch(bg, l)
	}
	w.wg.Add(1)
	go w.refreshLoop(bg)
	return w, nil
}

// Master returns the address (host:port) of the current master. It never
// blocks and is never empty.
func (w *Watcher) Master() string { return w.cur.Load().addr }

// Changes returns a channel that receives the new master's address each
// time the Watcher switches. It holds the latest address only: a switch
// the receiver has not read yet is replaced by the next one, so the value
// received is always the newest (and equal to Master at that moment, or
// older by a later switch that is already waiting in the channel). The
// channel is closed by Close.
func (w *Watcher) Changes() <-chan string { return w.changes }

// Close stops the Watcher's goroutines, closes its connections and the
// Changes channel, and waits for all of that. It is safe to call more than
// once and always returns nil.
func (w *Watcher) Close() error {
	w.closeOnce.Do(func() {
		w.cancel()
		w.wg.Wait()
		w.closeLinks()
		close(w.changes)
	})
	return nil
}

// closeLinks closes every command connection; no command is sent after.
func (w *Watcher) closeLinks() {
	for _, l := range w.links {
		l.mu.Lock()
		if l.cmd != nil {
			l.cmd.close()
			l.cmd = nil
		}
		l.closed = true
		l.mu.Unlock()
	}
}

// ask asks one sentinel, in one round trip, for its config epoch of the
// master set (SENTINEL MASTER) and then for the master's address
// (GET-MASTER-ADDR-BY-NAME). The order matters: a failover may advance the
// sentinel between the two replies, and the old epoch with the new address
// is harmless (the next answer raises the epoch), while the new epoch with
// the old address would be believed.
func (w *Watcher) ask(ctx context.Context, l *link) (answer, error) {
	a, err := w.askLocked(ctx, l)
	if err != nil {
		return answer{}, fmt.Errorf("sentinel %s: %w", l.addr, err)
	}
	return a, nil
}

func (w *Watcher) askLocked(ctx context.Context, l *link) (answer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return answer{}, errors.New("watcher closed")
	}
	if l.cmd == nil {
		dctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
		c, err := w.sentinels.dial(dctx, l.addr)
		cancel()
		if err != nil {
			return answer{}, fmt.Errorf("dial: %w", err)
		}
		l.cmd = c
	}
	cctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	replies, err := l.cmd.pipeline(cctx,
		[]string{"SENTINEL", "MASTER", w.opts.MasterName},
		[]string{"SENTINEL", "GET-MASTER-ADDR-BY-NAME", w.opts.MasterName})
	cancel()
	if err != nil {
		l.cmd.close()
		l.cmd = nil
		return answer{}, err
	}
	return parseAnswer(l.addr, replies[0], replies[1])
}

// parseAnswer reads the replies of SENTINEL MASTER and
// GET-MASTER-ADDR-BY-NAME.
func parseAnswer(sentinel string, master, addr any) (answer, error) {
	if e, ok := master.(replyError); ok {
		return answer{}, fmt.Errorf("SENTINEL MASTER: %w", e)
	}
	if e, ok := addr.(replyError); ok {
		return answer{}, fmt.Errorf("SENTINEL GET-MASTER-ADDR-BY-NAME: %w", e)
	}
	fields, _ := master.([]any)
	epoch := int64(-1)
	for i := 0; i+1 < len(fields); i += 2 {
		if asString(fields[i]) == "config-epoch" {
			n, err := strconv.ParseInt(asString(fields[i+1]), 10, 64)
			if err != nil {
				return answer{}, fmt.Errorf("SENTINEL MASTER: config-epoch %q: %w", asString(fields[i+1]), err)
			}
			epoch = n
		}
	}
	if epoch < 0 {
		return answer{}, fmt.Errorf("SENTINEL MASTER: no config-epoch in the reply")
	}
	hp, _ := addr.([]any)
	if len(hp) != 2 || asString(hp[0]) == "" || asString(hp[1]) == "" {
		return answer{}, fmt.Errorf("SENTINEL GET-MASTER-ADDR-BY-NAME: unexpected reply %v", addr)
	}
	return answer{sentinel: sentinel, addr: net.JoinHostPort(asString(hp[0]), asString(hp[1])), epoch: epoch}, nil
}

// askAll asks every sentinel at once and returns the answers in the order
// of Options.Addrs, and the errors of those that did not answer.
func (w *Watcher) askAll(ctx context.Context) ([]answer, []error) {
	answers := make([]answer, len(w.links))
	errs := make([]error, len(w.links))
	var wg sync.WaitGroup
	for i, l := range w.links {
		wg.Go(func() { answers[i], errs[i] = w.ask(ctx, l) })
	}
	wg.Wait()
	var got []answer
	var failed []error
	for i := range answers {
		if errs[i] != nil {
			failed = append(failed, errs[i])
		} else {
			got = append(got, answers[i])
		}
	}
	return got, failed
}

// candidate is an address named by the sentinels and the highest epoch it
// was named under.
type candidate struct {
	addr  string
	epoch int64
	votes int // sentinels naming it under that epoch
	first int // index of the first such answer
}

// rank orders the addresses the answers name: by epoch, highest first;
// under the same epoch prefer first (the current master), then the
// address more sentinels name, then the one named first. An address
// appears once, under the highest epoch it was named under.
func rank(answers []answer, prefer string) []candidate {
	var cs []candidate
	for i, a := range answers {
		j := slices.IndexFunc(cs, func(c candidate) bool { return c.addr == a.addr })
		switch {
		case j < 0:
			cs = append(cs, candidate{addr: a.addr, epoch: a.epoch, votes: 1, first: i})
		case a.epoch > cs[j].epoch:
			cs[j] = candidate{addr: a.addr, epoch: a.epoch, votes: 1, first: i}
		case a.epoch == cs[j].epoch:
			cs[j].votes++
		}
	}
	slices.SortFunc(cs, func(x, y candidate) int {
		if c := cmp.Compare(y.epoch, x.epoch); c != 0 {
			return c
		}
		if (x.addr == prefer) != (y.addr == prefer) {
			if x.addr == prefer {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(y.votes, x.votes); c != 0 {
			return c
		}
		return cmp.Compare(x.first, y.first)
	})
	return cs
}

// offer applies the rule of the package documentation to answers: switch
// to the address named under the highest epoch when that epoch is above
// the one held and the server answers ROLE master; otherwise, when some
// sentinel names another address, follow the sentinels only if the
// current master answers ROLE as a replica (the demotion rule). It returns
// why no candidate was taken when every one was tried and refused.
func (w *Watcher) offer(ctx context.Context, answers []answer) error {
	w.decide.Lock()
	defer w.decide.Unlock()
	cur := *w.cur.Load()
	cs := rank(answers, cur.addr)
	if len(cs) == 0 {
		return nil
	}
	if top := cs[0].epoch; top > cur.epoch {
		var errs []error
		for _, c := range cs {
			if c.epoch != top {
				break
			}
			if c.addr == cur.addr {
				w.set(cur, view{addr: c.addr, epoch: top})
				return nil
			}
			if err := w.isMaster(ctx, c.addr); err != nil {
				w.log.Debug("sentinel: named master refused", slog.String("redis.addr", c.addr),
					slog.Int64("sentinel.epoch", top), slog.Any("error", err))
				errs = append(errs, err)
				continue
			}
			w.set(cur, view{addr: c.addr, epoch: top})
			return nil
		}
		return errors.Join(errs...)
	}

	// No sentinel has a newer configuration than the Watcher: one naming
	// another address lags behind (during a failover, until the leader's
	// hello reaches it) — unless the current master was demoted.
	if !slices.ContainsFunc(cs, func(c candidate) bool { return c.addr != cur.addr }) {
		return nil
	}
	role, err := w.role(ctx, cur.addr)
	if err != nil || role != "slave" {
		return nil
	}
	for _, c := range cs {
		if c.addr == cur.addr {
			continue
		}
		if err := w.isMaster(ctx, c.addr); err != nil {
			continue
		}
		w.log.Warn("sentinel: the master became a replica; following the sentinels to a configuration epoch no newer than the one held",
			slog.String("redis.addr", c.addr), slog.Int64("sentinel.epoch", c.epoch), slog.Int64("sentinel.held_epoch", cur.epoch))
		w.set(cur, view{addr: c.addr, epoch: c.epoch})
		return nil
	}
	return nil
}

// set makes next the current view and, when it switches from one address
// to another, logs the switch and sends it on changes. Called with decide
// held.
func (w *Watcher) set(cur, next view) {
	w.cur.Store(&next)
	if next.addr == cur.addr || cur.addr == "" { // New's first answer is no switch
		return
	}
	w.log.Info("sentinel: master switched", slog.String("redis.addr", next.addr),
		slog.String("redis.old_addr", cur.addr), slog.Int64("sentinel.epoch", next.epoch))
	select {
	case <-w.changes: // replaced by the newer address
	default:
	}
	select {
	case w.changes <- next.addr:
	default: // cannot happen: decide makes this the only sender
	}
}

// isMaster returns nil when the server at addr answers ROLE as a master.
func (w *Watcher) isMaster(ctx context.Context, addr string) error {
	role, err := w.role(ctx, addr)
	if err != nil {
		return err
	}
	if role != "master" {
		return fmt.Errorf("%s: ROLE is %s, not master", addr, role)
	}
	return nil
}

// role dials addr and returns the first element of its ROLE reply:
// "master", "slave" or "sentinel".
func (w *Watcher) role(ctx context.Context, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	c, err := w.nodes.dial(ctx, addr)
	if err != nil {
		return "", fmt.Errorf("%s: dial: %w", addr, err)
	}
	defer c.close()
	v, err := c.do(ctx, "ROLE")
	if err != nil {
		return "", fmt.Errorf("%s: ROLE: %w", addr, err)
	}
	arr, _ := v.([]any)
	if len(arr) == 0 || asString(arr[0]) == "" {
		return "", fmt.Errorf("%s: ROLE: unexpected reply %v", addr, v)
	}
	return asString(arr[0]), nil
}

// check asks one sentinel and offers its answer.
func (w *Watcher) check(ctx context.Context, l *link) {
	a, err := w.ask(ctx, l)
	if err != nil {
		w.log.Debug("sentinel: ask", slog.String("sentinel.addr", l.addr), slog.Any("error", err))
		return
	}
	w.offer(ctx, []answer{a})
}
