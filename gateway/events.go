package gateway

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// Event types published on the event stream.
const (
	EventCommand         = "command"
	EventBatch           = "batch"
	EventTerminalOnline  = "terminal.online"
	EventTerminalOffline = "terminal.offline"
	EventTerminalEvent   = "terminal.event"
)

// Event is one published event. IDs increase by one per event; after a restart they resume
// above every id handed out before it.
type Event struct {
	ID   uint64          `json:"id"`
	Type string          `json:"type"`
	At   time.Time       `json:"at"`
	Data json.RawMessage `json:"data"`
}

// eventBlock is how many ids the hub reserves in the store at a time.
const eventBlock = 100_000

// Hub numbers events, keeps the most recent ones in a ring for resumption and wakes
// readers. Its methods are safe for concurrent use.
type Hub struct {
	mu       sync.Mutex
	store    *Store
	ring     []Event
	start    int    // index of the oldest event in ring
	count    int    // events in ring
	next     uint64 // id of the next event
	reserved uint64 // first id not yet reserved in the store
	notify   chan struct{}
}

func newHub(store *Store, size int) (*Hub, error) {
	first, err := store.ReserveEvents(eventBlock)
	if err != nil {
		return nil, err
	}
	return &Hub{store: store, ring: make([]Event, size), next: first,
		reserved: first + eventBlock, notify: make(chan struct{})}, nil
}

// Publish numbers and stores one event and wakes every waiting reader. data must marshal
// to JSON.
func (h *Hub) Publish(typ string, data any) {
	raw, err := json.Marshal(data)
	if err != nil {
		raw = json.RawMessage(`null`)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.next >= h.reserved {
		// NOTE: reserving runs a store transaction while holding the hub lock, once per
		// eventBlock events.
		// Ids handed out while an earlier reservation failed are reserved now, so that a
		// restart never reuses them.
		n := eventBlock + (h.next - h.reserved)
		if first, err := h.store.ReserveEvents(n); err == nil {
			if first > h.next {
				h.next = first
			}
			h.reserved = first + n
		}
	}
	ev := Event{ID: h.next, Type: typ, At: time.Now().UTC(), Data: raw}
	h.next++
	idx := (h.start + h.count) % len(h.ring)
	h.ring[idx] = ev
	if h.count < len(h.ring) {
		h.count++
	} else {
		h.start = (h.start + 1) % len(h.ring)
	}
	close(h.notify)
	h.notify = make(chan struct{})
}

// LastID returns the id of the newest event, 0 when none was published.
func (h *Hub) LastID() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.count == 0 {
		return 0
	}
	return h.next - 1
}

// NextID returns the id the next published event gets. Every id handed out so far,
// before or after a restart, is below it.
func (h *Hub) NextID() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.next
}

// After returns up to max events with ids greater than after, waiting until at least one
// exists or ctx ends. lost is true when events after `after` have already left the ring.
func (h *Hub) After(ctx context.Context, after uint64, max int) (evs []Event, lost bool,
	err error) {
	for {
		h.mu.Lock()
		if h.count > 0 {
			oldest := h.ring[h.start].ID
			newest := h.next - 1
			if after < newest {
				from := after + 1
				if from < oldest {
					lost = after != 0
					from = oldest
				}
				skip := int(from - oldest)
				for i := skip; i < h.count && len(evs) < max; i++ {
					evs = append(evs, h.ring[(h.start+i)%len(h.ring)])
				}
				h.mu.Unlock()
				return evs, lost, nil
			}
		}
		wait := h.notify
		h.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-wait:
		}
	}
}
