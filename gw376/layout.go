package gw376

import (
	"encoding/hex"
	"encoding/json"
	"math/bits"
	"strconv"
	"strings"

	"github.com/feegate/feegate/protocol"
)

// Field is one row of a data-unit layout: a value in a Format, a repeated group of fields,
// or a run of bytes whose length another field gives.
type Field struct {
	// Name is the snake_case key of the field in decoded output and encoder input.
	Name string
	// Label is the English name with the Chinese name engineers search for, if any.
	Label string
	// Format is the data format of a value field; nil for groups.
	Format *Format
	// Unit is the physical unit of the value, such as "kWh".
	Unit string

	// Items is the layout of one entry of a repeated group. The number of entries is
	// CountFrom's value plus CountAdd, or Times, or as many as fit when ToEnd is set.
	Items     []Field
	CountFrom string
	CountAdd  int
	Times     int
	ToEnd     bool
	// CountBits counts the set bits of CountFrom's value instead of using the value, as
	// for the per-group blocks that a bit mask announces.
	CountBits bool
	// CountMax, when set, treats a CountFrom value above it as 0, as AFN10 F9 reads relay
	// count FF ("no route given").
	CountMax int

	// LenFrom names an earlier field whose value is this field's length in bytes. The
	// field is then that many raw bytes, or that many bytes of a variable-length Format.
	LenFrom string
	// Optional fields are decoded only when enough bytes remain, as the 2013 heartbeat
	// clock that 2009 terminals leave out.
	Optional bool
	// Secret marks a password or key, which output for people must mask.
	Secret bool
}

// Node is one decoded field.
type Node struct {
	Name  string
	Label string
	// Format is the format name ("A.15", "BIN", ...); empty for groups.
	Format string
	// Offset is the position of the field's first byte in the frame's data-unit area.
	Offset int
	Raw    []byte
	// Value is the decoded value (json.Number, string, bool) or nil for groups and for
	// invalid bytes, in which case Err holds the reason.
	Value any
	Unit  string
	// Note is a reading aid for people, such as the set bits of a bit string.
	Note string
	Err  error
	// Fields are the parts of a composite value; Items the entries of a group, each a
	// Node whose Fields are the entry's fields.
	Fields []Node
	Items  []Node
	// IsGroup marks a repeated group, which is an array even when it has no entries.
	IsGroup bool
	// Secret marks a password or key (see Field.Secret).
	Secret bool
	// UnitFlag is set when an A.3 value has G=1, so Unit is MWh or yuan instead of the
	// field's kWh or li.
	UnitFlag bool
}

// FindNode returns the first node named name among nodes, or nil.
func FindNode(nodes []Node, name string) *Node {
	for i := range nodes {
		if nodes[i].Name == name {
			return &nodes[i]
		}
	}
	return nil
}

// Int returns the node's value as an integer, or false when it has none.
func (n *Node) Int() (int64, bool) {
	num, ok := n.Value.(json.Number)
	if !ok {
		return 0, false
	}
	v, err := num.Int64()
	return v, err == nil
}

// decodeFields decodes layout from b, whose first byte sits at offset base of the data-unit
// area. It returns the nodes and the bytes used, or an error when b is too short or a count
// cannot be read. Invalid BCD inside a field is not an error: the node carries it.
func decodeFields(layout []Field, b []byte, base int) ([]Node, int, error) {
	nodes := make([]Node, 0, len(layout))
	p := 0
	for i := range layout {
		fd := &layout[i]
		switch {
		case fd.Items != nil:
			g, n, err := decodeGroup(fd, nodes, b[p:], base+p)
			nodes = append(nodes, g)
			if err != nil {
				return nodes, p + n, err
			}
			p += n
		default:
			size := 0
			if fd.Format != nil {
				size = fd.Format.Size
			}
			if fd.LenFrom != "" {
				ln, err := countOf(nodes, fd.LenFrom)
				if err != nil {
					return nodes, p, err
				}
				size = ln
			}
			if fd.Optional && len(b)-p < size {
				continue
			}
			if len(b)-p < size {
				return nodes, p, protocol.Errorf(protocol.ErrShortFrame, base+p, int64(len(b)-p),
					"field %s needs %d bytes", fd.Name, size)
			}
			node := Node{Name: fd.Name, Label: fd.Label, Offset: base + p, Unit: fd.Unit,
				Secret: fd.Secret}
			var d decoded
			switch {
			case fd.Format == nil:
				d = decoded{value: strings.ToUpper(hex.EncodeToString(b[p : p+size]))}
			case fd.Format.Size == 0:
				end := len(b)
				if fd.LenFrom != "" {
					end = p + size
				}
				d = fd.Format.dec(b[p:end])
				size = d.n
				if d.err != nil {
					// The bytes that did not decode belong to this field, not to the
					// next unit.
					size = end - p
				}
			default:
				d = fd.Format.dec(b[p : p+size])
			}
			if fd.Format != nil {
				node.Format = fd.Format.Name
			}
			node.Raw = b[p : p+size]
			node.Value, node.Fields, node.Items, node.Note, node.Err = d.value, d.fields, d.items,
				d.note,
				d.err
			if d.err != nil {
				node.Value = nil
			}
			node.IsGroup = fd.Format != nil && fd.Format.list
			if d.unit == "G1" {
				node.Unit = alternateUnit(fd.Unit)
				node.UnitFlag = true
			}
			shiftNodes(node.Fields, base+p)
			shiftNodes(node.Items, base+p)
			nodes = append(nodes, node)
			p += size
		}
	}
	return nodes, p, nil
}

// MaskSecrets replaces the value of every secret node in nodes, at any depth, with mask
// and clears its error, so that output built from the nodes carries no password or key.
func MaskSecrets(nodes []Node, mask string) {
	for i := range nodes {
		n := &nodes[i]
		if n.Secret {
			n.Value, n.Err, n.Fields = mask, nil, nil
		}
		MaskSecrets(n.Fields, mask)
		for j := range n.Items {
			MaskSecrets(n.Items[j].Fields, mask)
		}
	}
}

// shiftNodes moves offsets that a format computed relative to its own bytes.
func shiftNodes(nodes []Node, by int) {
	for i := range nodes {
		nodes[i].Offset += by
		shiftNodes(nodes[i].Fields, by)
		shiftNodes(nodes[i].Items, by)
	}
}

// hasAlternateUnit reports whether obj gives the A.3 field fd in the unit that G=1
// selects, through the "_unit" sibling that ObjectOf writes.
func hasAlternateUnit(obj any, fd *Field) bool {
	u, ok := lookup(obj, fd.Name+"_unit")
	return ok && u == alternateUnit(fd.Unit) && u != fd.Unit
}

// alternateUnit returns the unit that A.3's G=1 selects.
func alternateUnit(u string) string {
	switch u {
	case "kWh":
		return "MWh"
	case "kvarh":
		return "Mvarh"
	case "li":
		return "yuan"
	case "kWh or li":
		return "MWh or yuan"
	}
	return u
}

func decodeGroup(fd *Field, siblings []Node, b []byte, base int) (Node, int, error) {
	g := Node{Name: fd.Name, Label: fd.Label, Offset: base, IsGroup: true}
	count := fd.Times
	if fd.CountFrom != "" {
		n, err := countOf(siblings, fd.CountFrom)
		if err != nil {
			return g, 0, err
		}
		if fd.CountBits {
			n = bits.OnesCount64(uint64(n))
		}
		if fd.CountMax > 0 && n > fd.CountMax {
			n = 0
		}
		count = n + fd.CountAdd
	}
	p := 0
	for i := 0; fd.ToEnd && p < len(b) || !fd.ToEnd && i < count; i++ {
		fields, n, err := decodeFields(fd.Items, b[p:], base+p)
		item := Node{Name: strconv.Itoa(i + 1), Offset: base + p, Raw: b[p : p+n], Fields: fields}
		g.Items = append(g.Items, item)
		p += n
		if err != nil {
			g.Raw = b[:p]
			return g, p, err
		}
		if n == 0 {
			break
		}
	}
	g.Raw = b[:p]
	return g, p, nil
}

func countOf(nodes []Node, name string) (int, error) {
	n := FindNode(nodes, name)
	if n == nil {
		return 0, protocol.Errorf(protocol.ErrInvalidValue, -1, 0, "count field %s missing", name)
	}
	v, ok := n.Int()
	if !ok || v < 0 {
		return 0, protocol.Errorf(protocol.ErrInvalidValue, n.Offset, 0,
			"count field %s has no valid value", name)
	}
	return int(v), nil
}

// Object is a decoded data unit or group entry as an ordered list of members; it marshals
// to a JSON object in field order.
type Object []Member

// Member is one key and value of an Object.
type Member struct {
	Key   string
	Value any
}

// Get returns the value stored under key.
func (o Object) Get(key string) (any, bool) {
	for _, m := range o {
		if m.Key == key {
			return m.Value, true
		}
	}
	return nil, false
}

// MarshalJSON writes o as a JSON object with its members in order.
func (o Object) MarshalJSON() ([]byte, error) {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			sb.WriteByte(',')
		}
		k, _ := json.Marshal(m.Key)
		sb.Write(k)
		sb.WriteByte(':')
		v, err := json.Marshal(m.Value)
		if err != nil {
			return nil, err
		}
		sb.Write(v)
	}
	sb.WriteByte('}')
	return []byte(sb.String()), nil
}

// ObjectOf returns nodes as an Object: a value, a nested Object for composite values, an
// array of Objects for groups, and for invalid bytes null with the raw bytes under the key
// with "_raw" appended.
func ObjectOf(nodes []Node) Object {
	o := make(Object, 0, len(nodes))
	for i := range nodes {
		n := &nodes[i]
		switch {
		case n.IsGroup:
			items := make([]Object, 0, len(n.Items))
			for j := range n.Items {
				items = append(items, ObjectOf(n.Items[j].Fields))
			}
			o = append(o, Member{n.Name, items})
			if n.Err != nil {
				o = append(o, Member{n.Name + "_error", n.Err.Error()})
			}
		case n.Fields != nil && n.Err == nil:
			o = append(o, Member{n.Name, ObjectOf(n.Fields)})
		case n.Err != nil:
			o = append(o, Member{n.Name, nil},
				Member{n.Name + "_raw", strings.ToUpper(hex.EncodeToString(n.Raw))})
		default:
			o = append(o, Member{n.Name, n.Value})
			if n.UnitFlag {
				o = append(o, Member{n.Name + "_unit", n.Unit})
			}
		}
	}
	return o
}

// lookup returns the value under key in an Object or a map[string]any.
func lookup(obj any, key string) (any, bool) {
	switch o := obj.(type) {
	case Object:
		return o.Get(key)
	case map[string]any:
		v, ok := o[key]
		return v, ok
	}
	return nil, false
}

// encodeFields appends the bytes of layout filled from obj, an Object or a map[string]any
// keyed by field name. A value that is nil with a "_raw" sibling is written from the raw
// hex, so that decoded invalid fields encode back unchanged.
func encodeFields(dst []byte, layout []Field, obj any) ([]byte, error) {
	for i := range layout {
		fd := &layout[i]
		v, ok := lookup(obj, fd.Name)
		if fd.Items != nil {
			list, err := listOf(v)
			if err != nil || !ok {
				return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, 0,
					"group %s must be a list", fd.Name)
			}
			if want, fixed := groupLen(fd, obj); fixed && want != len(list) {
				return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(len(list)),
					"group %s has %d entries, its count field says %d", fd.Name, len(list), want)
			}
			for _, item := range list {
				dst, err = encodeFields(dst, fd.Items, item)
				if err != nil {
					return dst, err
				}
			}
			continue
		}
		if !ok && fd.Optional {
			continue
		}
		if v == nil {
			rawV, hasRaw := lookup(obj, fd.Name+"_raw")
			if !hasRaw {
				return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, 0, "field %s missing",
					fd.Name)
			}
			raw, err := hexValue(rawV)
			if err != nil {
				return dst, err
			}
			dst = append(dst, raw...)
			continue
		}
		var err error
		switch {
		case fd.Format == nil:
			var raw []byte
			raw, err = hexValue(v)
			if err == nil && fd.LenFrom != "" {
				if want, _ := intOf(obj, fd.LenFrom); want != len(raw) {
					err = protocol.Errorf(protocol.ErrBadLength, -1, int64(len(raw)),
						"field %s has %d bytes, %s says %d", fd.Name, len(raw), fd.LenFrom, want)
				}
			}
			dst = append(dst, raw...)
		default:
			dst, err = fd.Format.enc(dst, v)
			if err == nil && fd.Format == a3Format && hasAlternateUnit(obj, fd) {
				dst[len(dst)-1] |= 0x40
			}
		}
		if err != nil {
			return dst, protocol.Errorf(errKind(err), -1, 0, "field %s: %v", fd.Name, err)
		}
	}
	return dst, nil
}

func errKind(err error) error {
	if e, ok := err.(*protocol.Error); ok {
		return e.Kind
	}
	return protocol.ErrInvalidValue
}

func groupLen(fd *Field, obj any) (int, bool) {
	if fd.ToEnd {
		return 0, false
	}
	if fd.CountFrom == "" {
		return fd.Times, true
	}
	n, ok := intOf(obj, fd.CountFrom)
	if fd.CountBits {
		n = bits.OnesCount64(uint64(n))
	}
	if fd.CountMax > 0 && n > fd.CountMax {
		n = 0
	}
	return n + fd.CountAdd, ok
}

func intOf(obj any, key string) (int, bool) {
	v, ok := lookup(obj, key)
	if !ok {
		return 0, false
	}
	neg, n, err := parseDecimal(v, 0)
	if err != nil || neg {
		return 0, false
	}
	return int(n), true
}

func listOf(v any) ([]any, error) {
	switch l := v.(type) {
	case []any:
		return l, nil
	case []Object:
		out := make([]any, len(l))
		for i := range l {
			out[i] = l[i]
		}
		return out, nil
	case []map[string]any:
		out := make([]any, len(l))
		for i := range l {
			out[i] = l[i]
		}
		return out, nil
	case nil:
		return nil, nil
	}
	return nil, protocol.Errorf(protocol.ErrInvalidValue, -1, 0, "%T is not a list", v)
}
