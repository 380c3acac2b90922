package gw376

import (
	"encoding/json"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
)

// This file holds typed forms of the units that the gateway and the simulator build and
// read in code. Each writes the same bytes as the table row of its unit; the tests check
// both against each other.

// RemoteTrip is the data of AFN05 F1 (遥控跳闸) on a control turn pn.
type RemoteTrip struct {
	// AlarmDelayMin is the alarm time before the trip, 0–15 minutes; 0 trips at once.
	AlarmDelayMin uint8
	// LimitHalfHours is how long the load stays off, 0–15 half hours; 0 keeps it off until
	// an allow-close command (紧急限电).
	LimitHalfHours uint8
}

// Byte returns the data byte of t.
func (t RemoteTrip) Byte() (byte, error) {
	if t.AlarmDelayMin > 15 || t.LimitHalfHours > 15 {
		return 0, protocol.Errorf(protocol.ErrInvalidValue, -1,
			int64(t.AlarmDelayMin)<<8|int64(t.LimitHalfHours),
			"remote trip alarm delay and limit time must be 0 to 15")
	}
	return t.AlarmDelayMin<<4 | t.LimitHalfHours, nil
}

// RemoteTripFromByte returns the fields of AFN05 F1's data byte.
func RemoteTripFromByte(b byte) RemoteTrip {
	return RemoteTrip{AlarmDelayMin: b >> 4, LimitHalfHours: b & 0x0F}
}

// Parity of a forwarded serial exchange.
type Parity uint8

// Parities of the AFN10 F1 control word.
const (
	ParityNone Parity = 0
	ParityEven Parity = 2
	ParityOdd  Parity = 3
)

// ForwardRequest is the data of AFN10 F1 downlink (透明转发): the terminal sends Frame on
// Port and waits for the meter's reply.
type ForwardRequest struct {
	Port uint8
	// Baud is 300, 600, 1200, 2400, 4800, 7200, 9600 or 19200 bit/s.
	Baud     int
	Parity   Parity
	StopBits uint8 // 1 or 2
	DataBits uint8 // 5 to 8
	// FrameTimeout is the wait for the meter's frame: up to 127 s in whole seconds, or up to
	// 1.27 s in 10 ms steps.
	FrameTimeout time.Duration
	// ByteTimeout is the wait between bytes, up to 2.55 s in 10 ms steps.
	ByteTimeout time.Duration
	Frame       []byte
}

// DLT645Settings returns a request skeleton with the usual DL/T 645 port settings: 8E1 at
// 2400 bit/s (645-2007) or 1200 bit/s (645-1997 meters).
func DLT645Settings(port uint8, baud int, frameTimeout time.Duration) ForwardRequest {
	return ForwardRequest{Port: port, Baud: baud, Parity: ParityEven, StopBits: 1, DataBits: 8,
		FrameTimeout: frameTimeout, ByteTimeout: 100 * time.Millisecond}
}

// Append appends the unit data of r.
func (r *ForwardRequest) Append(dst []byte) ([]byte, error) {
	code := -1
	for i, b := range baudCodes {
		if int(b) == r.Baud {
			code = i
		}
	}
	if code < 0 {
		return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(r.Baud),
			"forward baud rate not supported")
	}
	if r.DataBits < 5 || r.DataBits > 8 || r.StopBits < 1 || r.StopBits > 2 || r.Parity == 1 ||
		r.Parity > 3 {
		return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(r.DataBits),
			"forward port settings: data bits 5-8, stop bits 1-2, parity none, even or odd")
	}
	ctl := byte(code)<<5 | (r.StopBits-1)<<4 | byte(r.Parity)<<2 | (r.DataBits - 5)
	ft, err := frameTimeoutByte(r.FrameTimeout)
	if err != nil {
		return dst, err
	}
	bt := r.ByteTimeout / (10 * time.Millisecond)
	if bt > 255 || bt < 0 {
		return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(bt),
			"byte timeout above 2.55 s")
	}
	if len(r.Frame) > 0xFFFF {
		return dst, protocol.Errorf(protocol.ErrBadLength, -1, int64(len(r.Frame)),
			"forwarded frame too long")
	}
	dst = append(dst, r.Port, ctl, ft, byte(bt), byte(len(r.Frame)), byte(len(r.Frame)>>8))
	return append(dst, r.Frame...), nil
}

func frameTimeoutByte(d time.Duration) (byte, error) {
	if d >= time.Second && d%time.Second == 0 {
		s := d / time.Second
		if s > 127 {
			return 0, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(s),
				"frame timeout above 127 s")
		}
		return 0x80 | byte(s), nil
	}
	ms := d / (10 * time.Millisecond)
	if ms > 127 || ms < 0 {
		return 0, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(ms),
			"frame timeout below 1 s must be a multiple of 10 ms up to 1.27 s")
	}
	return byte(ms), nil
}

// ParseForwardRequest reads AFN10 F1 downlink data. The returned Frame aliases b.
func ParseForwardRequest(b []byte) (ForwardRequest, error) {
	var r ForwardRequest
	if len(b) < 6 {
		return r, protocol.Errorf(protocol.ErrShortFrame, 0, int64(len(b)),
			"AFN10 F1 request needs 6 bytes")
	}
	k := int(b[4]) | int(b[5])<<8
	if len(b) < 6+k {
		return r, protocol.Errorf(protocol.ErrShortFrame, 4, int64(len(b)-6),
			"AFN10 F1 announces %d frame bytes", k)
	}
	ctl := b[1]
	r.Port = b[0]
	r.Baud = int(baudCodes[ctl>>5])
	r.StopBits = (ctl>>4)&1 + 1
	r.Parity = Parity(ctl >> 2 & 3)
	if r.Parity == 1 {
		r.Parity = ParityNone
	}
	r.DataBits = ctl&3 + 5
	if b[2]&0x80 != 0 {
		r.FrameTimeout = time.Duration(b[2]&0x7F) * time.Second
	} else {
		r.FrameTimeout = time.Duration(b[2]) * 10 * time.Millisecond
	}
	r.ByteTimeout = time.Duration(b[3]) * 10 * time.Millisecond
	r.Frame = b[6 : 6+k]
	return r, nil
}

// ForwardReply is the data of AFN10 F1 uplink: the meter's reply on Port, empty when the
// meter did not reply.
type ForwardReply struct {
	Port  uint8
	Frame []byte
}

// Append appends the unit data of r.
func (r *ForwardReply) Append(dst []byte) ([]byte, error) {
	if len(r.Frame) > 0xFFFF {
		return dst, protocol.Errorf(protocol.ErrBadLength, -1, int64(len(r.Frame)),
			"forwarded reply too long")
	}
	dst = append(dst, r.Port, byte(len(r.Frame)), byte(len(r.Frame)>>8))
	return append(dst, r.Frame...), nil
}

// ParseForwardReply reads AFN10 F1 uplink data. The returned Frame aliases b.
func ParseForwardReply(b []byte) (ForwardReply, error) {
	if len(b) < 3 {
		return ForwardReply{},
			protocol.Errorf(protocol.ErrShortFrame, 0, int64(len(b)),
				"AFN10 F1 reply needs 3 bytes")
	}
	k := int(b[1]) | int(b[2])<<8
	if len(b) < 3+k {
		return ForwardReply{},
			protocol.Errorf(protocol.ErrShortFrame, 1, int64(len(b)-3),
				"AFN10 F1 announces %d frame bytes",
				k)
	}
	return ForwardReply{Port: b[0], Frame: b[3 : 3+k]}, nil
}

// DecodeEmbedded decodes the DL/T 645 frame that an AFN10 F1 unit carries.
func DecodeEmbedded(frame []byte) (*dlt645.Frame, error) {
	return dlt645.Decode(frame)
}

// ForwardRead is the data of AFN10 F9 downlink: read one DL/T 645 data identifier of a
// meter through the terminal.
type ForwardRead struct {
	Port   uint8
	Relays []protocol.MeterAddress
	Meter  protocol.MeterAddress
	// Edition2007 selects DL/T 645-2007 DIs (4 bytes); otherwise 645-1997 (low 2 bytes).
	Edition2007 bool
	DI          uint32
}

// Append appends the unit data of r. Without relays the count byte is 0 (direct).
func (r *ForwardRead) Append(dst []byte) ([]byte, error) {
	if len(r.Relays) > 32 {
		return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(len(r.Relays)),
			"more than 32 relays")
	}
	dst = append(dst, r.Port, byte(len(r.Relays)))
	for _, a := range r.Relays {
		dst = append(dst, a[:]...)
	}
	dst = append(dst, r.Meter[:]...)
	kind := byte(0)
	if r.Edition2007 {
		kind = 1
	}
	return append(dst, kind, byte(r.DI), byte(r.DI>>8), byte(r.DI>>16), byte(r.DI>>24)), nil
}

// ForwardReadReply is the data of AFN10 F9 uplink.
type ForwardReadReply struct {
	Port   uint8
	Meter  protocol.MeterAddress
	Result ForwardResult
	// DI and Data are the identifier and the data the meter returned; HasDI is false when
	// the reply carries no content (length 0).
	HasDI bool
	DI    uint32
	Data  []byte
}

// Append appends the unit data of r.
func (r *ForwardReadReply) Append(dst []byte) ([]byte, error) {
	dst = append(dst, r.Port)
	dst = append(dst, r.Meter[:]...)
	dst = append(dst, byte(r.Result))
	if !r.HasDI {
		return append(dst, 0), nil
	}
	if len(r.Data) > 251 {
		return dst, protocol.Errorf(protocol.ErrBadLength, -1, int64(len(r.Data)),
			"F9 reply data over 251 bytes")
	}
	dst = append(dst, byte(len(r.Data)+4), byte(r.DI), byte(r.DI>>8), byte(r.DI>>16),
		byte(r.DI>>24))
	return append(dst, r.Data...), nil
}

// ParseForwardReadReply reads AFN10 F9 uplink data. Data aliases b.
func ParseForwardReadReply(b []byte) (ForwardReadReply, error) {
	var r ForwardReadReply
	if len(b) < 9 {
		return r, protocol.Errorf(protocol.ErrShortFrame, 0, int64(len(b)),
			"AFN10 F9 reply needs 9 bytes")
	}
	r.Port = b[0]
	copy(r.Meter[:], b[1:7])
	r.Result = ForwardResult(b[7])
	k := int(b[8])
	if len(b) < 9+k {
		return r, protocol.Errorf(protocol.ErrShortFrame, 8, int64(len(b)-9),
			"AFN10 F9 announces %d bytes", k)
	}
	if k >= 4 {
		r.HasDI = true
		r.DI = uint32(b[9]) | uint32(b[10])<<8 | uint32(b[11])<<16 | uint32(b[12])<<24
		r.Data = b[13 : 9+k]
	}
	return r, nil
}

// ControlSettings is AFN0C F5 (终端控制设置状态): what is switched on, per total-adding group.
type ControlSettings struct {
	Guarantee, Removal, FeeAlarm bool
	// Groups are the blocks of the valid groups, in group order; Group is 1–8.
	Groups []GroupSettings
}

// GroupSettings is one group block of AFN0C F5.
type GroupSettings struct {
	Group                                                               uint8
	Plan, Periods, PowerControl, EnergyControl, PowerTurns, EnergyTurns uint8
}

// Append appends the unit data of s.
func (s *ControlSettings) Append(dst []byte) ([]byte, error) {
	flags := boolBit(s.Guarantee, 0) | boolBit(s.Removal, 1) | boolBit(s.FeeAlarm, 2)
	mask, err := groupMask(len(s.Groups), func(i int) uint8 { return s.Groups[i].Group })
	if err != nil {
		return dst, err
	}
	dst = append(dst, flags, mask)
	for _, g := range s.Groups {
		dst = append(dst, g.Plan, g.Periods, g.PowerControl, g.EnergyControl, g.PowerTurns,
			g.EnergyTurns)
	}
	return dst, nil
}

// ParseControlSettings reads AFN0C F5 data.
func ParseControlSettings(b []byte) (ControlSettings, error) {
	var s ControlSettings
	if len(b) < 2 {
		return s, protocol.Errorf(protocol.ErrShortFrame, 0, int64(len(b)),
			"AFN0C F5 needs 2 bytes")
	}
	s.Guarantee, s.Removal, s.FeeAlarm = b[0]&1 != 0, b[0]&2 != 0, b[0]&4 != 0
	p := 2
	for g := uint8(0); g < 8; g++ {
		if b[1]&(1<<g) == 0 {
			continue
		}
		if len(b) < p+6 {
			return s, protocol.Errorf(protocol.ErrShortFrame, p, int64(len(b)-p),
				"AFN0C F5 group %d needs 6 bytes", g+1)
		}
		s.Groups = append(s.Groups, GroupSettings{Group: g + 1, Plan: b[p], Periods: b[p+1],
			PowerControl: b[p+2], EnergyControl: b[p+3], PowerTurns: b[p+4], EnergyTurns: b[p+5]})
		p += 6
	}
	return s, nil
}

// ControlState is AFN0C F6 (终端当前控制状态): the output state that verifies a terminal
// trip or allow-close. RemoteTrip bit n-1 set means turn n is tripped by remote control.
type ControlState struct {
	RemoteTrip uint8
	FeeAlarm   bool
	Groups     []GroupState
}

// GroupState is one group block of AFN0C F6. PowerSetpointKW is the A.2 value as a
// decimal string ("12.3"); empty writes 0.
type GroupState struct {
	Group                                                         uint8
	PowerSetpointKW                                               string
	FloatPercent                                                  int8
	PowerTrip, MonthlyTrip, PurchaseTrip, PowerAlarm, EnergyAlarm uint8
}

// TurnTripped reports whether control turn (1–8) is tripped by remote control.
func (s *ControlState) TurnTripped(turn uint8) bool {
	return turn >= 1 && turn <= 8 && s.RemoteTrip&(1<<(turn-1)) != 0
}

// Append appends the unit data of s.
func (s *ControlState) Append(dst []byte) ([]byte, error) {
	mask, err := groupMask(len(s.Groups), func(i int) uint8 { return s.Groups[i].Group })
	if err != nil {
		return dst, err
	}
	dst = append(dst, s.RemoteTrip, boolBit(s.FeeAlarm, 0), mask)
	for _, g := range s.Groups {
		sp := g.PowerSetpointKW
		if sp == "" {
			sp = "0"
		}
		dst, err = a2Format.enc(dst, sp)
		if err != nil {
			return dst, err
		}
		if g.FloatPercent < -79 || g.FloatPercent > 79 {
			return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(g.FloatPercent),
				"float coefficient must be -79 to 79")
		}
		dst, _ = a4Format.enc(dst, int(g.FloatPercent))
		dst = append(dst, g.PowerTrip, g.MonthlyTrip, g.PurchaseTrip, g.PowerAlarm, g.EnergyAlarm)
	}
	return dst, nil
}

// ParseControlState reads AFN0C F6 data.
func ParseControlState(b []byte) (ControlState, error) {
	var s ControlState
	if len(b) < 3 {
		return s, protocol.Errorf(protocol.ErrShortFrame, 0, int64(len(b)),
			"AFN0C F6 needs 3 bytes")
	}
	s.RemoteTrip, s.FeeAlarm = b[0], b[1]&1 != 0
	p := 3
	for g := uint8(0); g < 8; g++ {
		if b[2]&(1<<g) == 0 {
			continue
		}
		if len(b) < p+8 {
			return s, protocol.Errorf(protocol.ErrShortFrame, p, int64(len(b)-p),
				"AFN0C F6 group %d needs 8 bytes", g+1)
		}
		gs := GroupState{Group: g + 1, PowerTrip: b[p+3], MonthlyTrip: b[p+4], PurchaseTrip: b[p+5],
			PowerAlarm: b[p+6], EnergyAlarm: b[p+7]}
		if d := a2Format.dec(b[p : p+2]); d.err == nil {
			gs.PowerSetpointKW = string(d.value.(json.Number))
		}
		if d := a4Format.dec(b[p+2 : p+3]); d.err == nil {
			neg, n, _ := parseDecimal(d.value, 0)
			gs.FloatPercent = int8(n)
			if neg {
				gs.FloatPercent = -gs.FloatPercent
			}
		}
		s.Groups = append(s.Groups, gs)
		p += 8
	}
	return s, nil
}

func boolBit(b bool, n uint) byte {
	if b {
		return 1 << n
	}
	return 0
}

// groupMask builds the group bit mask of F5/F6; groups must be 1–8 in ascending order.
func groupMask(n int, group func(int) uint8) (byte, error) {
	var mask byte
	last := uint8(0)
	for i := 0; i < n; i++ {
		g := group(i)
		if g < 1 || g > 8 || g <= last {
			return 0, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(g),
				"groups must be 1 to 8 in ascending order")
		}
		mask |= 1 << (g - 1)
		last = g
	}
	return mask, nil
}

// MeterConfig is one entry of AFN04 F10 / AFN0A F10 (终端电能表/交流采样装置配置参数).
type MeterConfig struct {
	Index, Pn uint16
	Port      uint8 // 1–31
	// Baud is 600, 1200, 2400, 4800, 7200, 9600 or 19200 bit/s, or 0 for the default.
	Baud int
	// Protocol is 1 for DL/T 645-1997, 2 AC sampling, 30 DL/T 645-2007, 31 PLC module.
	Protocol  uint8
	Address   protocol.MeterAddress
	Password  [6]byte
	Tariffs   uint8 // 1–12
	IntDigits uint8 // 4–7
	DecDigits uint8 // 1–4
	Collector protocol.MeterAddress
	Major     uint8
	Minor     uint8
}

// Meter protocol codes of AFN04 F10.
const (
	MeterProtocol1997 uint8 = 1
	MeterProtocolAC   uint8 = 2
	MeterProtocol2007 uint8 = 30
	MeterProtocolPLC  uint8 = 31
)

// AppendMeterConfigs appends the AFN04 F10 data of meters.
func AppendMeterConfigs(dst []byte, meters []MeterConfig) ([]byte, error) {
	dst = append(dst, byte(len(meters)), byte(len(meters)>>8))
	for _, m := range meters {
		code := -1
		for i, b := range meterBaudCodes {
			if int(b) == m.Baud {
				code = i
			}
		}
		if code < 0 || m.Port > 31 || m.IntDigits < 4 || m.IntDigits > 7 || m.DecDigits < 1 ||
			m.DecDigits > 4 || m.Tariffs > 63 || m.Major > 15 || m.Minor > 15 {
			return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(m.Index),
				"meter entry %d: baud, port 0-31, digits 4-7/1-4 or class 0-15 out of range",
				m.Index)
		}
		dst = append(dst, byte(m.Index), byte(m.Index>>8), byte(m.Pn), byte(m.Pn>>8),
			byte(code)<<5|m.Port, m.Protocol)
		dst = append(dst, m.Address[:]...)
		dst = append(dst, m.Password[:]...)
		dst = append(dst, m.Tariffs, (m.IntDigits-4)<<2|(m.DecDigits-1))
		dst = append(dst, m.Collector[:]...)
		dst = append(dst, m.Major<<4|m.Minor)
	}
	return dst, nil
}

// ParseMeterConfigs reads AFN04 F10 data.
func ParseMeterConfigs(b []byte) ([]MeterConfig, error) {
	if len(b) < 2 {
		return nil, protocol.Errorf(protocol.ErrShortFrame, 0, int64(len(b)),
			"AFN04 F10 needs 2 bytes")
	}
	n := int(b[0]) | int(b[1])<<8
	const entry = 27
	if len(b) < 2+n*entry {
		return nil, protocol.Errorf(protocol.ErrShortFrame, 2, int64(len(b)-2),
			"AFN04 F10 announces %d entries", n)
	}
	out := make([]MeterConfig, n)
	for i := range out {
		e := b[2+i*entry:]
		m := &out[i]
		m.Index = uint16(e[0]) | uint16(e[1])<<8
		m.Pn = uint16(e[2]) | uint16(e[3])<<8
		m.Port, m.Baud = e[4]&0x1F, int(meterBaudCodes[e[4]>>5])
		m.Protocol = e[5]
		copy(m.Address[:], e[6:12])
		copy(m.Password[:], e[12:18])
		m.Tariffs = e[18] & 0x3F
		m.IntDigits, m.DecDigits = e[19]>>2&3+4, e[19]&3+1
		copy(m.Collector[:], e[20:26])
		m.Major, m.Minor = e[26]>>4, e[26]&0x0F
	}
	return out, nil
}

// MeterRelayState is AFN0C F161 (电能表远程控制通断电状态及记录).
type MeterRelayState struct {
	ReadTime  time.Time
	PowerOn   bool // state byte 0x11; false is 0x00 (断电)
	LastClose time.Time
	LastTrip  time.Time
}

// Append appends the unit data of s.
func (s *MeterRelayState) Append(dst []byte) []byte {
	var b [18]byte
	PutA15(b[0:5], s.ReadTime)
	if s.PowerOn {
		b[5] = 0x11
	}
	PutA1(b[6:12], s.LastClose)
	PutA1(b[12:18], s.LastTrip)
	return append(dst, b[:]...)
}

// ParseMeterRelayState reads AFN0C F161 data; times are in loc.
func ParseMeterRelayState(b []byte, loc *time.Location) (MeterRelayState, error) {
	var s MeterRelayState
	if len(b) < 18 {
		return s, protocol.Errorf(protocol.ErrShortFrame, 0, int64(len(b)),
			"AFN0C F161 needs 18 bytes")
	}
	var err error
	if s.ReadTime, err = A15Time(b[0:5], loc); err != nil {
		return s, err
	}
	switch b[5] {
	case 0x11:
		s.PowerOn = true
	case 0x00:
	default:
		return s, protocol.Errorf(protocol.ErrInvalidValue, 5, int64(b[5]),
			"relay state must be 00 or 11")
	}
	if s.LastClose, err = A1Time(b[6:12], loc); err != nil {
		return s, err
	}
	s.LastTrip, err = A1Time(b[12:18], loc)
	return s, err
}

// EventRecord is one AFN0E event record: its ERC and raw content.
type EventRecord struct {
	ERC     uint8
	Content []byte
}

// ERC5 is the remote-control trip record (遥控跳闸记录). The powers are A.2 decimal
// strings in kW.
type ERC5 struct {
	Time                   time.Time
	Turns                  uint8
	PowerKW, PowerAfter2KW string
}

// Record returns the event record of e.
func (e ERC5) Record() (EventRecord, error) {
	b := make([]byte, 5, 10)
	PutA15(b, e.Time)
	b = append(b, e.Turns)
	var err error
	for _, p := range []string{e.PowerKW, e.PowerAfter2KW} {
		if p == "" {
			p = "0"
		}
		if b, err = a2Format.enc(b, p); err != nil {
			return EventRecord{}, err
		}
	}
	return EventRecord{ERC: 5, Content: b}, nil
}

// ERC14 is the terminal power-off/on record (终端停/上电事件). With HasAttribute set it is
// written in the 11-byte form that leads with the attribute byte (D0 valid, D1 invalid).
type ERC14 struct {
	HasAttribute bool
	Attribute    uint8
	PowerOff     time.Time
	PowerOn      time.Time
}

// Record returns the event record of e.
func (e ERC14) Record() EventRecord {
	var b []byte
	if e.HasAttribute {
		b = append(b, e.Attribute)
	}
	var t [10]byte
	PutA15(t[0:5], e.PowerOff)
	PutA15(t[5:10], e.PowerOn)
	return EventRecord{ERC: 14, Content: append(b, t[:]...)}
}

// ParseERC14 reads ERC14 content of either length; times are in loc.
func ParseERC14(content []byte, loc *time.Location) (ERC14, error) {
	var e ERC14
	switch len(content) {
	case 11:
		e.HasAttribute, e.Attribute = true, content[0]
		content = content[1:]
	case 10:
	default:
		return e, protocol.Errorf(protocol.ErrBadLength, 0, int64(len(content)),
			"ERC14 content must be 10 or 11 bytes")
	}
	var err error
	if e.PowerOff, err = A15Time(content[0:5], loc); err != nil {
		return e, err
	}
	e.PowerOn, err = A15Time(content[5:10], loc)
	return e, err
}

// AppendEvents appends AFN0E F1/F2 reply data: the event counters, the pointers of the
// records in this frame and the records.
func AppendEvents(dst []byte, ec EC, pm, pn uint8, records []EventRecord) ([]byte, error) {
	dst = append(dst, ec.Important, ec.General, pm, pn)
	for _, r := range records {
		if len(r.Content) > 255 {
			return dst, protocol.Errorf(protocol.ErrBadLength, -1, int64(len(r.Content)),
				"ERC%d content over 255 bytes", r.ERC)
		}
		dst = append(dst, r.ERC, byte(len(r.Content)))
		dst = append(dst, r.Content...)
	}
	return dst, nil
}
