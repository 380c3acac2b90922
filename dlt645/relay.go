package dlt645

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/feegate/feegate/protocol"
)

// RelayAction is N1 of a relay-control command (0x1C).
type RelayAction byte

// Relay-control actions.
const (
	ActionTrip             RelayAction = 0x1A // 跳闸
	ActionAllowClose       RelayAction = 0x1B // 合闸允许: the customer closes with the button
	ActionClose            RelayAction = 0x1C // 直接合闸
	ActionTripAutoRestore  RelayAction = 0x1D // 跳闸自动恢复, N2 gives the duration
	ActionTripAutoRestore2 RelayAction = 0x1E // the second auto-restore variant, N2 as above
	ActionAlarm            RelayAction = 0x2A // 报警
	ActionAlarmRelease     RelayAction = 0x2B // 报警解除
	ActionGuarantee        RelayAction = 0x3A // 保电: the meter refuses every trip
	ActionGuaranteeRelease RelayAction = 0x3B // 保电解除
)

// NOTE: sources disagree on which of 1D and 1E restores to direct close and which to close
// allowed, and on the unit of N2 (likely 5 minutes). Both actions are named by code.
var relayActionNames = map[RelayAction][2]string{
	ActionTrip:             {"trip", "跳闸"},
	ActionAllowClose:       {"allow_close", "合闸允许"},
	ActionClose:            {"close", "直接合闸"},
	ActionTripAutoRestore:  {"trip_auto_restore", "跳闸自动恢复"},
	ActionTripAutoRestore2: {"trip_auto_restore_1e", "跳闸自动恢复(1E)"},
	ActionAlarm:            {"alarm", "报警"},
	ActionAlarmRelease:     {"alarm_release", "报警解除"},
	ActionGuarantee:        {"guarantee", "保电"},
	ActionGuaranteeRelease: {"guarantee_release", "保电解除"},
}

// String returns the snake-case name of a, or "unknown_XX".
func (a RelayAction) String() string {
	if n, ok := relayActionNames[a]; ok {
		return n[0]
	}
	return fmt.Sprintf("unknown_%02X", byte(a))
}

// ChineseName returns the Chinese name of a, or "".
func (a RelayAction) ChineseName() string { return relayActionNames[a][1] }

// Known reports whether a is one of the defined actions.
func (a RelayAction) Known() bool { _, ok := relayActionNames[a]; return ok }

// Password levels (PA).
const (
	LevelPlain02   byte = 0x02 // plain password, level 2
	LevelPlain04   byte = 0x04 // plain password, level 4
	LevelEncrypted byte = 0x98 // ciphertext + MAC (SGCC)
	LevelMAC       byte = 0x99 // plaintext + MAC (SGCC)
)

// Password is the 3-byte password P0..P2 in wire order (low byte first). It prints high
// byte first, as written on the meter's documents.
type Password [3]byte

// ParsePassword parses 6 hex digits written high byte first ("123456" is sent 56 34 12).
func ParsePassword(s string) (Password, error) {
	var p Password
	if err := parseReversedHex(p[:], s, "password"); err != nil {
		return p, err
	}
	return p, nil
}

// String returns the 6 digits of p, high byte first.
func (p Password) String() string { return reversedHex(p[:]) }

// OperatorCode is the 4-byte operator code C0..C3 in wire order; it prints high byte first.
type OperatorCode [4]byte

// ParseOperatorCode parses 8 hex digits written high byte first ("12345678" is sent
// 78 56 34 12).
func ParseOperatorCode(s string) (OperatorCode, error) {
	var c OperatorCode
	if err := parseReversedHex(c[:], s, "operator code"); err != nil {
		return c, err
	}
	return c, nil
}

// String returns the 8 digits of c, high byte first.
func (c OperatorCode) String() string { return reversedHex(c[:]) }

func parseReversedHex(dst []byte, s, what string) error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(dst) {
		return protocol.Errorf(protocol.ErrInvalidValue, -1, int64(len(s)),
			"%s must be %d hex digits", what, 2*len(dst))
	}
	for i := range dst {
		dst[i] = b[len(b)-1-i]
	}
	return nil
}

func reversedHex(b []byte) string {
	var sb strings.Builder
	for i := len(b) - 1; i >= 0; i-- {
		fmt.Fprintf(&sb, "%02X", b[i])
	}
	return sb.String()
}

// China has kept UTC+8 without daylight saving since 1991, so the fixed zone equals
// Asia/Shanghai for every deadline a gateway sends. It is used when the system has no
// zone database.
var defaultLocation = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*3600)
}()

// DefaultLocation returns the zone meter clocks run in: Asia/Shanghai.
func DefaultLocation() *time.Location { return defaultLocation }

// RelayCommand is the plaintext of a relay-control command.
type RelayCommand struct {
	// Level is PA: LevelPlain02 or LevelPlain04 for the plain path. The encrypted path
	// (LevelEncrypted) is built by NewEncryptedRelayRequest.
	Level    byte
	Password Password
	Operator OperatorCode
	Action   RelayAction
	// N2 is reserved (0) except for the auto-restore actions, where it is the duration.
	N2 byte
	// Deadline is the validity deadline (命令有效截止时间); the meter rejects the command
	// once its clock passes it. It is sent in Location, second precision.
	Deadline time.Time
	// Location is the meter's clock zone; nil means DefaultLocation.
	Location *time.Location
}

func (c *RelayCommand) location() *time.Location {
	if c.Location != nil {
		return c.Location
	}
	return defaultLocation
}

// relayDataLen is the data length of a plain relay-control request.
const relayDataLen = 16

// NewRelayRequest returns the plain-password relay-control request (0x1C, L=16):
// PA P0 P1 P2, C0..C3, N1, N2, then the deadline as ss mm hh DD MM YY.
func NewRelayRequest(addr protocol.MeterAddress, c *RelayCommand) (*Frame, error) {
	data := make([]byte, 0, relayDataLen)
	var err error
	data, err = AppendRelayData(data, c)
	if err != nil {
		return nil, err
	}
	return NewRequest(addr, FuncRelayControl, data), nil
}

// AppendRelayData appends the 16 plaintext data bytes of c to dst, unscrambled.
func AppendRelayData(dst []byte, c *RelayCommand) ([]byte, error) {
	if c.Level != LevelPlain02 && c.Level != LevelPlain04 {
		return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(c.Level),
			"plain relay control needs password level 02 or 04")
	}
	if !c.Action.Known() {
		return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(c.Action),
			"unknown relay action N1")
	}
	dst = append(dst, c.Level)
	dst = append(dst, c.Password[:]...)
	dst = append(dst, c.Operator[:]...)
	dst = append(dst, byte(c.Action), c.N2)
	return appendDeadline(dst, c.Deadline.In(c.location()))
}

// appendDeadline appends t as BCD ss mm hh DD MM YY.
func appendDeadline(dst []byte, t time.Time) ([]byte, error) {
	if t.Year() < 2000 || t.Year() > 2099 {
		return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(t.Year()),
			"deadline year must be 2000-2099")
	}
	return append(dst, protocol.ToBCD(t.Second()), protocol.ToBCD(t.Minute()),
		protocol.ToBCD(t.Hour()), protocol.ToBCD(t.Day()), protocol.ToBCD(int(t.Month())),
		protocol.ToBCD(t.Year()-2000)), nil
}

// parseDeadline reads BCD ss mm hh DD MM YY in loc.
func parseDeadline(b []byte, loc *time.Location) (time.Time, error) {
	return parseBCDTime(b, []timeField{second, minute, hour, day, month, year}, loc)
}

// ParseRelayRequest decodes a plain-password relay-control request, as a meter does. For an
// encrypted request (PA=98) it returns ErrEncrypted wrapped with the level: use
// ParseEncryptedRelayRequest.
func ParseRelayRequest(f *Frame, loc *time.Location) (*RelayCommand, error) {
	if f.Control.IsReply() || f.Function() != FuncRelayControl {
		return nil, unexpected(f, "not a relay-control request")
	}
	if len(f.Data) >= 1 && f.Data[0] == LevelEncrypted {
		return nil, fmt.Errorf("relay control with PA=98: %w", ErrEncrypted)
	}
	if len(f.Data) != relayDataLen {
		return nil, protocol.Mismatch(protocol.ErrBadLength, 9, int64(len(f.Data)),
			relayDataLen, "relay-control data length")
	}
	if loc == nil {
		loc = defaultLocation
	}
	c := &RelayCommand{Level: f.Data[0], Action: RelayAction(f.Data[8]), N2: f.Data[9],
		Location: loc}
	copy(c.Password[:], f.Data[1:4])
	copy(c.Operator[:], f.Data[4:8])
	d, err := parseDeadline(f.Data[10:16], loc)
	if err != nil {
		return nil, shiftOffset(err, HeaderLen+10)
	}
	c.Deadline = d
	return c, nil
}

// ErrEncrypted means a relay-control request carries ciphertext (PA=98).
var ErrEncrypted = fmt.Errorf("dlt645: encrypted relay control")

// RelayStatus is the execution status word of a 2-byte 0x9C reply; 0 for the classic
// reply with no data.
type RelayStatus uint16

// Bits of the execution status word.
var relayStatusBits = []struct {
	bit  uint
	name string
}{
	{0, "direct_close"}, {1, "close_allowed"}, {2, "direct_trip"}, {3, "delayed_trip"},
	{4, "trip_auto_restore"}, {5, "delayed_trip_high_current"}, {8, "guarantee"},
	{9, "guarantee_released"}, {10, "alarm"}, {11, "alarm_released"},
}

// Bits returns the names of the set bits of s.
func (s RelayStatus) Bits() []string {
	var out []string
	for _, b := range relayStatusBits {
		if uint16(s)&(1<<b.bit) != 0 {
			out = append(out, b.name)
		}
	}
	return out
}

// ParseRelayReply decodes the reply to a relay-control request: 0x9C with no data or with
// a 2-byte execution status word, or 0xDC with a 1-byte ERR or a 2-byte error word, both
// returned as *MeterError.
func ParseRelayReply(f *Frame) (RelayStatus, error) {
	if err := checkReply(Edition2007, FuncRelayControl, f); err != nil {
		return 0, err
	}
	switch len(f.Data) {
	case 0:
		return 0, nil
	case 2:
		return RelayStatus(uint16(f.Data[0]) | uint16(f.Data[1])<<8), nil
	}
	return 0, unexpected(f, "relay-control reply with %d data bytes", len(f.Data))
}
