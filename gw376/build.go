package gw376

import (
	"time"

	"github.com/feegate/feegate/protocol"
)

// Fn of AFN02 (link interface check) and AFN00 (confirm/deny).
const (
	FnLogin     uint8 = 1 // AFN02 F1 登录
	FnLogout    uint8 = 2 // AFN02 F2 退出登录
	FnHeartbeat uint8 = 3 // AFN02 F3 心跳

	FnConfirmAll  uint8 = 1 // AFN00 F1 全部确认
	FnDenyAll     uint8 = 2 // AFN00 F2 全部否认
	FnConfirmEach uint8 = 3 // AFN00 F3 按数据单元标识确认和否认
	FnAuthError   uint8 = 4 // AFN00 F4 硬件安全认证错误应答 (2013)
)

// ERR codes of AFN00 F3 (Q/GDW 1376.1-2013 Appendix D). The 2009 edition defines only 0 and 1.
const (
	ErrCodeOK            uint8 = 0 // 正确
	ErrCodeOther         uint8 = 1 // 其他错误
	ErrCodeDuplicateAddr uint8 = 2 // 表地址重复
)

// p0ID returns the identifier of p0 and fn, which must be 1 to MaxFn.
func p0ID(fn uint8) ID {
	dt, _ := DTForFn(fn)
	return ID{DT: dt}
}

// terminalLink returns an AFN02 frame a terminal starts: C=C9 (uplink, PRM=1, link test),
// MSA 0, single frame with CON set.
func terminalLink(addr protocol.TerminalAddress, pseq uint8, fn uint8, data []byte) Frame {
	return Frame{
		Control: Control{Up: true, PRM: true, Func: FuncLinkTest},
		Address: addr,
		AFN:     AFNLink,
		Seq:     Seq{FIR: true, FIN: true, CON: true, Num: pseq & 0x0F},
		Data:    append(p0ID(fn).Append(make([]byte, 0, IDLen+len(data))), data...),
	}
}

// Login returns the AFN02 F1 login frame of the terminal at addr.
func Login(addr protocol.TerminalAddress, pseq uint8) Frame {
	return terminalLink(addr, pseq, FnLogin, nil)
}

// Logout returns the AFN02 F2 logout frame of the terminal at addr.
func Logout(addr protocol.TerminalAddress, pseq uint8) Frame {
	return terminalLink(addr, pseq, FnLogout, nil)
}

// Heartbeat returns the AFN02 F3 heartbeat of the terminal at addr. With clock nil it is the
// 2009 form without a data unit; otherwise the 2013 form carries the clock in format A.1.
func Heartbeat(addr protocol.TerminalAddress, pseq uint8, clock *time.Time) Frame {
	if clock == nil {
		return terminalLink(addr, pseq, FnHeartbeat, nil)
	}
	var data [A1Len]byte
	PutA1(data[:], *clock)
	return terminalLink(addr, pseq, FnHeartbeat, data[:])
}

// masterAnswer returns the skeleton of the master's AFN00 reply to a frame req that a
// terminal started: MSA 0, RSEQ = req's PSEQ, single frame, Tp echoed. A link test (login,
// logout, heartbeat) gets function code 11 (link status, C=0B), anything else
// with function code 0 (confirm, C=00).
func masterAnswer(req *Frame) Frame {
	fc := FuncConfirm
	if req.Control.Func == FuncLinkTest {
		fc = FuncLinkStatus
	}
	return Frame{
		Control: Control{Func: fc},
		Address: req.Address,
		A3:      protocol.A3{},
		AFN:     AFNConfirm,
		Seq:     Seq{TpV: req.Seq.TpV, FIR: true, FIN: true, Num: req.Seq.Num},
		Tp:      req.Tp,
	}
}

// ConfirmAll returns the master's AFN00 F1 (all confirmed) for frame req that a terminal
// started, such as a login, a heartbeat or an active report with CON set.
func ConfirmAll(req *Frame) Frame {
	f := masterAnswer(req)
	f.Data = p0ID(FnConfirmAll).Append(nil)
	return f
}

// UnitResult is one entry of AFN00 F3: the identifier of a data unit and its ERR code.
type UnitResult struct {
	ID  ID
	Err uint8
}

// appendConfirmEach appends the AFN00 F3 data-unit area that confirms a frame of afn.
func appendConfirmEach(dst []byte, afn AFN, results []UnitResult) []byte {
	dst = p0ID(FnConfirmEach).Append(dst)
	dst = append(dst, byte(afn))
	for _, r := range results {
		dst = r.ID.Append(dst)
		dst = append(dst, r.Err)
	}
	return dst
}

// ConfirmEach returns the master's AFN00 F3 (confirm or deny per data unit) for frame req
// that a terminal started. This is the standard reply to AFN02 in the 2013 edition.
func ConfirmEach(req *Frame, results []UnitResult) Frame {
	f := masterAnswer(req)
	f.Data = appendConfirmEach(nil, req.AFN, results)
	return f
}

// ConfirmLink returns the 2013-standard AFN00 F3 reply to an AFN02 login, logout or
// heartbeat: its first identifier confirmed with ERR 0. It fails when req carries no
// identifier.
func ConfirmLink(req *Frame) (Frame, error) {
	if len(req.Data) < IDLen {
		return Frame{}, protocol.Errorf(protocol.ErrShortFrame, offData, int64(len(req.Data)),
			"frame has no data-unit identifier to confirm")
	}
	return ConfirmEach(req, []UnitResult{{ID: IDFromWire(req.Data)}}), nil
}

// requestControl returns the control byte and CON bit a master uses for a request of afn:
// reset for AFN01, request class 1 with CON for AFN04, 05, 06 and 0F, request class 2
// otherwise (C=41, 4A and 4B as captured masters send them).
func requestControl(afn AFN) (Control, bool) {
	switch afn {
	case AFNReset:
		return Control{PRM: true, Func: FuncReset}, true
	case AFNSetParam, AFNControl, AFNAuth, AFNFile:
		return Control{PRM: true, Func: FuncRequestClass1}, true
	}
	return Control{PRM: true, Func: FuncRequestClass2}, false
}

// NewRequest returns a master's single-frame request of afn to the terminal at addr, with
// master address msa (1–127), sequence number pseq and the data-unit area data. PW is zero
// when afn carries one (authentication scheme 0); set Frame.PW for other schemes. Use
// Frame.SetTp to add a time label.
func NewRequest(addr protocol.TerminalAddress, msa uint8, afn AFN, pseq uint8, data []byte) (Frame,
	error) {
	if msa == 0 || msa > 127 {
		return Frame{}, protocol.Errorf(protocol.ErrInvalidAddress, -1, int64(msa),
			"a master request needs MSA 1 to 127")
	}
	if pseq > 15 {
		return Frame{},
			protocol.Errorf(protocol.ErrInvalidValue, -1, int64(pseq), "PSEQ must be 0 to 15")
	}
	c, con := requestControl(afn)
	return Frame{
		Control: c,
		Address: addr,
		A3:      protocol.A3{MSA: msa},
		AFN:     afn,
		Seq:     Seq{FIR: true, FIN: true, CON: con, Num: pseq},
		Data:    data,
	}, nil
}

// SetTp adds the time label tp to f and sets TpV.
func (f *Frame) SetTp(tp Tp) {
	f.Seq.TpV = true
	f.Tp = tp
}

// terminalAnswer returns the skeleton of a terminal's reply to master request req: MSA and
// group flag echoed, RSEQ = req's PSEQ, single frame, Tp echoed.
func terminalAnswer(req *Frame, fc FuncCode, afn AFN) Frame {
	return Frame{
		Control: Control{Up: true, Func: fc},
		Address: req.Address,
		A3:      req.A3,
		AFN:     afn,
		Seq:     Seq{TpV: req.Seq.TpV, FIR: true, FIN: true, Num: req.Seq.Num},
		Tp:      req.Tp,
	}
}

// Reply returns a terminal's single-frame data response (C=88) to master request req with
// the data-unit area data. Set Control.ACD and EC to signal waiting events.
func Reply(req *Frame, data []byte) Frame {
	f := terminalAnswer(req, FuncResponseData, req.AFN)
	f.Data = data
	return f
}

// ReplyConfirm returns a terminal's AFN00 F1 (all confirmed, ok set) or F2 (all denied)
// reply to master request req, C=80.
func ReplyConfirm(req *Frame, ok bool) Frame {
	f := terminalAnswer(req, FuncConfirm, AFNConfirm)
	fn := FnConfirmAll
	if !ok {
		fn = FnDenyAll
	}
	f.Data = p0ID(fn).Append(nil)
	return f
}

// ReplyConfirmEach returns a terminal's AFN00 F3 reply to master request req with one ERR
// code per data unit.
func ReplyConfirmEach(req *Frame, results []UnitResult) Frame {
	f := terminalAnswer(req, FuncConfirm, AFNConfirm)
	f.Data = appendConfirmEach(nil, req.AFN, results)
	return f
}

// NewUnitsRequest returns a master's request of afn carrying units, each encoded by its
// table row (downlink direction), as NewRequest does for a prepared data-unit area.
func NewUnitsRequest(addr protocol.TerminalAddress, msa uint8, afn AFN, pseq uint8,
	units []UnitValue) (Frame, error) {
	data, err := AppendUnits(nil, afn, Down, units)
	if err != nil {
		return Frame{}, err
	}
	return NewRequest(addr, msa, afn, pseq, data)
}

// IsBroadcast reports whether f is addressed to every terminal: A2 FFFF with the group
// flag set.
func (f *Frame) IsBroadcast() bool {
	return f.A3.Group && f.Address.A2 == protocol.BroadcastA2
}
