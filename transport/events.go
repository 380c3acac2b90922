package transport

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
)

// EventKind is the kind of a server event.
type EventKind int

const (
	// EventOnline means a terminal logged in while it had no session.
	EventOnline EventKind = iota + 1
	// EventOffline means a terminal's session ended, for the cause in Reason. A session
	// replaced by a newer connection of the same terminal ends without this event.
	EventOffline
	// EventReport carries an active report (PRM=1 uplink other than AFN02), after its
	// confirmation when CON was set.
	EventReport
	// EventEvents carries the AFN0E F1 reply read after an uplink announced new important
	// events (ACD set and EC1 changed), or Err when the read failed.
	EventEvents
)

// String returns the name of k.
func (k EventKind) String() string {
	switch k {
	case EventOnline:
		return "online"
	case EventOffline:
		return "offline"
	case EventReport:
		return "report"
	case EventEvents:
		return "events"
	}
	return "unknown"
}

// Event is a terminal's change of state or a report it sent.
type Event struct {
	Kind     EventKind
	Terminal protocol.TerminalAddress
	At       time.Time
	// Reason is the disconnect reason of EventOffline.
	Reason DisconnectReason
	// Remote is the peer address of EventOnline.
	Remote string
	// Frames are the report or event-read frames, each owning its bytes.
	Frames []*gw376.Frame
	// Err is the failure of an event read.
	Err error
}

// subscribers fans events out without ever blocking an event loop: an event that does not
// fit a subscriber's buffer is dropped for that subscriber and counted.
type subscribers struct {
	mu      sync.RWMutex
	chans   map[chan Event]struct{}
	dropped atomic.Int64
	closed  bool
}

func (s *subscribers) publish(e Event) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for ch := range s.chans {
		select {
		case ch <- e:
		default:
			s.dropped.Add(1)
		}
	}
}

func (s *subscribers) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.chans {
		close(ch)
	}
	s.chans = nil
	s.closed = true
}

// Subscribe returns a channel of online, offline, report and event-read events with room
// for buffer events, and a function that ends the subscription. Events that find the
// channel full are dropped (see DroppedEvents), so a slow subscriber never stalls the
// server. The channel closes when the server closes. It is safe for concurrent use.
func (s *Server) Subscribe(buffer int) (<-chan Event, func()) {
	ch := make(chan Event, max(buffer, 1))
	subs := &s.subs
	subs.mu.Lock()
	defer subs.mu.Unlock()
	if subs.closed {
		close(ch)
		return ch, func() {}
	}
	if subs.chans == nil {
		subs.chans = make(map[chan Event]struct{})
	}
	subs.chans[ch] = struct{}{}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			subs.mu.Lock()
			defer subs.mu.Unlock()
			if _, ok := subs.chans[ch]; ok {
				delete(subs.chans, ch)
				close(ch)
			}
		})
	}
}

// DroppedEvents returns the number of events dropped because a subscriber's channel was
// full. It is safe for concurrent use.
func (s *Server) DroppedEvents() int64 { return s.subs.dropped.Load() }
