package gw376

import (
	"github.com/feegate/feegate/protocol"
)

// Frame layout constants (FT1.2 of GB/T 18657.1 as Q/GDW 376.1 uses it).
const (
	// StartByte opens a frame and repeats after the two L fields.
	StartByte = 0x68
	// EndByte closes a frame.
	EndByte = 0x16
	// ProtocolID is the value of L bits D1–D0 for this protocol, in both editions.
	ProtocolID = 0b10
	// MaxL1 is the maximum user-data length L1 on network channels.
	MaxL1 = 16383
	// MinL1 is the smallest L1 that holds C, A, AFN and SEQ.
	MinL1 = 8
	// HeaderLen is the length of 68 L L 68.
	HeaderLen = 6
	// Overhead is the number of frame bytes outside L1: the header, CS and the end byte.
	Overhead = 8
	// MaxFrameLen is the length of a frame with L1 = MaxL1.
	MaxFrameLen = MaxL1 + Overhead
	// PWLen is the length of the message authentication code PW (消息认证码).
	PWLen = 16
	// ECLen is the length of the event counter EC.
	ECLen = 2
	// TpLen is the length of the time label Tp.
	TpLen = 6
)

// AFN is the application function code.
type AFN uint8

// Application function codes (Q/GDW 1376.1-2013 table 5).
const (
	AFNConfirm     AFN = 0x00 // 确认/否认
	AFNReset       AFN = 0x01 // 复位
	AFNLink        AFN = 0x02 // 链路接口检测: login, logout, heartbeat
	AFNRelay       AFN = 0x03 // 中继站命令
	AFNSetParam    AFN = 0x04 // 设置参数
	AFNControl     AFN = 0x05 // 控制命令
	AFNAuth        AFN = 0x06 // 身份认证及密钥协商
	AFNCascade     AFN = 0x08 // 请求被级联终端主动上报
	AFNConfig      AFN = 0x09 // 请求终端配置
	AFNQueryParam  AFN = 0x0A // 查询参数
	AFNTaskData    AFN = 0x0B // 请求任务数据
	AFNClass1      AFN = 0x0C // 请求1类数据 (real-time)
	AFNClass2      AFN = 0x0D // 请求2类数据 (history, frozen)
	AFNClass3      AFN = 0x0E // 请求3类数据 (events)
	AFNFile        AFN = 0x0F // 文件传输
	AFNForward     AFN = 0x10 // 数据转发
	afnUnknownName     = "reserved"
)

var afnNames = map[AFN]string{
	AFNConfirm:    "confirm/deny",
	AFNReset:      "reset",
	AFNLink:       "link interface check",
	AFNRelay:      "relay station command",
	AFNSetParam:   "set parameters",
	AFNControl:    "control command",
	AFNAuth:       "authentication and key negotiation",
	AFNCascade:    "request cascaded terminal report",
	AFNConfig:     "request terminal configuration",
	AFNQueryParam: "query parameters",
	AFNTaskData:   "request task data",
	AFNClass1:     "request class 1 data",
	AFNClass2:     "request class 2 data",
	AFNClass3:     "request class 3 data (events)",
	AFNFile:       "file transfer",
	AFNForward:    "data forwarding",
}

// String returns the English name of the AFN.
func (a AFN) String() string {
	if n, ok := afnNames[a]; ok {
		return n
	}
	return afnUnknownName
}

// HasPW reports whether downlink frames of this AFN carry the 16-byte PW in AUX.
func (a AFN) HasPW() bool {
	switch a {
	case AFNReset, AFNSetParam, AFNControl, AFNAuth, AFNFile, AFNForward:
		return true
	}
	return false
}

// FuncCode is the link-layer function code, bits D3–D0 of the control byte.
type FuncCode uint8

// Function codes. Their meaning depends on PRM: FuncReset to FuncRequestClass2 are sent with
// PRM=1 by the initiating station, FuncConfirm to FuncLinkStatus with PRM=0 by the responder.
const (
	FuncReset          FuncCode = 1  // PRM=1: reset (send/confirm)
	FuncUserData       FuncCode = 4  // PRM=1: user data (send/no reply)
	FuncLinkTest       FuncCode = 9  // PRM=1: link test (request/respond)
	FuncRequestClass1  FuncCode = 10 // PRM=1: request class 1 data
	FuncRequestClass2  FuncCode = 11 // PRM=1: request class 2 data
	FuncConfirm        FuncCode = 0  // PRM=0: confirm (认可)
	FuncResponseData   FuncCode = 8  // PRM=0: user data response
	FuncResponseNoData FuncCode = 9  // PRM=0: deny, no data to return
	FuncLinkStatus     FuncCode = 11 // PRM=0: link status
)

// FunctionName returns the English name of function code fc for the given PRM bit.
func FunctionName(prm bool, fc FuncCode) string {
	if prm {
		switch fc {
		case FuncReset:
			return "reset"
		case FuncUserData:
			return "user data"
		case FuncLinkTest:
			return "link test"
		case FuncRequestClass1:
			return "request class 1 data"
		case FuncRequestClass2:
			return "request class 2 data"
		}
		return "reserved"
	}
	switch fc {
	case FuncConfirm:
		return "confirm"
	case FuncResponseData:
		return "user data response"
	case FuncResponseNoData:
		return "deny: no data"
	case FuncLinkStatus:
		return "link status"
	}
	return "reserved"
}

// Control is the control byte C.
type Control struct {
	// Up is the DIR bit: true for terminal to master (uplink), false for master to terminal.
	Up bool
	// PRM is set in frames from the initiating station.
	PRM bool
	// FCB is the frame count bit of downlinks (D5).
	FCB bool
	// ACD is the access-demand bit of uplinks (D5): the terminal has important events
	// waiting, and the frame carries EC in AUX.
	ACD bool
	// FCV is set when FCB is valid (D4). D4 is reserved in uplinks, where FCV keeps it so
	// that a decoded frame encodes to the same bytes.
	FCV bool
	// Func is the function code, D3–D0.
	Func FuncCode
}

// Byte returns the wire byte of c.
func (c Control) Byte() byte {
	b := byte(c.Func & 0x0F)
	if c.Up {
		b |= 0x80
		if c.ACD {
			b |= 0x20
		}
	} else if c.FCB {
		b |= 0x20
	}
	if c.FCV {
		b |= 0x10
	}
	if c.PRM {
		b |= 0x40
	}
	return b
}

// ControlFromByte returns the fields of control byte b.
func ControlFromByte(b byte) Control {
	c := Control{Up: b&0x80 != 0, PRM: b&0x40 != 0, FCV: b&0x10 != 0, Func: FuncCode(b & 0x0F)}
	if c.Up {
		c.ACD = b&0x20 != 0
	} else {
		c.FCB = b&0x20 != 0
	}
	return c
}

// Seq is the SEQ byte: time-label flag, multi-frame position, confirmation request and the
// sequence number (PSEQ in requests, RSEQ in responses).
type Seq struct {
	// TpV is set when AUX carries the time label Tp.
	TpV bool
	// FIR marks the first frame of a message and FIN the last; a single frame sets both.
	FIR, FIN bool
	// CON requests that the receiver confirm the frame.
	CON bool
	// Num is PSEQ or RSEQ, 0–15.
	Num uint8
}

// Byte returns the wire byte of s.
func (s Seq) Byte() byte {
	b := s.Num & 0x0F
	if s.TpV {
		b |= 0x80
	}
	if s.FIR {
		b |= 0x40
	}
	if s.FIN {
		b |= 0x20
	}
	if s.CON {
		b |= 0x10
	}
	return b
}

// SeqFromByte returns the fields of SEQ byte b.
func SeqFromByte(b byte) Seq {
	return Seq{TpV: b&0x80 != 0, FIR: b&0x40 != 0, FIN: b&0x20 != 0, CON: b&0x10 != 0,
		Num: b & 0x0F}
}

// EC is the event counter of an uplink AUX: important (EC1) and general (EC2) events, each
// counting 0–255 and wrapping.
type EC struct {
	Important, General uint8
}

// Tp is the time label of AUX: the initiator's frame counter PFC, the send time in format
// A.16 (ss mm hh DD, BCD) and the allowed transmission delay in minutes (0 = no check).
type Tp struct {
	PFC uint8
	// Sent holds the send time as sent; see Tp.SentTime for its fields.
	Sent [4]byte
	// DelayMin is the allowed delay in minutes; 0 means the receiver does not check it.
	DelayMin uint8
}

// Frame is one Q/GDW 376.1 frame. Data is the data-unit area between SEQ and AUX: one or more
// DA DT identifiers each followed by their data units; Units and Walk split it.
//
// Which AUX parts a frame carries follows from its other fields: PW on downlinks of the AFNs
// where AFN.HasPW holds, EC on uplinks with ACD set, Tp when Seq.TpV is set.
type Frame struct {
	Control Control
	Address protocol.TerminalAddress
	A3      protocol.A3
	AFN     AFN
	Seq     Seq
	Data    []byte
	PW      [PWLen]byte
	EC      EC
	Tp      Tp
}

// HasPW reports whether f carries PW: a downlink of an AFN that requires it.
func (f *Frame) HasPW() bool { return !f.Control.Up && f.AFN.HasPW() }

// HasEC reports whether f carries EC: an uplink with ACD set.
func (f *Frame) HasEC() bool { return f.Control.Up && f.Control.ACD }

// HasTp reports whether f carries Tp.
func (f *Frame) HasTp() bool { return f.Seq.TpV }

// auxLen returns the length of the AUX area of f.
func (f *Frame) auxLen() int {
	n := 0
	if f.HasPW() {
		n += PWLen
	}
	if f.HasEC() {
		n += ECLen
	}
	if f.HasTp() {
		n += TpLen
	}
	return n
}

// Len returns the encoded length of f.
func (f *Frame) Len() int { return Overhead + MinL1 + len(f.Data) + f.auxLen() }
