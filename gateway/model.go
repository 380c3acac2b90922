package gateway

import "time"

// Action is a command's action name as the API spells it.
type Action string

// Actions of the command API.
const (
	ActionRead             Action = "read"
	ActionTrip             Action = "trip"
	ActionAllowClose       Action = "allow_close"
	ActionClose            Action = "close"
	ActionAlarm            Action = "alarm"
	ActionAlarmRelease     Action = "alarm_release"
	ActionGuarantee        Action = "guarantee"
	ActionGuaranteeRelease Action = "guarantee_release"
	ActionSyncTime         Action = "sync_time"
	ActionPing             Action = "ping"
)

// actionInfo is one row of the action table.
type actionInfo struct {
	action Action
	// control is true for actions that send a relay control (645 0x1C, AFN05, coil write)
	// and are verified afterwards.
	control bool
	// switching is true for the actions that move the relay; a newer switching command
	// supersedes an older unsent one for the same meter.
	switching bool
	outcome   string
}

var actionTable = []actionInfo{
	{ActionRead, false, false, "read"},
	{ActionTrip, true, true, "tripped"},
	{ActionAllowClose, true, true, "close_allowed"},
	{ActionClose, true, true, "closed"},
	{ActionAlarm, true, false, "alarm_on"},
	{ActionAlarmRelease, true, false, "alarm_off"},
	{ActionGuarantee, true, false, "guarantee_on"},
	{ActionGuaranteeRelease, true, false, "guarantee_off"},
	{ActionSyncTime, false, false, "time_synced"},
	{ActionPing, false, false, "reachable"},
}

func lookupAction(a Action) (actionInfo, bool) {
	for _, row := range actionTable {
		if row.action == a {
			return row, true
		}
	}
	return actionInfo{}, false
}

// IsControl reports whether the action sends a relay control that is verified afterwards.
func (a Action) IsControl() bool { info, _ := lookupAction(a); return info.control }

// Valid reports whether a is one of the API's actions.
func (a Action) Valid() bool { _, ok := lookupAction(a); return ok }

// State is a command's life-cycle state.
type State string

// Command states. A command moves queued → sending → verifying → one final state.
const (
	StateQueued    State = "queued"
	StateSending   State = "sending"
	StateVerifying State = "verifying"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed"
	StateExpired   State = "expired"
	StateCancelled State = "cancelled"
)

// States lists every state in life-cycle order.
var States = []State{StateQueued, StateSending, StateVerifying, StateSucceeded, StateFailed,
	StateExpired, StateCancelled}

// Final reports whether no further transition can leave s.
func (s State) Final() bool {
	return s == StateSucceeded || s == StateFailed || s == StateExpired || s == StateCancelled
}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	for _, x := range States {
		if x == s {
			return true
		}
	}
	return false
}

// Reason codes of failed, expired and cancelled commands, and of rejected requests.
const (
	ReasonRouteUnknown          = "route_unknown"
	ReasonUnsupportedAction     = "unsupported_action"
	ReasonTerminalOffline       = "terminal_offline"
	ReasonTerminalTimeout       = "terminal_timeout"
	ReasonTerminalDenied        = "terminal_denied"
	ReasonMeterTimeout          = "meter_timeout"
	ReasonMeterPasswordRejected = "meter_password_rejected"
	ReasonMeterRejected         = "meter_rejected"
	ReasonMeterGuaranteeActive  = "meter_guarantee_active"
	ReasonSecurityFailed        = "security_failed"
	ReasonVerifyMismatch        = "verify_mismatch"
	ReasonDeadlineExpired       = "deadline_expired"
	ReasonInterlockBlocked      = "interlock_blocked"
	ReasonSuperseded            = "superseded"
	ReasonCancelled             = "cancelled"
	ReasonChannelError          = "channel_error"
	ReasonInternal              = "internal"
)

// Target names what a command acts on: one meter, or one control turn of a terminal.
type Target struct {
	Meter    string `json:"meter,omitempty"`
	Terminal string `json:"terminal,omitempty"`
	Turn     int    `json:"turn,omitempty"`
}

// Reason explains a failed, expired or cancelled command.
type Reason struct {
	Code     string    `json:"code"`
	Message  string    `json:"message"`
	Evidence *Evidence `json:"evidence,omitempty"`
}

// Evidence is the raw material a field crew needs to judge a failure.
type Evidence struct {
	ErrorBits    []string `json:"error_bits,omitempty"`
	ErrorByte    *int     `json:"error_byte,omitempty"`
	StatusWord3  string   `json:"status_word_3,omitempty"`
	FrameHex     string   `json:"frame_hex,omitempty"`
	Attempts     int      `json:"attempts,omitempty"` // Command.Attempts at the failure
	Detail       string   `json:"detail,omitempty"`
	PowerKW      *float64 `json:"power_kw,omitempty"`
	EnergyKWh    *float64 `json:"energy_kwh,omitempty"`
	RelayState   string   `json:"relay_state,omitempty"`
	CommandState string   `json:"command_state,omitempty"`
}

// Relay is the relay state read back from a device.
type Relay struct {
	State        string `json:"state"`
	CommandState string `json:"command_state,omitempty"`
	Guarantee    bool   `json:"guarantee"`
	Alarm        bool   `json:"alarm"`
}

// Reading is one read item's value.
type Reading struct {
	Value any    `json:"value"`
	Unit  string `json:"unit,omitempty"`
}

// Result is what a succeeded command produced.
type Result struct {
	Outcome         string             `json:"outcome"`
	Relay           *Relay             `json:"relay,omitempty"`
	Readings        map[string]Reading `json:"readings,omitempty"`
	SuspectedBypass bool               `json:"suspected_bypass"`
}

// HistoryEntry is one state change of a command.
type HistoryEntry struct {
	At     time.Time `json:"at"`
	State  State     `json:"state"`
	Detail string    `json:"detail,omitempty"`
}

// Command is one submitted command with its whole history. Values handed out by the engine
// are copies: changing them changes nothing in the engine.
type Command struct {
	ID        string         `json:"id"`
	Action    Action         `json:"action"`
	Target    Target         `json:"target"`
	Items     []string       `json:"items,omitempty"`
	Deadline  time.Time      `json:"deadline"`
	Operator  string         `json:"operator,omitempty"`
	Force     bool           `json:"force,omitempty"`
	State     State          `json:"state"`
	Reason    *Reason        `json:"reason"`
	Attempts  int            `json:"attempts"` // engine sends, retries included
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
	Batch     string         `json:"batch,omitempty"`
	Result    *Result        `json:"result"`
	History   []HistoryEntry `json:"history"`

	// IdempotencyKey is kept so that compaction can drop the key with the command.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

func (c *Command) clone() *Command {
	cp := *c
	cp.History = append([]HistoryEntry(nil), c.History...)
	cp.Items = append([]string(nil), c.Items...)
	return &cp
}

// Request is a command submission.
type Request struct {
	Target         Target     `json:"target"`
	Action         Action     `json:"action"`
	Items          []string   `json:"items,omitempty"`
	Deadline       *time.Time `json:"deadline,omitempty"`
	Operator       string     `json:"operator,omitempty"`
	Force          bool       `json:"force,omitempty"`
	IdempotencyKey string     `json:"idempotency_key,omitempty"`
}

// BatchRequest is a batch submission: one action on many meters.
type BatchRequest struct {
	Action         Action     `json:"action"`
	Meters         []string   `json:"meters"`
	Items          []string   `json:"items,omitempty"`
	Deadline       *time.Time `json:"deadline,omitempty"`
	Operator       string     `json:"operator,omitempty"`
	Force          bool       `json:"force,omitempty"`
	IdempotencyKey string     `json:"idempotency_key,omitempty"`
}

// Batch is one batch with its progress counted by state.
type Batch struct {
	ID        string        `json:"id"`
	Action    Action        `json:"action"`
	Total     int           `json:"total"`
	Counts    map[State]int `json:"counts"`
	CreatedAt time.Time     `json:"created_at"`
	Deadline  time.Time     `json:"deadline"`
	Cancelled bool          `json:"cancelled,omitempty"`
}

// ReadItems lists the read items the API accepts, with their units.
var ReadItems = []struct{ Name, Unit string }{
	{"energy_forward_total", "kWh"},
	{"energy_forward_tariffs", "kWh"},
	{"energy_reverse_total", "kWh"},
	{"voltage", "V"},
	{"current", "A"},
	{"power", "kW"},
	{"frequency", "Hz"},
	{"status_word_3", ""},
	{"relay_state", ""},
	{"balance", "CNY"},
	{"clock", ""},
	{"trip_count", ""},
	{"last_trip", ""},
	{"last_close", ""},
	{"meter_number", ""},
}

// DefaultReadItems are read when a read request names no items.
var DefaultReadItems = []string{"energy_forward_total", "power", "relay_state"}

func validReadItem(name string) bool {
	for _, it := range ReadItems {
		if it.Name == name {
			return true
		}
	}
	return false
}
