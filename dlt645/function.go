package dlt645

import "fmt"

// Edition is the DL/T 645 edition a frame follows.
type Edition int

// The two editions. The frame is the same; function codes and identifier widths differ.
const (
	Edition2007 Edition = 2007
	Edition1997 Edition = 1997
)

// String returns the protocol name used in JSON output, such as "dlt645-2007".
func (e Edition) String() string { return fmt.Sprintf("dlt645-%d", int(e)) }

// Function is a function code (D4..D0 of the control code). The same code means different
// things in the two editions (0x03 is security in 2007 and re-read in 1997), so names and
// layouts are looked up with the edition.
type Function byte

// DL/T 645-2007 function codes (0x03 is the SGCC security extension).
const (
	FuncSecurity       Function = 0x03
	FuncBroadcastTime  Function = 0x08
	FuncRead           Function = 0x11
	FuncReadFollowup   Function = 0x12
	FuncReadAddress    Function = 0x13
	FuncWrite          Function = 0x14
	FuncWriteAddress   Function = 0x15
	FuncFreeze         Function = 0x16
	FuncChangeBaud     Function = 0x17
	FuncChangePassword Function = 0x18
	FuncClearDemand    Function = 0x19
	FuncClearMeter     Function = 0x1A
	FuncClearEvents    Function = 0x1B
	FuncRelayControl   Function = 0x1C
	FuncOutputControl  Function = 0x1D
)

// DL/T 645-1997 function codes.
const (
	Func97Read           Function = 0x01
	Func97ReadFollowup   Function = 0x02
	Func97Reread         Function = 0x03
	Func97Write          Function = 0x04
	Func97BroadcastTime  Function = 0x08
	Func97WriteAddress   Function = 0x0A
	Func97ChangeBaud     Function = 0x0C
	Func97ChangePassword Function = 0x0F
	Func97ClearDemand    Function = 0x10
)

// functionInfo is one row of the function table: its snake-case name (the explain
// contract's `function` field) and its Chinese name as field engineers know it.
type functionInfo struct {
	edition Edition
	code    Function
	name    string
	chinese string
}

var functionTable = []functionInfo{
	{Edition2007, FuncSecurity, "security", "安全认证"},
	{Edition2007, FuncBroadcastTime, "broadcast_time", "广播校时"},
	{Edition2007, FuncRead, "read", "读数据"},
	{Edition2007, FuncReadFollowup, "read_followup", "读后续数据"},
	{Edition2007, FuncReadAddress, "read_address", "读通信地址"},
	{Edition2007, FuncWrite, "write", "写数据"},
	{Edition2007, FuncWriteAddress, "write_address", "写通信地址"},
	{Edition2007, FuncFreeze, "freeze", "冻结命令"},
	{Edition2007, FuncChangeBaud, "change_baud", "更改通信速率"},
	{Edition2007, FuncChangePassword, "change_password", "修改密码"},
	{Edition2007, FuncClearDemand, "clear_demand", "最大需量清零"},
	{Edition2007, FuncClearMeter, "clear_meter", "电表清零"},
	{Edition2007, FuncClearEvents, "clear_events", "事件清零"},
	{Edition2007, FuncRelayControl, "relay_control", "跳合闸、报警、保电"},
	{Edition2007, FuncOutputControl, "output_control", "多功能端子输出控制"},
	{Edition1997, Func97Read, "read", "读数据"},
	{Edition1997, Func97ReadFollowup, "read_followup", "读后续数据"},
	{Edition1997, Func97Reread, "reread", "重读数据"},
	{Edition1997, Func97Write, "write", "写数据"},
	{Edition1997, Func97BroadcastTime, "broadcast_time", "广播校时"},
	{Edition1997, Func97WriteAddress, "write_address", "写设备地址"},
	{Edition1997, Func97ChangeBaud, "change_baud", "更改通信速率"},
	{Edition1997, Func97ChangePassword, "change_password", "修改密码"},
	{Edition1997, Func97ClearDemand, "clear_demand", "最大需量清零"},
}

func lookupFunction(e Edition, c Function) (functionInfo, bool) {
	for _, f := range functionTable {
		if f.edition == e && f.code == c {
			return f, true
		}
	}
	return functionInfo{}, false
}

// Name returns the snake-case name of function c in edition e, or "" when e defines no
// such function.
func (c Function) Name(e Edition) string {
	f, _ := lookupFunction(e, c)
	return f.name
}

// ChineseName returns the name of function c in edition e as the standard writes it.
func (c Function) ChineseName(e Edition) string {
	f, _ := lookupFunction(e, c)
	return f.chinese
}

// Known reports whether edition e defines function c.
func (c Function) Known(e Edition) bool {
	_, ok := lookupFunction(e, c)
	return ok
}

// DetectEdition guesses the edition of f from its function code. Codes 0x01, 0x02, 0x04,
// 0x0A, 0x0C, 0x0F and 0x10 are 1997, and 0x11..0x1D are 2007. 0x03 with at least 4 data
// bytes is the 2007 security command, because a 1997 re-read has no data. 0x08, which both
// editions share, is reported as 2007. ok is false for a code neither edition defines.
func DetectEdition(f *Frame) (e Edition, ok bool) {
	c := f.Function()
	switch {
	case c >= 0x11 && c <= 0x1D, c == FuncBroadcastTime:
		return Edition2007, true
	case c == 0x03:
		if len(f.Data) >= 4 || f.Control.IsReply() && f.Control.IsAbnormal() && len(f.Data) == 2 {
			return Edition2007, true
		}
		return Edition1997, true
	case c.Known(Edition1997):
		return Edition1997, true
	}
	return Edition2007, false
}
