package gw376

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/feegate/feegate/protocol"
)

// bitPart is one bit field of a byte or word: width bits from shift. The decoded value is
// the raw number plus add, values[raw] when values is set, or names[raw] when names is set.
type bitPart struct {
	name   string
	label  string
	shift  uint
	width  uint
	add    int64
	values []int64
	names  []string
	unit   string
}

// bitFields is a format of size bytes (little-endian) split into named bit fields.
func bitFields(name string, size int, parts ...bitPart) *Format {
	return &Format{
		Name: name,
		Size: size,
		dec: func(b []byte) decoded {
			word := leUint(b[:size])
			var nodes []Node
			for _, p := range parts {
				raw := int64(word>>p.shift) & (1<<p.width - 1)
				n := Node{Name: p.name, Label: p.label, Raw: b[:size], Unit: p.unit}
				switch {
				case p.names != nil:
					if raw < int64(len(p.names)) {
						n.Value = p.names[raw]
					} else {
						n.Err = protocol.Errorf(protocol.ErrInvalidValue, -1, raw, "%s code",
							p.name)
					}
				case p.values != nil:
					if raw < int64(len(p.values)) && p.values[raw] >= 0 {
						n.Value = json.Number(strconv.FormatInt(p.values[raw], 10))
					} else {
						n.Err = protocol.Errorf(protocol.ErrInvalidValue, -1, raw, "%s code",
							p.name)
					}
				default:
					n.Value = json.Number(strconv.FormatInt(raw+p.add, 10))
				}
				nodes = append(nodes, n)
			}
			return decoded{fields: nodes,
				note: "0x" + strings.ToUpper(hex.EncodeToString(b[:size]))}
		},
		enc: func(dst []byte, v any) ([]byte, error) {
			var word uint64
			for _, p := range parts {
				x, ok := lookup(v, p.name)
				if !ok {
					return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
						"bit field %s missing", p.name)
				}
				raw, err := bitPartRaw(p, x)
				if err != nil {
					return dst, err
				}
				if raw < 0 || raw >= 1<<p.width {
					return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, raw,
						"bit field %s does not fit %d bits", p.name, p.width)
				}
				word |= uint64(raw) << p.shift
			}
			for i := 0; i < size; i++ {
				dst = append(dst, byte(word>>(8*i)))
			}
			return dst, nil
		},
	}
}

func bitPartRaw(p bitPart, x any) (int64, error) {
	if p.names != nil {
		s, _ := x.(string)
		for i, n := range p.names {
			if n == s {
				return int64(i), nil
			}
		}
		return 0, protocol.Errorf(protocol.ErrInvalidValue, -1, 0, "%s %v is not one of %v", p.name,
			x,
			p.names)
	}
	neg, n, err := parseDecimal(x, 0)
	if err != nil {
		return 0, err
	}
	v := int64(n)
	if neg {
		v = -v
	}
	if p.values != nil {
		for i, want := range p.values {
			if want == v && want >= 0 {
				return int64(i), nil
			}
		}
		return 0, protocol.Errorf(protocol.ErrInvalidValue, -1, v, "%s %d is not a valid choice",
			p.name,
			v)
	}
	return v - p.add, nil
}

// idFormat is a data-unit identifier written as documents do: "p0 F1", "p1,p2 F3,F4" or
// "all F1" for DA FF 00.
var idFormat = &Format{
	Name: "DA DT",
	Size: IDLen,
	dec: func(b []byte) decoded {
		id := IDFromWire(b)
		s, err := IDString(id)
		if err != nil {
			return decoded{err: err}
		}
		return decoded{value: s}
	},
	enc: func(dst []byte, v any) ([]byte, error) {
		s, _ := v.(string)
		id, err := ParseID(s)
		if err != nil {
			return dst, err
		}
		return id.Append(dst), nil
	},
}

// IDString returns id as "p1,p2 F3,F4".
func IDString(id ID) (string, error) {
	pns, err := id.DA.AppendPns(nil)
	if err != nil {
		return "", err
	}
	fns, err := id.DT.AppendFns(nil)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for i, pn := range pns {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(PnString(pn))
	}
	sb.WriteByte(' ')
	if len(fns) == 0 {
		sb.WriteString("none")
	}
	for i, fn := range fns {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString("F" + strconv.Itoa(int(fn)))
	}
	return sb.String(), nil
}

// ParseID parses the form IDString writes.
func ParseID(s string) (ID, error) {
	var id ID
	pnPart, fnPart, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return id, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
			"identifier %q must read like \"p1 F25\"", s)
	}
	for _, p := range strings.Split(pnPart, ",") {
		var pn uint16
		if p == "all" {
			pn = PnAll
		} else {
			n, err := strconv.Atoi(strings.TrimPrefix(p, "p"))
			if err != nil || !strings.HasPrefix(p, "p") || n < 0 || n > MaxPn {
				return id, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
					"identifier %q: invalid point %q",
					s, p)
			}
			pn = uint16(n)
		}
		if err := id.DA.Add(pn); err != nil {
			return id, err
		}
	}
	if fnPart == "none" {
		return id, nil
	}
	for _, f := range strings.Split(fnPart, ",") {
		n, err := strconv.Atoi(strings.TrimPrefix(f, "F"))
		if err != nil || !strings.HasPrefix(f, "F") || n < 1 || n > MaxFn {
			return id, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
				"identifier %q: invalid Fn %q", s, f)
		}
		if err := id.DT.Add(uint8(n)); err != nil {
			return id, err
		}
	}
	return id, nil
}

// ipFormat is an IPv4 address of 4 bytes, first octet first.
var ipFormat = &Format{
	Name: "BIN",
	Size: 4,
	dec: func(b []byte) decoded {
		return decoded{value: strconv.Itoa(int(b[0])) + "." + strconv.Itoa(int(b[1])) + "." +
			strconv.Itoa(int(b[2])) + "." + strconv.Itoa(int(b[3]))}
	},
	enc: func(dst []byte, v any) ([]byte, error) {
		s, _ := v.(string)
		parts := strings.Split(s, ".")
		if len(parts) != 4 {
			return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
				"IP address %v must have 4 octets",
				v)
		}
		for _, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n > 255 {
				return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
					"IP address %v: invalid octet %q",
					v, p)
			}
			dst = append(dst, byte(n))
		}
		return dst, nil
	},
}

// diFormat is a DL/T 645 data identifier of 4 bytes, low byte first on the wire, written DI3
// first as documents do ("04000503").
var diFormat = &Format{
	Name: "DI",
	Size: 4,
	dec: func(b []byte) decoded {
		return decoded{value: strings.ToUpper(hex.EncodeToString([]byte{b[3], b[2], b[1], b[0]}))}
	},
	enc: func(dst []byte, v any) ([]byte, error) {
		b, err := hexValue(v)
		if err != nil || len(b) != 4 {
			return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
				"DI %v must be 8 hex digits", v)
		}
		return append(dst, b[3], b[2], b[1], b[0]), nil
	},
}

// diDataFormat is the variable-length content of an AFN10 F9 reply: the DI then the data
// the meter returned for it.
var diDataFormat = &Format{
	Name: "DI + data",
	dec: func(b []byte) decoded {
		if len(b) == 0 {
			return decoded{fields: []Node{}, n: 0}
		}
		if len(b) < 4 {
			return decoded{n: len(b), err: protocol.Errorf(protocol.ErrBadLength, -1, int64(len(b)),
				"content shorter than its 4-byte DI")}
		}
		di := diFormat.dec(b)
		return decoded{n: len(b), fields: []Node{
			{Name: "di", Label: "data identifier", Format: "DI", Offset: 0, Raw: b[:4],
				Value: di.value},
			{Name: "data", Label: "data as the meter sent it", Format: "BIN", Offset: 4, Raw: b[4:],
				Value: strings.ToUpper(hex.EncodeToString(b[4:]))},
		}}
	},
	enc: func(dst []byte, v any) ([]byte, error) {
		di, ok := lookup(v, "di")
		if !ok {
			return dst, nil
		}
		dst, err := diFormat.enc(dst, di)
		if err != nil {
			return dst, err
		}
		data, _ := lookup(v, "data")
		if data == nil {
			return dst, nil
		}
		b, err := hexValue(data)
		if err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	},
}
