package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
)

// dltObject is the JSON object of one DL/T 645 frame, as the explain contract names it.
type dltObject struct {
	Protocol  string `json:"protocol"`
	Address   string `json:"address"`
	Direction string `json:"direction"`
	Function  string `json:"function"`
	// ControlCode is C in hex, for frames whose function has no name.
	ControlCode string       `json:"control_code"`
	Abnormal    bool         `json:"abnormal"`
	Followup    bool         `json:"followup"`
	DI          string       `json:"di,omitempty"`
	Values      []dltValue   `json:"values"`
	Error       *dltError    `json:"error,omitempty"`
	ValueError  *dltValueErr `json:"value_error,omitempty"`
	// Data is the unscrambled data field in hex, wire order. It is left out when the frame
	// carries a password and --show-secrets is not set.
	Data string `json:"data,omitempty"`
}

// dltValue is one decoded value: numbers are exact decimals, times are strings.
type dltValue struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
	Unit  string `json:"unit"`
}

// dltError is the meter's error of an abnormal reply.
type dltError struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Bits    []string `json:"bits"`
}

// dltValueErr reports a valid frame whose value does not match its identifier's format,
// such as a surplus byte: the value is not guessed.
type dltValueErr struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// dltSegment is one line of the person-readable breakdown: an offset range of the input,
// its raw bytes and what they mean.
type dltSegment struct {
	off, n  int
	field   string
	chinese string
	meaning string
	secret  bool
}

// dltExplainer builds the JSON object and the breakdown of one frame.
type dltExplainer struct {
	f    *dlt645.Frame
	ed   dlt645.Edition
	opt  explainOptions
	raw  []byte
	base int // offset of the first 0x68 in raw
	obj  dltObject
	segs []dltSegment
	// secret is set once a password field is masked.
	secret bool
}

const masked = "******"

// explainDLT645 decodes one DL/T 645 frame.
func explainDLT645(raw []byte, opt explainOptions) (explanation, error) {
	f, err := dlt645.Decode(raw)
	if err != nil {
		return explanation{}, err
	}
	ed, known := dlt645.DetectEdition(f)
	if opt.edition != 0 {
		ed, known = dlt645.Edition(opt.edition), true
	}

	x := &dltExplainer{f: f, ed: ed, opt: opt, raw: raw}
	for x.base < len(raw) && raw[x.base] == dlt645.PreambleByte {
		x.base++
	}

	fn := f.Function()
	name := fn.Name(ed)
	if name == "" || !known {
		name = fmt.Sprintf("unknown_%02X", byte(fn))
	}
	x.obj = dltObject{
		Protocol:    ed.String(),
		Address:     f.Address.String(),
		Direction:   "request",
		Function:    name,
		ControlCode: fmt.Sprintf("%02X", byte(f.Control)),
		Abnormal:    f.Control.IsAbnormal(),
		Followup:    f.Control.HasFollowup(),
		Values:      []dltValue{},
		Data:        fmt.Sprintf("%X", f.Data),
	}
	if f.Control.IsReply() {
		x.obj.Direction = "reply"
	}

	x.header()
	x.data()
	x.trailer()
	return explanation{object: x.obj, text: x.text()}, nil
}

// dataSeg adds a segment at offset off of the data field.
func (x *dltExplainer) dataSeg(off, n int, field, chinese, meaning string) {
	x.segs = append(x.segs, dltSegment{off: x.base + dlt645.HeaderLen + off, n: n,
		field: field, chinese: chinese, meaning: meaning})
}

func (x *dltExplainer) secretSeg(off, n int, field, chinese string) {
	meaning := masked
	if x.opt.showSecrets {
		meaning = reversedHexString(x.f.Data[off : off+n])
	}
	x.segs = append(x.segs, dltSegment{off: x.base + dlt645.HeaderLen + off, n: n,
		field: field, chinese: chinese, meaning: meaning, secret: !x.opt.showSecrets})
	if !x.opt.showSecrets {
		x.secret = true
		x.obj.Data = ""
	}
}

func (x *dltExplainer) value(name string, v any, unit string) {
	x.obj.Values = append(x.obj.Values, dltValue{Name: name, Value: v, Unit: unit})
}

func (x *dltExplainer) header() {
	if x.base > 0 {
		x.segs = append(x.segs, dltSegment{off: 0, n: x.base, field: "preamble",
			chinese: "前导字节", meaning: fmt.Sprintf("%d wake-up bytes", x.base)})
	}
	b := x.base
	x.segs = append(x.segs,
		dltSegment{off: b, n: 1, field: "start", chinese: "帧起始符"},
		dltSegment{off: b + 1, n: 6, field: "address", chinese: "地址域",
			meaning: x.f.Address.String() + addressNote(x.f.Address)},
		dltSegment{off: b + 7, n: 1, field: "start", chinese: "帧起始符"},
		dltSegment{off: b + 8, n: 1, field: "control", chinese: "控制码",
			meaning: x.controlMeaning()},
		dltSegment{off: b + 9, n: 1, field: "length", chinese: "数据域长度",
			meaning: fmt.Sprintf("L = %d data bytes", len(x.f.Data))},
	)
}

func addressNote(a protocol.MeterAddress) string {
	switch {
	case a.IsBroadcast():
		return " (broadcast 广播地址: no reply)"
	case a.IsWildcard():
		return " (wildcard 缩位地址)"
	}
	return ""
}

func (x *dltExplainer) controlMeaning() string {
	c := x.f.Control
	parts := []string{"request (master to meter)"}
	if c.IsReply() {
		parts[0] = "reply (meter to master)"
		if c.IsAbnormal() {
			parts = append(parts, "abnormal 异常应答")
		} else {
			parts = append(parts, "normal")
		}
	}
	if c.HasFollowup() {
		parts = append(parts, "follow-up frames 有后续帧")
	}
	fn := c.Function()
	parts = append(parts, fmt.Sprintf("function %02X %s %s (%s)", byte(fn), x.obj.Function,
		fn.ChineseName(x.ed), x.ed))
	return strings.Join(parts, ", ")
}

func (x *dltExplainer) trailer() {
	end := x.base + dlt645.HeaderLen + len(x.f.Data)
	x.segs = append(x.segs,
		dltSegment{off: end, n: 1, field: "checksum", chinese: "校验码",
			meaning: "sum of the bytes from the first 68, valid"},
		dltSegment{off: end + 1, n: 1, field: "end", chinese: "结束符"},
	)
}

// data decodes the data field by edition and function.
func (x *dltExplainer) data() {
	f := x.f
	if len(f.Data) == 0 {
		return
	}
	if f.Control.IsReply() && f.Control.IsAbnormal() {
		x.abnormal()
		return
	}
	fn := f.Function()
	if x.ed == dlt645.Edition1997 {
		x.data1997(fn)
		return
	}
	reply := f.Control.IsReply()
	switch {
	case fn == dlt645.FuncRead || fn == dlt645.FuncReadFollowup:
		x.read(reply, fn == dlt645.FuncReadFollowup)
	case fn == dlt645.FuncReadAddress && reply, fn == dlt645.FuncWriteAddress && !reply:
		x.addressData()
	case fn == dlt645.FuncBroadcastTime:
		x.broadcastTime()
	case fn == dlt645.FuncWrite && !reply:
		x.write()
	case fn == dlt645.FuncFreeze && !reply:
		x.freeze()
	case fn == dlt645.FuncChangeBaud:
		x.baud()
	case fn == dlt645.FuncChangePassword:
		x.changePassword(reply)
	case fn >= dlt645.FuncClearDemand && fn <= dlt645.FuncClearEvents && !reply:
		x.clear(fn)
	case fn == dlt645.FuncRelayControl:
		x.relay(reply)
	case fn == dlt645.FuncOutputControl && !reply:
		x.outputControl()
	case fn == dlt645.FuncSecurity:
		x.security(reply)
	default:
		x.rawData("data", "数据域")
	}
}

func (x *dltExplainer) data1997(fn dlt645.Function) {
	reply := x.f.Control.IsReply()
	switch {
	case fn == dlt645.Func97Read || fn == dlt645.Func97ReadFollowup || fn == dlt645.Func97Reread:
		x.read97(reply)
	case fn == dlt645.Func97Write && !reply:
		x.write97()
	case fn == dlt645.Func97BroadcastTime:
		x.broadcastTime()
	case fn == dlt645.Func97WriteAddress && !reply:
		x.addressData()
	case fn == dlt645.Func97ChangeBaud:
		x.baud()
	case fn == dlt645.Func97ChangePassword:
		x.changePassword97(reply)
	case fn == dlt645.Func97ClearDemand && !reply:
		x.credentials(0, false)
	default:
		x.rawData("data", "数据域")
	}
}

// rawData adds the whole data field undecoded. A request that carries a password in a
// layout the explainer does not know is masked whole, so no password leaks.
func (x *dltExplainer) rawData(field, chinese string) {
	if x.carriesPassword() {
		x.secretSeg(0, len(x.f.Data), field, chinese)
		return
	}
	x.dataSeg(0, len(x.f.Data), field, chinese, "undecoded")
}

// carriesPassword reports whether the data field may hold a password: a request whose
// function carries PA P0 P1 P2 in either edition, or a normal change-password reply, which
// echoes the new password. Both editions count because --edition can force the wrong one
// onto a frame, and a 2007 relay control read as 1997 must stay masked.
func (x *dltExplainer) carriesPassword() bool {
	c := x.f.Control
	fn := c.Function()
	if c.IsReply() {
		return !c.IsAbnormal() &&
			(fn == dlt645.FuncChangePassword || fn == dlt645.Func97ChangePassword)
	}
	switch fn {
	case dlt645.FuncWrite, dlt645.FuncChangePassword, dlt645.FuncRelayControl,
		dlt645.FuncClearDemand, dlt645.FuncClearMeter, dlt645.FuncClearEvents,
		dlt645.Func97Write, dlt645.Func97ChangePassword, dlt645.Func97ClearDemand:
		return true
	}
	return false
}

func (x *dltExplainer) abnormal() {
	err := dlt645.ReplyError(x.ed, x.f)
	me, ok := err.(*dlt645.MeterError)
	if !ok {
		x.rawData("error", "错误信息字")
		x.obj.Error = &dltError{Code: "meter_error", Message: fmt.Sprint(err), Bits: []string{}}
		return
	}
	bits := me.Bits()
	if bits == nil {
		bits = []string{}
	}
	x.obj.Error = &dltError{Code: me.Code(), Message: me.Error(), Bits: bits}
	field, chinese := "error", "错误信息字 ERR"
	if me.Kind == dlt645.KindSERR {
		field, chinese = "security error", "安全认证错误信息字 SERR"
	}
	meaning := strings.Join(bits, ", ")
	if zh := me.ChineseBits(); len(zh) > 0 {
		meaning += " (" + strings.Join(zh, ", ") + ")"
	}
	x.dataSeg(0, len(x.f.Data), field, chinese, meaning)
}

// read explains a 2007 read request or reply (0x11, 0x12 and their replies).
func (x *dltExplainer) read(reply, followup bool) {
	d := x.f.Data
	if len(d) < 4 {
		x.rawData("data", "数据域")
		return
	}
	di := dlt645.DI(uint32(d[0]) | uint32(d[1])<<8 | uint32(d[2])<<16 | uint32(d[3])<<24)
	x.obj.DI = di.String()
	item, known := dlt645.Lookup(di)
	x.dataSeg(0, 4, "DI", "数据标识", diMeaning(di.String(), item, known))
	rest := d[4:]
	if followup {
		if len(rest) == 0 {
			x.rawData("data", "数据域")
			return
		}
		seqOff := len(d) - 1
		defer x.dataSeg(seqOff, 1, "SEQ", "帧序号", fmt.Sprintf("frame %d", d[seqOff]))
		rest = rest[:len(rest)-1]
	}
	if !reply {
		if len(rest) > 0 {
			x.dataSeg(4, len(rest), "block count and time", "负荷记录块数及时间",
				fmt.Sprintf("% X", rest))
		}
		return
	}
	x.tableValue(4, item, known, rest, followup || x.f.Control.HasFollowup())
}

func diMeaning(di string, item *dlt645.Item, known bool) string {
	if !known {
		return di + " (not in the table)"
	}
	return fmt.Sprintf("%s %s %s", di, item.Name, item.Chinese)
}

// tableValue decodes value bytes at data offset off by the table row.
func (x *dltExplainer) tableValue(off int, item *dlt645.Item, known bool, b []byte,
	partial bool) {
	if len(b) == 0 {
		return
	}
	if !known || partial {
		x.dataSeg(off, len(b), "value", "数据", "undecoded (identifier not in the table or "+
			"value split over follow-up frames)")
		return
	}
	v, err := dlt645.DecodeValue(item, b)
	if err != nil && item.Format != dlt645.FormatBlock &&
		(errors.Is(err, protocol.ErrInvalidBCD) || errors.Is(err, protocol.ErrInvalidValue)) {
		// A value the meter filled with non-digits (often FF for "no data") or an
		// impossible date prints as null with its raw bytes beside it.
		x.value(item.Name, nil, item.Unit)
		x.value(item.Name+"_raw", fmt.Sprintf("%X", b), "")
		x.dataSeg(off, len(b), item.Name, item.Chinese, "invalid: "+err.Error())
		return
	}
	if err != nil {
		code := protocol.Code(err)
		if code == "" {
			code = "invalid_value"
		}
		x.obj.ValueError = &dltValueErr{Code: code, Message: err.Error()}
		x.dataSeg(off, len(b), "value", "数据", "not decoded: "+err.Error())
		return
	}
	x.addValue(off, v)
}

// addValue adds v (and its members) to the values and the breakdown.
func (x *dltExplainer) addValue(off int, v dlt645.Value) {
	it := v.Item
	members, isBlock := v.Data.([]dlt645.Value)
	if isBlock {
		if unit, ok := commonUnit(members); ok {
			x.value(it.Name, v.JSON(), unit)
		}
		o := off
		for _, m := range members {
			if _, uniform := commonUnit(members); !uniform {
				x.addValue(o, m)
			} else {
				x.dataSeg(o, len(m.Raw), m.Item.Name, m.Item.Chinese, valueText(m))
			}
			o += len(m.Raw)
		}
		return
	}
	x.value(it.Name, v.JSON(), it.Unit)
	if sw, ok := v.Data.(dlt645.StatusWord); ok && sw.Word == 3 {
		state := "closed"
		if sw.RelayOpen() {
			state = "open"
		}
		x.value("relay_state", state, "")
	}
	x.dataSeg(off, len(v.Raw), it.Name, it.Chinese, valueText(v))
}

// commonUnit reports the unit shared by every member of a block of numbers.
func commonUnit(members []dlt645.Value) (string, bool) {
	if len(members) == 0 {
		return "", false
	}
	unit := members[0].Item.Unit
	for _, m := range members {
		if _, num := m.Data.(dlt645.Decimal); !num || m.Item.Unit != unit {
			return "", false
		}
	}
	return unit, true
}

func valueText(v dlt645.Value) string {
	switch d := v.Data.(type) {
	case nil:
		return "none (all zero)"
	case dlt645.StatusWord:
		var on []string
		for _, f := range d.Fields()[1:] {
			switch val := f.Value.(type) {
			case bool:
				if val {
					on = append(on, f.Name)
				}
			case string:
				on = append(on, f.Name+"="+val)
			}
		}
		return fmt.Sprintf("%04X: %s", d.Raw, strings.Join(on, ", "))
	}
	s := fmt.Sprint(v.JSON())
	if v.Item.Unit != "" {
		s += " " + v.Item.Unit
	}
	return s
}

func (x *dltExplainer) read97(reply bool) {
	d := x.f.Data
	if len(d) < 2 {
		x.rawData("data", "数据域")
		return
	}
	di := dlt645.DI97(uint16(d[0]) | uint16(d[1])<<8)
	x.obj.DI = di.String()
	item, known := dlt645.Lookup97(di)
	meaning := diMeaning(di.String(), item, known)
	if known && item.Map2007 != 0 {
		meaning += " (2007: " + item.Map2007.String() + ")"
	}
	x.dataSeg(0, 2, "DI", "数据标识", meaning)
	if reply {
		x.tableValue(2, item, known, d[2:], x.f.Control.HasFollowup())
	}
}

func (x *dltExplainer) addressData() {
	if len(x.f.Data) != 6 {
		x.rawData("data", "数据域")
		return
	}
	a, err := protocol.MeterAddressFromWire(x.f.Data)
	if err != nil {
		x.dataSeg(0, 6, "address", "通信地址", "invalid: "+err.Error())
		return
	}
	x.value("address", a.String(), "")
	x.dataSeg(0, 6, "address", "通信地址", a.String())
}

func (x *dltExplainer) broadcastTime() {
	t, err := dlt645.ParseBroadcastTime(x.f)
	if err != nil {
		x.rawData("time", "校时时间")
		return
	}
	s := t.Format("2006-01-02T15:04:05")
	x.value("time", s, "")
	x.dataSeg(0, 6, "time", "校时时间 ssmmhhDDMMYY", s)
}

// credentials explains PA P0 P1 P2 (and C0..C3 when operator is set) at data offset off.
func (x *dltExplainer) credentials(off int, operator bool) int {
	d := x.f.Data
	need := off + 4
	if operator {
		need += 4
	}
	if len(d) < need {
		x.rawData("data", "数据域")
		return len(d)
	}
	x.value("password_level", int(d[off]), "")
	x.dataSeg(off, 1, "password level", "密码权限 PA", fmt.Sprintf("%02X", d[off]))
	pw := masked
	if x.opt.showSecrets {
		pw = reversedHexString(d[off+1 : off+4])
	}
	x.value("password", pw, "")
	x.secretSeg(off+1, 3, "password", "密码 P0P1P2")
	if !operator {
		return off + 4
	}
	op := reversedHexString(d[off+4 : off+8])
	x.value("operator", op, "")
	x.dataSeg(off+4, 4, "operator", "操作者代码 C0..C3", op)
	return off + 8
}

func (x *dltExplainer) write() {
	d := x.f.Data
	if len(d) < 12 {
		x.rawData("data", "数据域")
		return
	}
	di := dlt645.DI(uint32(d[0]) | uint32(d[1])<<8 | uint32(d[2])<<16 | uint32(d[3])<<24)
	x.obj.DI = di.String()
	item, known := dlt645.Lookup(di)
	x.dataSeg(0, 4, "DI", "数据标识", diMeaning(di.String(), item, known))
	x.credentials(4, true)
	if d[4] == dlt645.LevelEncrypted || d[4] == dlt645.LevelMAC {
		x.dataSeg(12, len(d)-12, "data and MAC", "数据及MAC", "secured by the ESAM")
		return
	}
	x.tableValue(12, item, known, d[12:], false)
}

func (x *dltExplainer) write97() {
	d := x.f.Data
	if len(d) < 6 {
		x.rawData("data", "数据域")
		return
	}
	di := dlt645.DI97(uint16(d[0]) | uint16(d[1])<<8)
	x.obj.DI = di.String()
	item, known := dlt645.Lookup97(di)
	x.dataSeg(0, 2, "DI", "数据标识", diMeaning(di.String(), item, known))
	x.credentials(2, false)
	x.tableValue(6, item, known, d[6:], false)
}

func (x *dltExplainer) freeze() {
	ft, err := dlt645.ParseFreezeRequest(x.f)
	if err != nil {
		x.rawData("freeze time", "冻结时间")
		return
	}
	s := fmt.Sprintf("month %s day %s %s:%s", every(ft.Month), every(ft.Day), every(ft.Hour),
		every(ft.Minute))
	if ft == (dlt645.FreezeTime{Minute: 99, Hour: 99, Day: 99, Month: 99}) {
		s = "instantaneous freeze 瞬时冻结"
	}
	x.value("freeze_time", s, "")
	x.dataSeg(0, 4, "freeze time", "冻结时间 mmhhDDMM", s)
}

func every(n int) string {
	if n == dlt645.FreezeEvery {
		return "every"
	}
	return fmt.Sprintf("%02d", n)
}

func (x *dltExplainer) baud() {
	z := x.f.Data[0]
	b := dlt645.BaudFromCode(z)
	x.value("baud", b, "bps")
	x.dataSeg(0, len(x.f.Data), "baud code", "通信速率特征字 Z", fmt.Sprintf("%02X = %d bps", z, b))
}

func (x *dltExplainer) changePassword(reply bool) {
	d := x.f.Data
	if reply {
		x.credentials(0, false)
		return
	}
	if len(d) != 12 {
		x.rawData("data", "数据域")
		return
	}
	di := dlt645.DI(uint32(d[0]) | uint32(d[1])<<8 | uint32(d[2])<<16 | uint32(d[3])<<24)
	x.obj.DI = di.String()
	x.dataSeg(0, 4, "DI", "数据标识", di.String()+" password of this level")
	x.credentials(4, false)
	x.newPassword(8)
}

func (x *dltExplainer) changePassword97(reply bool) {
	if reply || len(x.f.Data) != 8 {
		x.credentials(0, false)
		return
	}
	x.credentials(0, false)
	x.newPassword(4)
}

func (x *dltExplainer) newPassword(off int) {
	d := x.f.Data
	x.value("new_password_level", int(d[off]), "")
	x.dataSeg(off, 1, "new password level", "新密码权限", fmt.Sprintf("%02X", d[off]))
	pw := masked
	if x.opt.showSecrets {
		pw = reversedHexString(d[off+1 : off+4])
	}
	x.value("new_password", pw, "")
	x.secretSeg(off+1, 3, "new password", "新密码")
}

func (x *dltExplainer) clear(fn dlt645.Function) {
	off := x.credentials(0, true)
	rest := x.f.Data[off:]
	switch {
	case len(rest) == 0:
	case fn == dlt645.FuncClearEvents && len(rest) == 4:
		di := dlt645.DI(uint32(rest[0]) | uint32(rest[1])<<8 | uint32(rest[2])<<16 |
			uint32(rest[3])<<24)
		x.obj.DI = di.String()
		meaning := di.String()
		if di == 0xFFFFFFFF {
			meaning += " every event 全部事件"
		}
		x.dataSeg(off, 4, "event DI", "事件数据标识", meaning)
	default:
		x.dataSeg(off, len(rest), "ciphertext", "密文", "secured by the ESAM")
	}
}

func (x *dltExplainer) outputControl() {
	names := []string{"clock pulse 时钟秒脉冲", "demand period 需量周期", "slot switch 时段投切"}
	m := int(x.f.Data[0])
	meaning := "unknown mode"
	if m < len(names) {
		meaning = names[m]
	}
	x.value("output_mode", m, "")
	x.dataSeg(0, 1, "output mode", "输出模式", meaning)
}

func (x *dltExplainer) relay(reply bool) {
	d := x.f.Data
	if reply {
		st, err := dlt645.ParseRelayReply(x.f)
		if err != nil {
			x.rawData("data", "数据域")
			return
		}
		bits := st.Bits()
		if bits == nil {
			bits = []string{}
		}
		x.value("execution_status", map[string]any{"raw": fmt.Sprintf("%04X", uint16(st)),
			"bits": bits}, "")
		x.dataSeg(0, 2, "execution status", "执行状态字", strings.Join(bits, ", "))
		return
	}

	if len(d) > 8 && d[0] == dlt645.LevelEncrypted {
		x.credentials(0, true)
		req, _ := dlt645.ParseEncryptedRelayRequest(x.f)
		ct := fmt.Sprintf("%X", req.CipherMAC)
		x.value("ciphertext", ct, "")
		x.dataSeg(8, len(d)-8, "ciphertext+MAC", "密文+MAC (reversed on the wire)", ct)
		return
	}
	if len(d) != 16 {
		x.rawData("data", "数据域")
		return
	}

	x.credentials(0, true)
	action := dlt645.RelayAction(d[8])
	x.value("control", action.String(), "")
	x.dataSeg(8, 1, "control", "控制命令类型 N1", fmt.Sprintf("%02X %s %s", d[8], action,
		action.ChineseName()))
	x.value("n2", int(d[9]), "")
	x.dataSeg(9, 1, "N2", "保留/延时 N2", fmt.Sprintf("%02X", d[9]))

	cmd, err := dlt645.ParseRelayRequest(x.f, nil)
	if err != nil {
		x.value("deadline", nil, "")
		x.value("deadline_raw", fmt.Sprintf("%X", d[10:16]), "")
		x.dataSeg(10, 6, "deadline", "命令有效截止时间 ssmmhhDDMMYY", "invalid: "+err.Error())
		return
	}
	s := cmd.Deadline.Format("2006-01-02T15:04:05")
	x.value("deadline", s, "")
	x.dataSeg(10, 6, "deadline", "命令有效截止时间 ssmmhhDDMMYY", s+" "+zoneName(cmd.Deadline))
}

func zoneName(t time.Time) string {
	name, _ := t.Zone()
	return "(" + name + ")"
}

func (x *dltExplainer) security(reply bool) {
	d := x.f.Data
	if len(d) < 4 {
		x.rawData("data", "数据域")
		return
	}
	di := dlt645.DI(uint32(d[0]) | uint32(d[1])<<8 | uint32(d[2])<<16 | uint32(d[3])<<24)
	x.obj.DI = di.String()
	label := map[dlt645.DI]string{dlt645.DIIdentityAuth: "identity authentication 身份认证",
		dlt645.DIAuthValidity:   "authentication validity 身份认证时效设置",
		dlt645.DIAuthInvalidate: "end authentication 身份认证失效"}[di]
	x.dataSeg(0, 4, "DI", "数据标识", strings.TrimSpace(di.String()+" "+label))
	switch {
	case di == dlt645.DIIdentityAuth && reply && len(d) == 16:
		x.hexField(4, 4, "rand2", "随机数2")
		x.hexField(8, 8, "esam_serial", "ESAM序列号")
	case di == dlt645.DIIdentityAuth && !reply && len(d) == 32:
		op := reversedHexString(d[4:8])
		x.value("operator", op, "")
		x.dataSeg(4, 4, "operator", "操作者代码 C0..C3", op)
		x.hexField(8, 8, "cipher1", "密文1")
		x.hexField(16, 8, "rand1", "随机数1")
		x.hexField(24, 8, "dispersion_factor", "分散因子")
	case len(d) > 4:
		x.dataSeg(4, len(d)-4, "data", "数据", "secured payload")
	}
}

// hexField adds a reversed byte field as a hex value.
func (x *dltExplainer) hexField(off, n int, name, chinese string) {
	s := reversedHexString(x.f.Data[off : off+n])
	x.value(name, s, "")
	x.dataSeg(off, n, name, chinese, s)
}

func reversedHexString(b []byte) string {
	var sb strings.Builder
	for i := len(b) - 1; i >= 0; i-- {
		fmt.Fprintf(&sb, "%02X", b[i])
	}
	return sb.String()
}

// text renders the breakdown: offset range, raw bytes, field and meaning. Data bytes are
// shown as sent (scrambled) with the unscrambled bytes after them.
func (x *dltExplainer) text() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s from %s, %d bytes: %s\n", x.obj.Protocol, x.obj.Direction,
		x.obj.Address, len(x.raw), x.obj.Function)
	dataStart := x.base + dlt645.HeaderLen
	dataEnd := dataStart + len(x.f.Data)
	for _, s := range x.segs {
		rng := fmt.Sprint(s.off)
		if s.n > 1 {
			rng = fmt.Sprintf("%d-%d", s.off, s.off+s.n-1)
		}
		raw := fmt.Sprintf("% X", x.raw[s.off:s.off+s.n])
		if s.secret {
			raw = strings.TrimSpace(strings.Repeat("** ", s.n))
		} else if s.off >= dataStart && s.off+s.n <= dataEnd {
			plain := x.f.Data[s.off-dataStart : s.off-dataStart+s.n]
			raw += fmt.Sprintf(" (-33: % X)", plain)
		}
		name := s.field
		if s.chinese != "" {
			name += " " + s.chinese
		}
		fmt.Fprintf(&sb, "  %-7s %-30s %-28s %s\n", rng, raw, name, s.meaning)
	}
	if e := x.obj.Error; e != nil {
		fmt.Fprintf(&sb, "  meter error: %s\n", e.Message)
	}
	if e := x.obj.ValueError; e != nil {
		fmt.Fprintf(&sb, "  value error (%s): %s\n", e.Code, e.Message)
	}
	return sb.String()
}
