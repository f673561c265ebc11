package main

// Live updates: pub/sub carries every change between instances, and each
// instance fans it out to its browsers over server-sent events.
//   - "orders:user:<name>": an order's status, for its customer (received
//     with a pattern subscription, orders:user:*);
//   - "kitchen:board": every order's status, for the kitchen board;
//   - "data:changes:menu": a menu edit; an instance ignores its own (it
//     told its browsers already) and tells its browsers of the others';
//   - "broadcast": a message from the shop to everyone.
//
// Pub/sub is at-most-once: after a reconnect the subscription may have
// missed messages, so the browser is told to re-read the state.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/redkit-go/redkit/pubsub"
)

// statusEvent is an order's new status.
type statusEvent struct {
	Order    order  `json:"order"`
	Instance string `json:"instance"` // the instance that changed it
}

// dataChange says an entity changed, so caches and views re-read it.
type dataChange struct {
	Entity string    `json:"entity"`
	ID     string    `json:"id"`
	Source string    `json:"source"` // the instance that made the change
	At     time.Time `json:"at"`
}

// announcement is a broadcast from the shop.
type announcement struct {
	Text string    `json:"text"`
	From string    `json:"from"`
	At   time.Time `json:"at"`
}

type live struct {
	s         *shop
	hub       *hub
	board     *pubsub.Topic[statusEvent]
	changes   *pubsub.Topic[dataChange]
	broadcast *pubsub.Topic[announcement]
	subs      []*pubsub.Subscription
}

func (s *shop) setupLive(ctx, _ context.Context) error {
	l := &live{
		s:         s,
		hub:       newHub(),
		board:     pubsub.NewTopic[statusEvent](s.kit, "kitchen:board"),
		changes:   pubsub.NewTopic[dataChange](s.kit, "data:changes:menu"),
		broadcast: pubsub.NewTopic[announcement](s.kit, "broadcast"),
	}
	s.live = l
	s.onClose(l.close)

	opts := &pubsub.SubscribeOptions{OnGap: l.gap}
	sub, err := l.board.SubscribeWith(ctx, func(_ context.Context, m pubsub.Message[statusEvent]) error {
		l.hub.send("", "board", m.Payload)
		return nil
	}, opts)
	if err != nil {
		return err
	}
	l.subs = append(l.subs, sub)

	sub, err = pubsub.SubscribePatternWith(ctx, s.kit, "orders:user:*", func(_ context.Context, m pubsub.Message[statusEvent]) error {
		l.hub.send(strings.TrimPrefix(m.Channel, "orders:user:"), "status", m.Payload)
		return nil
	}, opts)
	if err != nil {
		return err
	}
	l.subs = append(l.subs, sub)

	sub, err = l.changes.SubscribeWith(ctx, func(_ context.Context, m pubsub.Message[dataChange]) error {
		if m.Payload.Source != s.name { // our own browsers heard of it already
			l.hub.send("", "change", m.Payload)
		}
		return nil
	}, opts)
	if err != nil {
		return err
	}
	l.subs = append(l.subs, sub)

	sub, err = l.broadcast.SubscribeWith(ctx, func(_ context.Context, m pubsub.Message[announcement]) error {
		l.hub.send("", "broadcast", m.Payload)
		return nil
	}, opts)
	if err != nil {
		return err
	}
	l.subs = append(l.subs, sub)

	s.mux.HandleFunc("GET /api/events", l.events)
	s.mux.HandleFunc("POST /api/broadcast", l.postBroadcast)
	return nil
}

// gap is told of each moment a subscription may have missed messages.
func (l *live) gap(context.Context, pubsub.Gap) {
	l.hub.send("", "resync", map[string]string{"instance": l.s.name})
}

// orderChanged publishes an order's new status to its customer and the
// kitchen board (of every instance).
func (l *live) orderChanged(ctx context.Context, o order) {
	ev := statusEvent{Order: o, Instance: l.s.name}
	// Classic pub/sub: the pattern subscription (orders:user:*) sees only
	// classic PUBLISH, also on a cluster, where topics default to sharded.
	user := pubsub.NewTopicWith[statusEvent](l.s.kit, "orders:user:"+o.User, &pubsub.TopicOptions{Classic: true})
	if _, err := user.Publish(ctx, ev); err != nil {
		l.s.log.Warn("publishing an order status", "order", o.ID, "err", err)
	}
	if _, err := l.board.Publish(ctx, ev); err != nil {
		l.s.log.Warn("publishing to the kitchen board", "order", o.ID, "err", err)
	}
}

// dataChanged tells this instance's browsers at once, and the other
// instances through pub/sub.
func (l *live) dataChanged(ctx context.Context, entity, id string) {
	c := dataChange{Entity: entity, ID: id, Source: l.s.name, At: time.Now().UTC()}
	l.hub.send("", "change", c)
	if _, err := l.changes.Publish(ctx, c); err != nil {
		l.s.log.Warn("publishing a data change", "err", err)
	}
}

// POST /api/broadcast {"text": "..."} sends a message to every browser of
// every instance.
func (l *live) postBroadcast(w http.ResponseWriter, r *http.Request) {
	user, ok := requireUser(w, r)
	if !ok {
		return
	}
	var body struct {
		Text string `json:"text"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&body); err != nil || strings.TrimSpace(body.Text) == "" {
		writeError(w, http.StatusBadRequest, `want {"text": "..."}`)
		return
	}
	n, err := l.broadcast.Publish(r.Context(), announcement{Text: body.Text, From: user, At: time.Now().UTC()})
	if err != nil {
		writeRedisError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"receivers": n})
}

// GET /api/events: server-sent events for this browser: its customer's
// order statuses, the kitchen board, data changes and broadcasts.
func (l *live) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	user := currentUser(r)
	c, done := l.hub.join(user)
	defer l.hub.leave(c)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	fmt.Fprintf(w, "event: hello\ndata: {\"instance\":%q}\n\n", l.s.name)
	fl.Flush()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-done:
			return
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
			fl.Flush()
		case ev := <-c.ch:
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.kind, ev.data)
			fl.Flush()
		}
	}
}

func (l *live) close() error {
	l.hub.close()
	var err error
	for _, sub := range l.subs {
		if e := sub.Close(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// hub fans events out to the browsers connected to this instance. A
// browser that does not keep up misses events (its buffer is bounded)
// and is told to re-read the state.
type hub struct {
	mu      sync.Mutex
	clients map[*client]struct{}
	done    chan struct{}
	closed  bool
}

type client struct {
	user string // "" before login: only shop-wide events
	ch   chan sseEvent
}

type sseEvent struct {
	kind string
	data []byte
}

func newHub() *hub { return &hub{clients: map[*client]struct{}{}, done: make(chan struct{})} }

func (h *hub) join(user string) (*client, <-chan struct{}) {
	c := &client{user: user, ch: make(chan sseEvent, 64)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.clients[c] = struct{}{}
	}
	return c, h.done
}

func (h *hub) leave(c *client) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
}

// send delivers an event to the browsers of user, or to all when user is "".
func (h *hub) send(user, kind string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	ev := sseEvent{kind, data}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		if user != "" && c.user != user {
			continue
		}
		select {
		case c.ch <- ev:
		default: // a stalled browser: drop, it re-reads on its next event
		}
	}
}

func (h *hub) clientsCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}
