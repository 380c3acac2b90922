package dlt645

import (
	"time"

	"github.com/feegate/feegate/protocol"
)

// Credentials are the password level, password and operator code that write, clear and
// control commands carry (PA P0 P1 P2 C0..C3).
type Credentials struct {
	Level    byte
	Password Password
	Operator OperatorCode
}

func (c Credentials) append(dst []byte, operator bool) []byte {
	dst = append(dst, c.Level)
	dst = append(dst, c.Password[:]...)
	if operator {
		dst = append(dst, c.Operator[:]...)
	}
	return dst
}

func parseCredentials(b []byte, operator bool) Credentials {
	c := Credentials{Level: b[0]}
	copy(c.Password[:], b[1:4])
	if operator {
		copy(c.Operator[:], b[4:8])
	}
	return c
}

// ParseAck checks a reply that carries no data (0x94, 0x95, 0x96, 0x99, 0x9A, 0x9B, 0x9D;
// 1997 0x84, 0x8A, 0x90) to function fn of edition ed. An abnormal reply returns its
// *MeterError.
func ParseAck(ed Edition, fn Function, f *Frame) error {
	if err := checkReply(ed, fn, f); err != nil {
		return err
	}
	if len(f.Data) != 0 {
		return unexpected(f, "reply to %s with %d data bytes, want none", fn.Name(ed),
			len(f.Data))
	}
	return nil
}

// NewBroadcastTimeRequest returns the broadcast time-set frame (0x08, address 999999999999,
// data ss mm hh DD MM YY in the meters' zone). Both editions use it and no meter replies.
func NewBroadcastTimeRequest(t time.Time) (*Frame, error) {
	data, err := appendBCDTime(make([]byte, 0, 6), t.In(defaultLocation),
		[]timeField{second, minute, hour, day, month, year})
	if err != nil {
		return nil, err
	}
	return NewRequest(protocol.BroadcastMeterAddress, FuncBroadcastTime, data), nil
}

// ParseBroadcastTime returns the time a broadcast time-set frame carries.
func ParseBroadcastTime(f *Frame) (time.Time, error) {
	if f.Function() != FuncBroadcastTime || len(f.Data) != 6 {
		return time.Time{}, unexpected(f, "not a broadcast time-set frame")
	}
	return parseBCDTime(f.Data, []timeField{second, minute, hour, day, month, year},
		defaultLocation)
}

// NewReadAddressRequest returns the 2007 read-address request (0x13) to the wildcard
// address. Only one meter may be on the line, because every meter replies to it.
func NewReadAddressRequest() *Frame {
	return NewRequest(protocol.WildcardMeterAddress, FuncReadAddress, nil)
}

// ParseReadAddressReply returns the address a 0x93 reply carries.
func ParseReadAddressReply(f *Frame) (protocol.MeterAddress, error) {
	if err := checkReply(Edition2007, FuncReadAddress, f); err != nil {
		return protocol.MeterAddress{}, err
	}
	if len(f.Data) != 6 {
		return protocol.MeterAddress{}, protocol.Mismatch(protocol.ErrBadLength, 9,
			int64(len(f.Data)), 6, "read-address reply length")
	}
	return protocol.MeterAddressFromWire(f.Data)
}

// WriteRequest is the content of a 2007 write request (0x14).
type WriteRequest struct {
	DI          DI
	Credentials Credentials
	// Data is the value bytes, unscrambled; with PA 98 or 99 it includes the MAC.
	Data []byte
}

// NewWriteRequest returns the 2007 write request (0x14): DI, PA P0 P1 P2, C0..C3, data.
func NewWriteRequest(addr protocol.MeterAddress, w *WriteRequest) (*Frame, error) {
	data := make([]byte, 4, 12+len(w.Data))
	w.DI.put(data)
	data = w.Credentials.append(data, true)
	data = append(data, w.Data...)
	if len(data) > MaxDataLen {
		return nil, protocol.Errorf(protocol.ErrFrameTooLarge, -1, int64(len(data)),
			"write request data longer than %d bytes", MaxDataLen)
	}
	return NewRequest(addr, FuncWrite, data), nil
}

// NewWriteValueRequest returns a write request of value v encoded by the table row of di.
func NewWriteValueRequest(addr protocol.MeterAddress, di DI, c Credentials, v any) (*Frame,
	error) {
	it, ok := Lookup(di)
	if !ok {
		return nil, protocol.Errorf(protocol.ErrUnknownIdentifier, -1, int64(di),
			"DI %s is not in the table", di)
	}
	data, err := EncodeValue(nil, it, v)
	if err != nil {
		return nil, err
	}
	return NewWriteRequest(addr, &WriteRequest{DI: di, Credentials: c, Data: data})
}

// ParseWriteRequest decodes a 2007 write request, as a meter does. Data aliases f.Data.
func ParseWriteRequest(f *Frame) (*WriteRequest, error) {
	if f.Control.IsReply() || f.Function() != FuncWrite {
		return nil, unexpected(f, "not a write request")
	}
	if len(f.Data) < 12 {
		return nil, protocol.Errorf(protocol.ErrBadLength, 9, int64(len(f.Data)),
			"write request needs at least 12 data bytes")
	}
	return &WriteRequest{DI: diFromWire(f.Data), Credentials: parseCredentials(f.Data[4:], true),
		Data: f.Data[12:]}, nil
}

// NewWriteAddressRequest returns the 2007 write-address request (0x15) to the wildcard
// address, carrying the new address. Only one meter may be on the line.
func NewWriteAddressRequest(newAddr protocol.MeterAddress) *Frame {
	return NewRequest(protocol.WildcardMeterAddress, FuncWriteAddress,
		append([]byte(nil), newAddr[:]...))
}

// FreezeEvery is the value of a freeze-time field that matches every minute, hour, day or
// month. With all four fields set to it, the meter freezes at once.
const FreezeEvery = 99

// FreezeTime is the data of a freeze command (0x16): mm hh DD MM, each field a number or
// FreezeEvery.
type FreezeTime struct {
	Minute, Hour, Day, Month int
}

// NewFreezeRequest returns the 2007 freeze request (0x16). addr may be the broadcast
// address, and then no meter replies.
func NewFreezeRequest(addr protocol.MeterAddress, t FreezeTime) *Frame {
	return NewRequest(addr, FuncFreeze, []byte{protocol.ToBCD(t.Minute),
		protocol.ToBCD(t.Hour), protocol.ToBCD(t.Day), protocol.ToBCD(t.Month)})
}

// freezeFieldRange gives the valid values of mm hh DD MM besides FreezeEvery.
var freezeFieldRange = [4]struct {
	name     string
	min, max int
}{{"minute", 0, 59}, {"hour", 0, 23}, {"day", 1, 31}, {"month", 1, 12}}

// ParseFreezeRequest decodes a freeze request. A field that is neither in its range nor
// FreezeEvery returns protocol.ErrInvalidValue.
func ParseFreezeRequest(f *Frame) (FreezeTime, error) {
	if f.Function() != FuncFreeze || f.Control.IsReply() || len(f.Data) != 4 {
		return FreezeTime{}, unexpected(f, "not a freeze request")
	}
	var v [4]int
	for i, c := range f.Data {
		n, err := protocol.FromBCD(c)
		if err != nil {
			return FreezeTime{}, shiftOffset(protocol.Errorf(protocol.ErrInvalidBCD, i,
				int64(c), "freeze time byte %d", i), HeaderLen)
		}
		r := freezeFieldRange[i]
		if n != FreezeEvery && (n < r.min || n > r.max) {
			return FreezeTime{}, protocol.Errorf(protocol.ErrInvalidValue, HeaderLen+i,
				int64(n), "freeze %s %d is outside %d-%d and is not 99", r.name, n, r.min,
				r.max)
		}
		v[i] = n
	}
	return FreezeTime{Minute: v[0], Hour: v[1], Day: v[2], Month: v[3]}, nil
}

// Baud-rate characteristic word Z of the change-baud command: one bit per rate.
var baudCodes = []struct {
	baud int
	code byte
}{{300, 0x01}, {600, 0x02}, {1200, 0x04}, {2400, 0x08}, {4800, 0x10}, {9600, 0x20},
	{19200, 0x40}, {38400, 0x80}}

// BaudCode returns the characteristic word Z of a baud rate.
func BaudCode(baud int) (byte, error) {
	for _, b := range baudCodes {
		if b.baud == baud {
			return b.code, nil
		}
	}
	return 0, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(baud),
		"baud rate %d has no characteristic word (use 300 to 38400)", baud)
}

// BaudFromCode returns the baud rate of a characteristic word, or 0 when it is not one bit.
func BaudFromCode(z byte) int {
	for _, b := range baudCodes {
		if b.code == z {
			return b.baud
		}
	}
	return 0
}

// NewChangeBaudRequest returns the change-baud request: 0x17 for 2007, 0x0C for 1997.
func NewChangeBaudRequest(ed Edition, addr protocol.MeterAddress, baud int) (*Frame, error) {
	z, err := BaudCode(baud)
	if err != nil {
		return nil, err
	}
	fn := FuncChangeBaud
	if ed == Edition1997 {
		fn = Func97ChangeBaud
	}
	return NewRequest(addr, fn, []byte{z}), nil
}

// ParseChangeBaudReply returns the baud rate a change-baud reply confirms.
func ParseChangeBaudReply(ed Edition, f *Frame) (int, error) {
	fn := FuncChangeBaud
	if ed == Edition1997 {
		fn = Func97ChangeBaud
	}
	if err := checkReply(ed, fn, f); err != nil {
		return 0, err
	}
	if len(f.Data) != 1 || BaudFromCode(f.Data[0]) == 0 {
		return 0, unexpected(f, "change-baud reply without a characteristic word")
	}
	return BaudFromCode(f.Data[0]), nil
}

// NewChangePasswordRequest returns the 2007 change-password request (0x18): DI, then the old
// and the new PA P0 P1 P2. di is the password's identifier (04000C01..0A for levels 0–9).
func NewChangePasswordRequest(addr protocol.MeterAddress, di DI, old, new Credentials) *Frame {
	data := make([]byte, 4, 12)
	di.put(data)
	data = old.append(data, false)
	data = new.append(data, false)
	return NewRequest(addr, FuncChangePassword, data)
}

// ParseChangePasswordReply returns the new level and password a 0x98 reply confirms.
func ParseChangePasswordReply(f *Frame) (Credentials, error) {
	if err := checkReply(Edition2007, FuncChangePassword, f); err != nil {
		return Credentials{}, err
	}
	if len(f.Data) != 4 {
		return Credentials{}, protocol.Mismatch(protocol.ErrBadLength, 9, int64(len(f.Data)),
			4, "change-password reply length")
	}
	return parseCredentials(f.Data, false), nil
}

// NewClearRequest returns a 2007 clear request: clear demand (0x19), clear meter (0x1A) or
// clear events (0x1B). The data is PA P0 P1 P2, C0..C3, then extra: the event identifier
// (FFFFFFFF for all) for 0x1B, and the SGCC ciphertext for a 0x1A at level 98.
func NewClearRequest(addr protocol.MeterAddress, fn Function, c Credentials, extra []byte) (
	*Frame, error) {
	if fn != FuncClearDemand && fn != FuncClearMeter && fn != FuncClearEvents {
		return nil, protocol.Errorf(protocol.ErrUnknownFunction, -1, int64(fn),
			"function 0x%02X is not a clear command", byte(fn))
	}
	data := c.append(make([]byte, 0, 8+len(extra)), true)
	return NewRequest(addr, fn, append(data, extra...)), nil
}

// NewClearEventsRequest returns the clear-events request (0x1B) of event, or every event
// when event is 0xFFFFFFFF.
func NewClearEventsRequest(addr protocol.MeterAddress, c Credentials, event DI) *Frame {
	ev := make([]byte, 4)
	event.put(ev)
	f, _ := NewClearRequest(addr, FuncClearEvents, c, ev)
	return f
}

// Output-control modes of the multi-function terminal (0x1D).
const (
	OutputClockPulse   byte = 0x00 // 时钟秒脉冲
	OutputDemandPeriod byte = 0x01 // 需量周期
	OutputSlotSwitch   byte = 0x02 // 时段投切
)

// NewOutputControlRequest returns the multi-function terminal output request (0x1D).
func NewOutputControlRequest(addr protocol.MeterAddress, mode byte) (*Frame, error) {
	if mode > OutputSlotSwitch {
		return nil, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(mode),
			"output mode must be 0, 1 or 2")
	}
	return NewRequest(addr, FuncOutputControl, []byte{mode}), nil
}

// NewSecurityRequest returns an SGCC security request (0x03): DI, C0..C3, payload.
func NewSecurityRequest(addr protocol.MeterAddress, di DI, op OperatorCode, payload []byte) *Frame {
	data := make([]byte, 4, 8+len(payload))
	di.put(data)
	data = append(data, op[:]...)
	return NewRequest(addr, FuncSecurity, append(data, payload...))
}

// ParseSecurityReply checks a 0x83 reply to the security request for want and returns the
// bytes after the identifier. An abnormal reply (0xC3) returns a *MeterError of KindSERR.
func ParseSecurityReply(f *Frame, want DI) ([]byte, error) {
	if err := checkReply(Edition2007, FuncSecurity, f); err != nil {
		return nil, err
	}
	r, err := parseDIReply(f, want, false)
	return r.Data, err
}

// NewWriteRequest97 returns the 1997 write request (0x04): DI, PA P0 P1 P2, data.
func NewWriteRequest97(addr protocol.MeterAddress, di DI97, c Credentials, data []byte) *Frame {
	d := make([]byte, 2, 6+len(data))
	di.put(d)
	d = c.append(d, false)
	return NewRequest(addr, Func97Write, append(d, data...))
}

// NewWriteAddressRequest97 returns the 1997 write-address request (0x0A) to the wildcard
// address.
func NewWriteAddressRequest97(newAddr protocol.MeterAddress) *Frame {
	return NewRequest(protocol.WildcardMeterAddress, Func97WriteAddress,
		append([]byte(nil), newAddr[:]...))
}

// NewChangePasswordRequest97 returns the 1997 change-password request (0x0F): the old and
// the new PA P0 P1 P2.
func NewChangePasswordRequest97(addr protocol.MeterAddress, old, new Credentials) *Frame {
	data := old.append(make([]byte, 0, 8), false)
	return NewRequest(addr, Func97ChangePassword, new.append(data, false))
}

// ParseChangePasswordReply97 returns the new level and password a 0x8F reply confirms.
func ParseChangePasswordReply97(f *Frame) (Credentials, error) {
	if err := checkReply(Edition1997, Func97ChangePassword, f); err != nil {
		return Credentials{}, err
	}
	if len(f.Data) != 4 {
		return Credentials{}, protocol.Mismatch(protocol.ErrBadLength, 9, int64(len(f.Data)),
			4, "change-password reply length")
	}
	return parseCredentials(f.Data, false), nil
}

// NewClearDemandRequest97 returns the 1997 clear-demand request (0x10): PA P0 P1 P2.
func NewClearDemandRequest97(addr protocol.MeterAddress, c Credentials) *Frame {
	return NewRequest(addr, Func97ClearDemand, c.append(make([]byte, 0, 4), false))
}
