package gw376

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/feegate/feegate/protocol"
)

// ERCDef is one event record layout of Appendix B (事件记录): the event code ERC and the
// layouts its content may have, distinguished by the record length Le.
type ERCDef struct {
	Code  uint8
	Name  string
	Label string
	// Layouts maps a content length Le to its fields. A record whose Le has no layout is
	// kept raw.
	Layouts map[int][]Field
}

// Layout fields shared by many records.
var (
	ercTime    = Field{Name: "time", Label: "time of the event (发生时间)", Format: a15Format}
	ercGroupPn = Field{Name: "group", Format: bitFields("BIN", 1,
		bitPart{name: "pn", label: "total-adding group (总加组号)", width: 6})}
	ercMeterPn = Field{Name: "point", Format: bitFields("BIN", 2,
		bitPart{name: "pn", label: "measurement point (测量点号)", width: 12},
		bitPart{name: "start", label: "1 = occurred, 0 = restored (起/止标志)", shift: 15, width: 1})}
)

var ercTable = map[uint8]*ERCDef{}

func registerERC(defs ...*ERCDef) {
	for _, d := range defs {
		ercTable[d.Code] = d
	}
}

// LookupERC returns the layout of event code erc, or nil.
func LookupERC(erc uint8) *ERCDef { return ercTable[erc] }

// ercNames lists every code of table B.1 with its English and Chinese name.
var ercNames = map[uint8][2]string{
	1: {"data initialisation and version change", "数据初始化和版本变更"},
	2: {"parameter loss", "参数丢失"}, 3: {"parameter change", "参数变更"},
	4: {"status input change", "状态量变位"}, 5: {"remote-control trip", "遥控跳闸"},
	6: {"power-control trip", "功控跳闸"}, 7: {"energy-control trip", "电控跳闸"},
	8: {"meter parameter change", "电能表参数变更"}, 9: {"current circuit fault", "电流回路异常"},
	10: {"voltage circuit fault", "电压回路异常"}, 11: {"phase sequence fault", "相序异常"},
	12: {"meter clock deviation", "电能表时间超差"}, 13: {"meter fault", "电表故障信息"},
	14: {"terminal power off/on", "终端停/上电"}, 15: {"harmonic limit", "谐波越限告警"},
	16: {"DC analogue limit", "直流模拟量越限"}, 17: {"unbalance limit", "电压/电流不平衡越限"},
	18: {"capacitor lock", "电容器投切自锁"}, 19: {"purchase parameter set", "购电参数设置"},
	20: {"message authentication error", "消息认证错误"}, 21: {"terminal fault", "终端故障"},
	22: {"energy differential limit", "有功总电能量差动越限"}, 23: {"energy-control alarm", "电控告警"},
	24: {"voltage limit", "电压越限"}, 25: {"current limit", "电流越限"},
	26: {"apparent power limit", "视在功率越限"}, 27: {"meter reading decrease", "电能表示度下降"},
	28: {"energy deviation", "电能量超差"}, 29: {"meter running fast", "电能表飞走"},
	30: {"meter stopped", "电能表停走"}, 31: {"RS-485 reading failure", "终端485抄表失败"},
	32: {"traffic limit", "终端与主站通信流量超门限"},
	33: {"meter status word change", "电能表运行状态字变位"}, 34: {"CT fault", "CT异常"},
	35: {"unknown meter found", "发现未知电表"},
	36: {"control output switch change", "控制输出回路开关接入状态量变位"},
	37: {"meter cover opened", "电能表开表盖"}, 38: {"terminal cover opened", "电能表开端钮盒"},
	39: {"re-reading failure", "补抄失败"},
	// NOTE: table B.1 names ERC40 "slave node report" while its own section describes a
	// magnetic-field event; both names are kept.
	40: {"slave node report / magnetic field fault", "从节点主动上报/磁场异常"},
	41: {"clock set", "对时事件"},
}

// ERCName returns the English and Chinese name of an event code, or "reserved".
func ERCName(erc uint8) (string, string) {
	if n, ok := ercNames[erc]; ok {
		return n[0], n[1]
	}
	return "reserved", "备用"
}

func init() {
	registerERC(
		&ERCDef{Code: 1, Layouts: map[int][]Field{14: {
			ercTime,
			{Name: "flags", Label: "D0 initialised, D1 version changed (事件标志)", Format: bs8},
			{Name: "version_before", Label: "software version before", Format: asciiFormat(4)},
			{Name: "version_after", Label: "software version after", Format: asciiFormat(4)},
		}}},
		&ERCDef{Code: 2, Layouts: map[int][]Field{6: {
			ercTime,
			{Name: "flags", Label: "D0 terminal, D1 point parameters lost", Format: bs8},
		}}},
		&ERCDef{Code: 4, Layouts: map[int][]Field{7: {
			ercTime,
			{Name: "changed", Label: "inputs that changed (状态变位)", Format: bs8},
			{Name: "state", Label: "state after the change (变位后状态)", Format: bs8},
		}}},
		&ERCDef{Code: 5, Layouts: map[int][]Field{10: {
			{Name: "time", Label: "trip time (跳闸时间)", Format: a15Format},
			{Name: "turns", Label: "tripped turns D0-D7 = 1-8 (跳闸轮次)", Format: bs8},
			{Name: "power_kw", Label: "power at the trip (跳闸时功率)", Format: a2Format, Unit: "kW"},
			{Name: "power_after_2min_kw", Label: "power 2 minutes after the trip", Format: a2Format,
				Unit: "kW"},
		}}},
		&ERCDef{Code: 6, Layouts: map[int][]Field{14: {
			{Name: "time", Label: "trip time (跳闸时间)", Format: a15Format},
			ercGroupPn,
			{Name: "turns", Label: "tripped turns (跳闸轮次)", Format: bs8},
			{Name: "control_kind", Label: "D0 period, D1 rest day, D2 shutdown, D3 float (功控类别)",
				Format: bs8},
			{Name: "power_before_kw", Label: "power before the trip", Format: a2Format, Unit: "kW"},
			{Name: "power_after_2min_kw", Label: "power 2 minutes after the trip", Format: a2Format,
				Unit: "kW"},
			{Name: "setpoint_kw", Label: "power setpoint at the trip", Format: a2Format,
				Unit: "kW"},
		}}},
		&ERCDef{Code: 7, Layouts: map[int][]Field{16: {
			{Name: "time", Label: "trip time (跳闸时间)", Format: a15Format},
			ercGroupPn,
			{Name: "turns", Label: "tripped turns (跳闸轮次)", Format: bs8},
			{Name: "control_kind", Label: "D0 monthly, D1 purchase control (电控类别)", Format: bs8},
			{Name: "energy", Label: "energy at the trip", Format: a3Format, Unit: "kWh or li"},
			{Name: "setpoint", Label: "energy setpoint", Format: a3Format, Unit: "kWh or li"},
		}}},
		&ERCDef{Code: 13, Layouts: map[int][]Field{8: {
			ercTime, ercMeterPn,
			{Name: "flags", Label: "meter fault flags (异常标志)", Format: bs8},
		}}},
		// ERC14 has two layouts: the standard one (Le 10), and the one with a leading
		// attribute byte (Le 11) that terminals send after a 2014 SGCC marketing notice.
		&ERCDef{Code: 14, Layouts: map[int][]Field{
			10: {
				{Name: "power_off", Label: "power-off time (停电发生时间)", Format: a15Format},
				{Name: "power_on", Label: "power-on time (上电时间)", Format: a15Format},
			},
			11: {
				{Name: "attribute", Label: "D0 valid, D1 invalid (属性标志)", Format: bs8},
				{Name: "power_off", Label: "power-off time (停电发生时间)", Format: a15Format},
				{Name: "power_on", Label: "power-on time (上电时间)", Format: a15Format},
			},
		}},
		&ERCDef{Code: 19, Layouts: map[int][]Field{31: {
			{Name: "time", Label: "setting time (购电能量设置时间)", Format: a15Format},
			ercGroupPn,
			{Name: "order", Label: "purchase order number (购电单号)", Format: bin4},
			{Name: "mode", Label: "55 append, AA refresh (追加/刷新标志)", Format: bin1},
			{Name: "amount", Label: "purchased energy or fee (购电量值)", Format: a3Format,
				Unit: "kWh or li"},
			{Name: "alarm_threshold", Label: "alarm threshold (报警门限)", Format: a3Format,
				Unit: "kWh or li"},
			{Name: "trip_threshold", Label: "trip threshold (跳闸门限)", Format: a3Format,
				Unit: "kWh or li"},
			{Name: "balance_before", Label: "balance before the purchase", Format: a3Format,
				Unit: "kWh or li"},
			{Name: "balance_after", Label: "balance after the purchase", Format: a3Format,
				Unit: "kWh or li"},
		}}},
		&ERCDef{Code: 20, Layouts: map[int][]Field{22: {
			ercTime,
			{Name: "pw", Label: "message authentication code PW", Format: rawFormat(16)},
			{Name: "msa", Label: "master address MSA", Format: bin1},
		}}},
		&ERCDef{Code: 21, Layouts: map[int][]Field{6: {
			ercTime,
			{Name: "fault",
				Label:  "1 memory, 2 clock, 3 board link, 4 RS-485, 5 display, 6 carrier",
				Format: bin1},
		}}},
		&ERCDef{Code: 23, Layouts: map[int][]Field{16: {
			{Name: "time", Label: "alarm time (告警时间)", Format: a15Format},
			ercGroupPn,
			{Name: "turns", Label: "engaged turns (投入轮次)", Format: bs8},
			{Name: "control_kind", Label: "D0 monthly, D1 purchase control (电控类别)", Format: bs8},
			{Name: "energy", Label: "energy at the alarm", Format: a3Format, Unit: "kWh or li"},
			{Name: "setpoint", Label: "energy-control setpoint", Format: a3Format,
				Unit: "kWh or li"},
		}}},
		&ERCDef{Code: 31, Layouts: map[int][]Field{21: {
			ercTime, ercMeterPn,
			{Name: "last_success", Label: "last successful reading", Format: a15Format},
			{Name: "forward_active_kwh", Label: "forward active energy then", Format: a14Format,
				Unit: "kWh"},
			{Name: "forward_reactive_kvarh", Label: "forward reactive energy then",
				Format: a11Format,
				Unit:   "kvarh"},
		}}},
		&ERCDef{Code: 33, Layouts: map[int][]Field{35: {
			ercTime, ercMeterPn,
			{Name: "change_flags", Label: "status word change flags 1-7 (变位标志)", Times: 7,
				Items: []Field{{Name: "flags", Format: bs16}}},
			{Name: "status_words", Label: "status words 1-7 (运行状态字)", Times: 7,
				Items: []Field{{Name: "word", Format: bs16}}},
		}}},
		&ERCDef{Code: 41, Layouts: map[int][]Field{14: {
			{Name: "point", Format: bitFields("BIN", 2,
				bitPart{name: "pn", label: "point, 0 = terminal (测量点号)", width: 12})},
			{Name: "before", Label: "time before setting (对时前时间)", Format: a1Format},
			{Name: "after", Label: "time after setting (对时后时间)", Format: a1Format},
		}}},
	)
	for code, def := range ercTable {
		def.Name, def.Label = ERCName(code)
	}
}

// ercListFormat is the event records of an AFN0E reply: ERC, Le and Le bytes of content,
// to the end of the unit. Content is decoded when its ERC and Le have a layout, else kept
// raw; invalid BCD inside a record marks that field only.
var ercListFormat = &Format{
	Name: "event records",
	list: true,
	dec:  decodeERCList,
	enc:  encodeERCList,
}

func decodeERCList(b []byte) decoded {
	var items []Node
	p := 0
	for p < len(b) {
		if len(b)-p < 2 {
			return decoded{n: p, items: items, err: protocol.Errorf(protocol.ErrShortFrame, p,
				int64(len(b)-p), "event record header needs 2 bytes")}
		}
		code, le := b[p], int(b[p+1])
		if len(b)-p-2 < le {
			return decoded{n: p, items: items, err: protocol.Errorf(protocol.ErrShortFrame, p,
				int64(len(b)-p-2), "ERC%d record announces %d content bytes", code, le)}
		}
		name, label := ERCName(code)
		content := b[p+2 : p+2+le]
		item := Node{Name: strconv.Itoa(len(items) + 1), Offset: p, Raw: b[p : p+2+le]}
		item.Fields = []Node{
			{Name: "erc", Label: "event code ERC", Format: "BIN", Offset: p, Raw: b[p : p+1],
				Value: json.Number(strconv.Itoa(int(code))), Note: name + " (" + label + ")"},
			{Name: "name", Label: "event name", Offset: p, Value: name},
			{Name: "length", Label: "record length Le", Format: "BIN", Offset: p + 1,
				Raw: b[p+1 : p+2], Value: json.Number(strconv.Itoa(le))},
		}
		contentNode := Node{Name: "content", Label: "record content", Offset: p + 2, Raw: content}
		def := LookupERC(code)
		var layout []Field
		if def != nil {
			layout = def.Layouts[le]
		}
		if layout != nil {
			fields, _, err := decodeFields(layout, content, p+2)
			contentNode.Fields = fields
			contentNode.Err = err
		} else {
			contentNode.Value = strings.ToUpper(hex.EncodeToString(content))
			contentNode.Format = "BIN"
			if def != nil {
				contentNode.Note = "no layout for Le " + strconv.Itoa(le) + ": kept raw"
			}
		}
		item.Fields = append(item.Fields, contentNode)
		items = append(items, item)
		p += 2 + le
	}
	return decoded{n: p, items: items}
}

func encodeERCList(dst []byte, v any) ([]byte, error) {
	list, err := listOf(v)
	if err != nil {
		return dst, err
	}
	for _, rec := range list {
		code, ok := intOf(rec, "erc")
		if !ok || code < 0 || code > 255 {
			return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
				"event record without a valid erc")
		}
		content, _ := lookup(rec, "content")
		var body []byte
		switch c := content.(type) {
		case string:
			body, err = hexValue(c)
		default:
			body, err = encodeERCContent(uint8(code), rec, c)
		}
		if err != nil {
			return dst, err
		}
		if len(body) > 255 {
			return dst, protocol.Errorf(protocol.ErrBadLength, -1, int64(len(body)),
				"ERC%d content over 255 bytes", code)
		}
		dst = append(dst, byte(code), byte(len(body)))
		dst = append(dst, body...)
	}
	return dst, nil
}

// encodeERCContent encodes structured content by the layout whose Le the record names, or
// by the only layout of its code.
func encodeERCContent(code uint8, rec, content any) ([]byte, error) {
	def := LookupERC(code)
	if def == nil {
		return nil, protocol.Errorf(protocol.ErrUnknownIdentifier, -1, int64(code),
			"ERC%d has no layout: give its content as hex", code)
	}
	le, hasLe := intOf(rec, "length")
	layout, ok := def.Layouts[le]
	if !hasLe || !ok {
		if len(def.Layouts) != 1 {
			return nil, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(le),
				"ERC%d: length must name one of its layouts", code)
		}
		for _, l := range def.Layouts {
			layout = l
		}
	}
	return encodeFields(nil, layout, content)
}
