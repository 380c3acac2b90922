package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
)

// gwObject is the JSON object of one Q/GDW 376.1 frame, as the explain contract names it.
type gwObject struct {
	Protocol     string   `json:"protocol"`
	Terminal     string   `json:"terminal"`
	MSA          uint8    `json:"msa"`
	Group        bool     `json:"group"`
	Direction    string   `json:"direction"`
	PRM          bool     `json:"prm"`
	FunctionCode uint8    `json:"function_code"`
	Function     string   `json:"function"`
	AFN          string   `json:"afn"`
	AFNName      string   `json:"afn_name"`
	Seq          gwSeq    `json:"seq"`
	Units        []gwUnit `json:"units"`
	Aux          *gwAux   `json:"aux,omitempty"`
	// Surplus holds bytes after the last unit that cannot start an identifier.
	Surplus string `json:"surplus,omitempty"`
	// UnitsError is the reason the unit walk stopped early, and Rest holds the bytes not
	// decoded.
	UnitsError *gwError `json:"units_error,omitempty"`
	Rest       string   `json:"rest,omitempty"`
}

type gwSeq struct {
	TpV  bool  `json:"tpv"`
	FIR  bool  `json:"fir"`
	FIN  bool  `json:"fin"`
	CON  bool  `json:"con"`
	PSEQ uint8 `json:"pseq"`
}

type gwUnit struct {
	// Pn is the point number, or "all" for DA FF 00.
	Pn      any    `json:"pn"`
	Fn      uint8  `json:"fn"`
	Name    string `json:"name"`
	Data    any    `json:"data"`
	Warning string `json:"warning,omitempty"`
	// Note states what is uncertain about the unit's layout.
	Note string `json:"note,omitempty"`
}

type gwAux struct {
	PW string `json:"pw,omitempty"`
	EC *gwEC  `json:"ec,omitempty"`
	Tp any    `json:"tp,omitempty"`
}

type gwEC struct {
	Important uint8 `json:"important"`
	General   uint8 `json:"general"`
}

type gwError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// gwLine is one line of the person-readable breakdown.
type gwLine struct {
	indent  int
	off, n  int
	name    string
	meaning string
	// nested is text placed under the line, such as an embedded DL/T 645 breakdown.
	nested string
	// secret hides the raw bytes of a password or key; below leaves them to the nested
	// breakdown.
	secret bool
	below  bool
}

// explainGW376 decodes one Q/GDW 376.1 frame.
func explainGW376(raw []byte, opt explainOptions) (explanation, error) {
	f, err := gw376.Decode(raw)
	if err != nil {
		return explanation{}, err
	}
	x := &gwExplainer{f: f, raw: raw, opt: opt}
	x.header()
	x.units()
	x.aux()
	x.lines = append(x.lines,
		gwLine{off: len(raw) - 2, n: 1, name: "checksum CS 校验和", meaning: "valid"},
		gwLine{off: len(raw) - 1, n: 1, name: "end 结束字符"})
	return explanation{object: x.obj, text: x.text()}, nil
}

type gwExplainer struct {
	f     *gw376.Frame
	raw   []byte
	opt   explainOptions
	obj   gwObject
	lines []gwLine
}

const gwDataStart = 14

func (x *gwExplainer) header() {
	f := x.f
	c := f.Control
	x.obj = gwObject{
		Protocol:     "gw376",
		Terminal:     f.Address.String(),
		MSA:          f.A3.MSA,
		Group:        f.A3.Group,
		Direction:    f.Dir().String(),
		PRM:          c.PRM,
		FunctionCode: uint8(c.Func),
		Function:     gw376.FunctionName(c.PRM, c.Func),
		AFN:          fmt.Sprintf("%02X", byte(f.AFN)),
		AFNName:      f.AFN.String(),
		Seq: gwSeq{TpV: f.Seq.TpV, FIR: f.Seq.FIR, FIN: f.Seq.FIN, CON: f.Seq.CON,
			PSEQ: f.Seq.Num},
		Units: []gwUnit{},
	}
	l1 := len(x.raw) - gw376.Overhead
	dir := "downlink (master to terminal)"
	if c.Up {
		dir = "uplink (terminal to master)"
	}
	ctl := []string{dir, "PRM=" + bit(c.PRM)}
	if c.Up {
		ctl = append(ctl, "ACD="+bit(c.ACD))
	} else {
		ctl = append(ctl, "FCB="+bit(c.FCB))
	}
	ctl = append(ctl, "FCV="+bit(c.FCV), fmt.Sprintf("function %d %s", c.Func, x.obj.Function))
	addr := fmt.Sprintf("A1 %04d", f.Address.A1)
	a2 := fmt.Sprintf("A2 %04X", f.Address.A2)
	if f.Address.A2 == protocol.BroadcastA2 && f.A3.Group {
		a2 += " (broadcast 广播)"
	}
	a3 := fmt.Sprintf("MSA %d, group flag %s", f.A3.MSA, bit(f.A3.Group))
	seq := fmt.Sprintf("TpV=%s FIR=%s FIN=%s CON=%s, PSEQ/RSEQ %d", bit(f.Seq.TpV), bit(f.Seq.FIR),
		bit(f.Seq.FIN), bit(f.Seq.CON), f.Seq.Num)
	x.lines = append(x.lines,
		gwLine{off: 0, n: 1, name: "start 起始字符"},
		gwLine{off: 1, n: 2, name: "L 长度", meaning: fmt.Sprintf("L1 = %d, protocol id 10 (376.1)",
			l1)},
		gwLine{off: 3, n: 2, name: "L 长度", meaning: "same as the first L"},
		gwLine{off: 5, n: 1, name: "start 起始字符"},
		gwLine{off: 6, n: 1, name: "control C 控制域", meaning: strings.Join(ctl, ", ")},
		gwLine{off: 7, n: 2, name: "A1 行政区划码", meaning: addr},
		gwLine{off: 9, n: 2, name: "A2 终端地址", meaning: a2},
		gwLine{off: 11, n: 1, name: "A3 主站地址和组地址标志", meaning: a3},
		gwLine{off: 12, n: 1, name: "AFN 应用层功能码", meaning: x.obj.AFN + " " + x.obj.AFNName},
		gwLine{off: 13, n: 1, name: "SEQ 帧序列域", meaning: seq},
	)
}

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (x *gwExplainer) units() {
	us := x.f.Units()
	lastID := -1
	for _, u := range us.List {
		if u.IDOffset != lastID {
			lastID = u.IDOffset
			id := gw376.IDFromWire(x.f.Data[u.IDOffset:])
			s, _ := gw376.IDString(id)
			x.lines = append(x.lines, gwLine{off: gwDataStart + u.IDOffset, n: gw376.IDLen,
				name: "DA DT 数据单元标识", meaning: s})
		}
		var pn any = u.Pn
		if u.Pn == gw376.PnAll {
			pn = "all"
		}
		if !x.opt.showSecrets {
			gw376.MaskSecrets(u.Fields, masked)
		}
		data := gw376.ObjectOf(u.Fields)
		title := fmt.Sprintf("%s F%d %s (%s)", gw376.PnString(u.Pn), u.Fn, u.Def.Name, u.Def.Label)
		if u.Def.Edition != 0 {
			title += fmt.Sprintf(", %d edition", u.Def.Edition)
		}
		if u.Warning != "" {
			title += ": " + u.Warning
		}
		if u.Def.Note != "" {
			title += " (note: " + u.Def.Note + ")"
		}
		x.lines = append(x.lines, gwLine{off: gwDataStart + u.Offset, name: title})
		nested := ""
		if x.f.AFN == gw376.AFNForward && u.Fn == 1 {
			data, nested = x.embedded(data)
		}
		x.nodeLines(u.Fields, 1, nested)
		x.obj.Units = append(x.obj.Units, gwUnit{Pn: pn, Fn: u.Fn, Name: u.Def.Name, Data: data,
			Warning: u.Warning, Note: u.Def.Note})
	}
	if len(us.Rest) == 0 {
		return
	}
	rest := fmt.Sprintf("%X", us.Rest)
	line := gwLine{off: gwDataStart + us.RestOffset, n: len(us.Rest)}
	if us.Err != nil {
		x.obj.UnitsError = &gwError{Code: codeOf(us.Err), Message: us.Err.Error()}
		x.obj.Rest = rest
		line.name, line.meaning = "not decoded 未解析", us.Err.Error()
	} else {
		x.obj.Surplus = rest
		line.name, line.meaning = "surplus 多余字节",
			"bytes after the last unit that start no identifier"
	}
	x.lines = append(x.lines, line)
}

func codeOf(err error) string {
	if c := protocol.Code(err); c != "" {
		return c
	}
	return "invalid_frame"
}

// embedded replaces the hex of an AFN10 F1 frame with the DL/T 645 object, and returns the
// 645 breakdown to indent under the frame's line. A frame that does not decode stays hex
// with the error beside it.
func (x *gwExplainer) embedded(data gw376.Object) (gw376.Object, string) {
	v, _ := data.Get("frame")
	s, _ := v.(string)
	if s == "" {
		return data, ""
	}
	raw, err := hex.DecodeString(s)
	if err != nil {
		return data, ""
	}
	e, err := explainDLT645(raw, x.opt)
	out := make(gw376.Object, 0, len(data)+1)
	for _, m := range data {
		if m.Key != "frame" {
			out = append(out, m)
			continue
		}
		if err != nil {
			if !x.opt.showSecrets {
				m = gw376.Member{Key: "frame", Value: maskedFrameHex(raw)}
			}
			out = append(out, m, gw376.Member{Key: "frame_error",
				Value: gwError{Code: codeOf(err), Message: err.Error()}})
			return out, "DL/T 645 frame does not decode: " + err.Error()
		}
		out = append(out, gw376.Member{Key: "frame", Value: e.object})
	}
	return out, e.text
}

// maskedFrameHex returns a DL/T 645 frame that failed to decode as hex, with its data field
// replaced by asterisks. The data of a relay control, a write or a password change
// contains a password, and an undecodable frame cannot show which kind it is. The bytes up
// to and including L stay, because they name the meter and the function.
func maskedFrameHex(raw []byte) string {
	start := 0
	for start < len(raw) && raw[start] == 0xFE {
		start++
	}
	keep := start + 10 // 68, six address bytes, 68, C, L
	if keep >= len(raw) {
		return strings.ToUpper(hex.EncodeToString(raw))
	}
	return strings.ToUpper(hex.EncodeToString(raw[:keep])) + strings.Repeat("*", 2*(len(raw)-keep))
}

// nodeLines adds one line per field; composite values list their parts, groups their
// entries indented. nested goes under the line of the field named "frame".
func (x *gwExplainer) nodeLines(nodes []gw376.Node, indent int, nested string) {
	for i := range nodes {
		n := &nodes[i]
		name := n.Name
		if n.Label != "" {
			name = n.Label
		}
		switch {
		case n.IsGroup:
			meaning := fmt.Sprintf("%d entries", len(n.Items))
			if n.Err != nil {
				meaning += ", then invalid: " + n.Err.Error()
			}
			x.lines = append(x.lines, gwLine{indent: indent, off: gwDataStart + n.Offset,
				name: name, meaning: meaning})
			for j := range n.Items {
				it := &n.Items[j]
				x.lines = append(x.lines, gwLine{indent: indent + 1, off: gwDataStart + it.Offset,
					name: "entry " + it.Name})
				x.nodeLines(it.Fields, indent+2, "")
			}
		case n.Raw == nil:
			// A derived value, such as an event's name, has no bytes of its own.
			continue
		case n.Err == nil && hasOwnParts(n):
			x.lines = append(x.lines, gwLine{indent: indent, off: gwDataStart + n.Offset,
				name: name, meaning: n.Note})
			x.nodeLines(n.Fields, indent+1, "")
		default:
			line := gwLine{indent: indent, off: gwDataStart + n.Offset, n: len(n.Raw),
				name: name, meaning: nodeMeaning(n), secret: n.Secret && !x.opt.showSecrets}
			if n.Name == "frame" && nested != "" {
				// The DL/T 645 breakdown below shows these bytes, with passwords masked.
				line.nested, line.below = nested, true
				line.meaning = fmt.Sprintf("%d-byte DL/T 645 frame, broken down below", len(n.Raw))
			}
			x.lines = append(x.lines, line)
		}
	}
}

// hasOwnParts reports whether n's fields sit in bytes of their own, as the fields of an
// event record do, rather than sharing n's bytes as the bit fields of a control word do.
func hasOwnParts(n *gw376.Node) bool {
	for _, p := range n.Fields {
		if p.Offset != n.Offset || len(p.Raw) != len(n.Raw) {
			return true
		}
	}
	return false
}

func nodeMeaning(n *gw376.Node) string {
	var parts []string
	switch {
	case n.Err != nil && allEE(n.Raw):
		parts = append(parts, "no data (EE, 缺数据)")
	case n.Err != nil:
		parts = append(parts, "invalid: "+n.Err.Error())
	case isValueUnitPair(n.Fields):
		// A duration coded as a count and its unit, such as the forward frame timeout.
		parts = append(parts, withUnit(n.Fields[0].Value, valueString(n.Fields[1].Value)))
	case n.Fields != nil:
		for _, p := range n.Fields {
			s := p.Name + "=" + withUnit(p.Value, p.Unit)
			if p.Err != nil {
				s = p.Name + " invalid"
			}
			parts = append(parts, s)
		}
	default:
		parts = append(parts, withUnit(n.Value, n.Unit))
	}
	if n.Note != "" {
		parts = append(parts, "("+n.Note+")")
	}
	if n.Format != "" && n.Format != "BIN" {
		parts = append(parts, "["+n.Format+"]")
	}
	return strings.Join(parts, " ")
}

// allEE reports whether b is the EE filler that marks a missing value.
func allEE(b []byte) bool {
	for _, c := range b {
		if c != 0xEE {
			return false
		}
	}
	return len(b) > 0
}

func valueString(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case json.Number:
		return string(t)
	case string:
		return t
	}
	return fmt.Sprint(v)
}

func (x *gwExplainer) aux() {
	f := x.f
	p := gwDataStart + len(f.Data)
	var a gwAux
	has := false
	if f.HasPW() {
		a.PW = fmt.Sprintf("%X", f.PW)
		x.lines = append(x.lines, gwLine{off: p, n: gw376.PWLen, name: "PW 消息认证码",
			meaning: "message authentication code (all zero with scheme 0)"})
		p += gw376.PWLen
		has = true
	}
	if f.HasEC() {
		a.EC = &gwEC{Important: f.EC.Important, General: f.EC.General}
		x.lines = append(x.lines, gwLine{off: p, n: gw376.ECLen, name: "EC 事件计数器",
			meaning: fmt.Sprintf("important %d, general %d", f.EC.Important, f.EC.General)})
		p += gw376.ECLen
		has = true
	}
	if f.HasTp() {
		tp := gw376.Object{{Key: "pfc", Value: f.Tp.PFC}}
		sent := ""
		if d, h, m, s, err := f.Tp.SentClock(); err == nil {
			sent = fmt.Sprintf("%02dT%02d:%02d:%02d", d, h, m, s)
			tp = append(tp, gw376.Member{Key: "sent", Value: sent})
		} else {
			tp = append(tp, gw376.Member{Key: "sent", Value: nil},
				gw376.Member{Key: "sent_raw", Value: fmt.Sprintf("%X", f.Tp.Sent)})
			sent = "invalid"
		}
		tp = append(tp, gw376.Member{Key: "delay_min", Value: f.Tp.DelayMin})
		a.Tp = tp
		delay := fmt.Sprintf("allowed delay %d min", f.Tp.DelayMin)
		if f.Tp.DelayMin == 0 {
			delay = "delay not checked"
		}
		x.lines = append(x.lines, gwLine{off: p, n: gw376.TpLen, name: "Tp 时间标签",
			meaning: fmt.Sprintf("PFC %d, sent %s, %s", f.Tp.PFC, sent, delay)})
		has = true
	}
	if has {
		x.obj.Aux = &a
	}
}

// text renders the breakdown: offset range, raw bytes, field and meaning.
func (x *gwExplainer) text() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "gw376 %s terminal %s, %d bytes: AFN %s %s, %s\n", x.obj.Direction,
		x.obj.Terminal, len(x.raw), x.obj.AFN, x.obj.AFNName, x.obj.Function)
	for _, l := range x.lines {
		rng := fmt.Sprint(l.off)
		if l.n > 1 {
			rng = fmt.Sprintf("%d-%d", l.off, l.off+l.n-1)
		}
		raw := ""
		switch {
		case l.secret:
			raw = strings.TrimSpace(strings.Repeat("** ", min(l.n, 15)))
		case l.below:
			raw = "(below)"
		case l.n > 0:
			raw = fmt.Sprintf("% X", x.raw[l.off:l.off+l.n])
			if len(raw) > 47 {
				raw = raw[:44] + "..."
			}
		}
		pad := strings.Repeat("  ", l.indent)
		fmt.Fprintf(&sb, "  %-9s %-47s %s%s", rng, raw, pad, l.name)
		if l.meaning != "" {
			fmt.Fprintf(&sb, ": %s", l.meaning)
		}
		sb.WriteByte('\n')
		if l.nested != "" {
			for _, nl := range strings.Split(strings.TrimRight(l.nested, "\n"), "\n") {
				fmt.Fprintf(&sb, "      | %s\n", nl)
			}
		}
	}
	if e := x.obj.UnitsError; e != nil {
		fmt.Fprintf(&sb, "  units error (%s): %s\n", e.Code, e.Message)
	}
	return sb.String()
}
