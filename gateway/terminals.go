package gateway

import "time"

// Disconnect is one terminal disconnect.
type Disconnect struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// TerminalInfo is the diagnostic view of one terminal.
type TerminalInfo struct {
	Address          string         `json:"address"`
	Online           bool           `json:"online"`
	OnlineSince      *time.Time     `json:"online_since"`
	LastFrameAt      *time.Time     `json:"last_frame_at"`
	RemoteAddr       string         `json:"remote_addr"`
	HeartbeatPeriodS int            `json:"heartbeat_period_s"`
	Logins24h        int            `json:"logins_24h"`
	Disconnects24h   map[string]int `json:"disconnects_24h"`
	LastDisconnect   *Disconnect    `json:"last_disconnect"`
	LastError        string         `json:"last_error"`
	Flapping         bool           `json:"flapping"`
	// InArchive is false for a terminal that connected but is not in the archive.
	InArchive bool `json:"in_archive"`
}

// TerminalSource reports live session state; the terminal server implements it.
// Implementations must be safe for concurrent use.
type TerminalSource interface {
	// Terminal returns the session state of one terminal, false when it never connected.
	Terminal(address string) (TerminalInfo, bool)
	// Terminals returns the session state of every terminal that ever connected.
	Terminals() []TerminalInfo
}
