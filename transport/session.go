package transport

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
)

// DisconnectReason is the recorded cause of a closed terminal connection.
type DisconnectReason string

// Disconnect reasons, as the diagnostics and the disconnect metric report them.
const (
	ReasonLogout           DisconnectReason = "logout"
	ReasonHeartbeatTimeout DisconnectReason = "heartbeat_timeout"
	ReasonPeerClosed       DisconnectReason = "peer_closed"
	ReasonProtocolError    DisconnectReason = "protocol_error"
	ReasonFrameTooLarge    DisconnectReason = "frame_too_large"
	ReasonSlowReader       DisconnectReason = "slow_reader"
	ReasonSuperseded       DisconnectReason = "superseded"
	ReasonLoginTimeout     DisconnectReason = "login_timeout"
	ReasonWriteError       DisconnectReason = "write_error"
	ReasonServerShutdown   DisconnectReason = "server_shutdown"
	ReasonRejected         DisconnectReason = "rejected"
)

// connState is the per-connection state, owned by the connection's event loop except for
// the atomic fields and the fields guarded by Server.mu.
type connState struct {
	conn   gnet.Conn
	remote string
	ip     string
	opened time.Time

	// lastValid is the Unix time in nanoseconds of the last valid frame.
	lastValid atomic.Int64
	// reason is the first close reason set, as a *DisconnectReason; nil until a close.
	reason atomic.Pointer[DisconnectReason]
	// queued counts bytes handed to AsyncWrite and not yet written.
	queued atomic.Int64

	// Event-loop fields.
	errors   int // protocol errors since the last valid frame
	firstErr error
	noise    int // noise bytes over the connection's life
	lastHB   time.Time
	// reports assembles multi-frame active reports; nil until the first report.
	reports *gw376.Assembler
	// session is bound at login by the event loop and read by the sweeper.
	session atomic.Pointer[session]
}

// setReason records why the connection closes; the first reason wins.
func (cs *connState) setReason(r DisconnectReason) bool {
	return cs.reason.CompareAndSwap(nil, &r)
}

// closeWith closes the connection with reason r. It is safe from any goroutine.
func (cs *connState) closeWith(r DisconnectReason) {
	cs.setReason(r)
	_ = cs.conn.Close()
}

// session is one logged-in connection of a terminal.
type session struct {
	addr protocol.TerminalAddress
	cs   *connState
	term *terminal

	mu      sync.Mutex // guards pending and closed
	pending *pending
	closed  error // set when the session ends: the error for pending and new requests
}

// terminal is the server's record of one terminal address across its connections: the
// current session, the request queue and the diagnostics. Its fields are guarded by mu,
// except queue, which is a channel.
type terminal struct {
	addr protocol.TerminalAddress
	// queue holds one token: the request that owns it is the terminal's outstanding one.
	queue   chan struct{}
	waiting atomic.Int32

	mu             sync.Mutex
	session        *session
	pfc            uint8
	onlineSince    time.Time
	remote         string
	learnedPeriod  time.Duration
	logins         []time.Time
	disconnects    []disconnectRecord
	lastDisconnect *disconnectRecord
	lastError      string
	lastErrorAt    time.Time
	unknown        bool
	ec             gw376.EC
	ecKnown        bool
	eventRead      bool // an AFN0E read is running
	lastFrameAt    time.Time
}

type disconnectRecord struct {
	At     time.Time
	Reason DisconnectReason
}

func newTerminal(addr protocol.TerminalAddress) *terminal {
	return &terminal{addr: addr, queue: make(chan struct{}, 1)}
}

// diagnosticsWindow is how far back logins and disconnects are counted.
const diagnosticsWindow = 24 * time.Hour

// maxHistory bounds the login and disconnect records kept per terminal, so a terminal that
// reconnects in a loop cannot grow them without limit.
const maxHistory = 4096

// prune drops records older than the diagnostics window. It must be called with t.mu held.
func (t *terminal) prune(now time.Time) {
	cut := now.Add(-diagnosticsWindow)
	i := 0
	for i < len(t.logins) && t.logins[i].Before(cut) {
		i++
	}
	if i > 0 {
		t.logins = append(t.logins[:0], t.logins[i:]...)
	}
	j := 0
	for j < len(t.disconnects) && t.disconnects[j].At.Before(cut) {
		j++
	}
	if j > 0 {
		t.disconnects = append(t.disconnects[:0], t.disconnects[j:]...)
	}
	if len(t.logins) > maxHistory {
		t.logins = append(t.logins[:0], t.logins[len(t.logins)-maxHistory:]...)
	}
	if len(t.disconnects) > maxHistory {
		t.disconnects = append(t.disconnects[:0], t.disconnects[len(t.disconnects)-maxHistory:]...)
	}
}

// Disconnect is the last disconnect of a terminal.
type Disconnect struct {
	At     time.Time        `json:"at"`
	Reason DisconnectReason `json:"reason"`
}

// Diagnostics is the state of one terminal as the server records it, in the field names of
// the terminal object of the HTTP API.
type Diagnostics struct {
	Address          string                   `json:"address"`
	Online           bool                     `json:"online"`
	OnlineSince      *time.Time               `json:"online_since"`
	LastFrameAt      *time.Time               `json:"last_frame_at"`
	RemoteAddr       string                   `json:"remote_addr"`
	HeartbeatPeriodS int                      `json:"heartbeat_period_s"`
	Logins24h        int                      `json:"logins_24h"`
	Disconnects24h   map[DisconnectReason]int `json:"disconnects_24h"`
	LastDisconnect   *Disconnect              `json:"last_disconnect"`
	LastError        string                   `json:"last_error"`
	Flapping         bool                     `json:"flapping"`
	// Unknown is set when an allowlist is configured and the address is not on it.
	Unknown bool `json:"unknown,omitempty"`
}
