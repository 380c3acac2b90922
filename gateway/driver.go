package gateway

import (
	"context"
	"time"
)

// Device is the target of a driver call: a meter with its archive entry, or a terminal
// control turn (Meter nil).
type Device struct {
	Meter    *MeterEntry
	Terminal string
	Turn     int
}

// Channel returns the channel carrying the device's requests.
func (d Device) Channel() string {
	if d.Meter != nil {
		return d.Meter.Route.Channel()
	}
	return "terminal/" + d.Terminal
}

// Control is one relay control to send.
type Control struct {
	Action   Action
	Deadline time.Time // the validity deadline the device enforces (645 N3..N8)
	Operator string    // 8-digit operator code
}

// RelayStatus is a device's relay state as read back: status word 3 for a 645 meter, AFN0C
// F5/F6 for a terminal control turn, the relay status register for a Modbus meter.
type RelayStatus struct {
	Open        bool // the actual relay is open (645 status word 3 bit4)
	CommandOpen bool // the last relay command was a trip (bit6)
	Alarm       bool // pre-trip alarm (bit7)
	Guarantee   bool // guarantee active (bit12)
	// Word is the raw status word 3, or -1 when the device has none.
	Word int
	// WordReading is status word 3 in the shape that a read of the status_word_3 item
	// returns: the raw value with its named bits. Nil means the raw word is shown as hex.
	WordReading any
	// PowerKW and EnergyKWh are read alongside as evidence; nil when not read.
	PowerKW   *float64
	EnergyKWh *float64
	// FrameHex is the last reply frame, for evidence.
	FrameHex string
}

// Driver carries out the protocol side of commands for one route kind: it builds the
// frames (the execution plan), sends them on the device's channel and decodes the replies.
// Every error it returns is a *Failure with a reason code.
//
// The engine calls a driver for one device at a time per channel, from the channel's
// worker goroutine; a driver serving several channels must be safe for concurrent use.
type Driver interface {
	// Control sends one relay control and returns once the device accepted it.
	Control(ctx context.Context, d Device, c Control) error
	// Status reads the relay state back, with power and energy as evidence where the
	// device has them.
	Status(ctx context.Context, d Device) (RelayStatus, error)
	// Read reads the named items.
	Read(ctx context.Context, d Device, items []string) (map[string]Reading, error)
	// SyncTime sets the device clock to now.
	SyncTime(ctx context.Context, d Device, now time.Time) error
	// Ping checks that the device replies to a request.
	Ping(ctx context.Context, d Device) error
}
