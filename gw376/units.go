package gw376

import (
	"fmt"

	"github.com/feegate/feegate/protocol"
)

// Dir is the direction of a frame: Down from the master to the terminal, Up the reverse.
type Dir uint8

// Directions.
const (
	Down Dir = 0
	Up   Dir = 1
)

func (d Dir) String() string {
	if d == Up {
		return "up"
	}
	return "down"
}

// Dir returns the direction of f from its DIR bit.
func (f *Frame) Dir() Dir {
	if f.Control.Up {
		return Up
	}
	return Down
}

// UnitDef is one row of the data-unit table: the layout of Fn of an AFN in one direction.
type UnitDef struct {
	AFN AFN
	Fn  uint8
	Dir Dir
	// Name is the English name and Label the Chinese name of the unit.
	Name  string
	Label string
	// Fields is the layout; an empty layout means the unit has no data.
	Fields []Field
	// Edition is 2009 or 2013 when only that edition defines the unit, else 0.
	Edition int
	// Note states what is uncertain about the layout, if anything.
	Note string
}

type unitKey struct {
	afn AFN
	fn  uint8
	dir Dir
}

var unitTable = map[unitKey]*UnitDef{}

// register adds defs to the table; a duplicate row is a programming error.
func register(defs ...*UnitDef) {
	for _, d := range defs {
		k := unitKey{d.AFN, d.Fn, d.Dir}
		if _, dup := unitTable[k]; dup {
			panic(fmt.Sprintf("gw376: unit AFN %02X F%d %s registered twice", d.AFN, d.Fn, d.Dir))
		}
		unitTable[k] = d
	}
}

// LookupUnit returns the table row of Fn of afn in direction dir, or nil. Requests for
// class 1 data, parameters and configuration (AFN 09, 0A, 0C downlinks) carry no data, so
// any Fn the table defines in the reply direction is accepted there too.
func LookupUnit(afn AFN, fn uint8, dir Dir) *UnitDef {
	return unitTable[unitKey{afn, fn, dir}]
}

// addEmptyRequests registers a data-less downlink row for every reply row of AFN 09, 0A
// and 0C that has no downlink row of its own.
func addEmptyRequests() {
	for k, up := range unitTable {
		if k.dir != Up || (k.afn != AFNConfig && k.afn != AFNQueryParam && k.afn != AFNClass1) {
			continue
		}
		down := unitKey{k.afn, k.fn, Down}
		if _, ok := unitTable[down]; !ok {
			unitTable[down] = &UnitDef{AFN: k.afn, Fn: k.fn, Dir: Down, Name: up.Name,
				Label: up.Label, Edition: up.Edition}
		}
	}
}

// UnitDefs returns every row of the table, in no particular order.
func UnitDefs() []*UnitDef {
	out := make([]*UnitDef, 0, len(unitTable))
	for _, d := range unitTable {
		out = append(out, d)
	}
	return out
}

// Decode decodes the unit's data at the start of b, whose first byte is at offset base of
// the data-unit area. It returns the fields and the bytes used.
func (d *UnitDef) Decode(b []byte, base int) ([]Node, int, error) {
	return decodeFields(d.Fields, b, base)
}

// Append appends the unit's data filled from v, an Object or a map[string]any keyed by
// field name (the form Decode's nodes give through ObjectOf).
func (d *UnitDef) Append(dst []byte, v any) ([]byte, error) {
	if len(d.Fields) == 0 {
		return dst, nil
	}
	out, err := encodeFields(dst, d.Fields, v)
	if err != nil {
		return dst, fmt.Errorf("AFN %02X F%d: %w", d.AFN, d.Fn, err)
	}
	return out, nil
}

// Unit is one decoded data unit.
type Unit struct {
	Pn  uint16
	Fn  uint8
	Def *UnitDef
	// IDOffset is the offset of the unit's identifier in the data-unit area, and Offset the
	// offset of its data. Units sharing an identifier share IDOffset.
	IDOffset int
	Offset   int
	Data     []byte
	Fields   []Node
	// Warning notes a deviation from the standard that the walk accepted.
	Warning string
}

// Units is the result of walking a data-unit area.
type Units struct {
	List []Unit
	// Rest holds the bytes after the last decoded unit, starting at RestOffset. With Err nil
	// they are surplus bytes that cannot start an identifier, such as padding. With Err set
	// the walk stopped there, at an unknown Fn or at a unit that does not fit.
	Rest       []byte
	RestOffset int
	Err        error
}

// Units walks the data-unit area of f.
func (f *Frame) Units() Units { return WalkUnits(f.AFN, f.Dir(), f.Data) }

// WalkUnits splits data, the data-unit area of a frame of afn in direction dir, into units
// by the table. A unit whose Fn the table does not know ends the walk: the units before it
// stay decoded and the rest is kept in Rest with an error naming the AFN and Fn.
func WalkUnits(afn AFN, dir Dir, data []byte) Units {
	var out Units
	var pnBuf [8]uint16
	var fnBuf [8]uint8
	p := 0
	for p < len(data) {
		if len(data)-p < IDLen {
			break
		}
		id := IDFromWire(data[p:])
		pns, errDA := id.DA.AppendPns(pnBuf[:0])
		fns, errDT := id.DT.AppendFns(fnBuf[:0])
		if errDA != nil || errDT != nil || len(fns) == 0 {
			if p == 0 {
				out.Err = protocol.Errorf(protocol.ErrUnknownIdentifier, 0,
					int64(leUint(data[:IDLen])),
					"no valid data-unit identifier at the start of the data area")
			}
			break
		}
		warning := ""
		if afn == AFNConfirm && id == (ID{DT: DT{Bits: 0x03}}) && confirmEachFits(data[p+IDLen:]) {
			// Some masters write F3 as DT 03 00 (F1 and F2), which no standard frame uses.
			fns = append(fns[:0], FnConfirmEach)
			warning = "DT 03 00 read as F3 (standard DT 04 00)"
		}
		q := p + IDLen
		started := false
		for _, pn := range pns {
			for _, fn := range fns {
				def := LookupUnit(afn, fn, dir)
				if def == nil {
					out.setRest(data, p, q, started, protocol.Errorf(protocol.ErrUnknownIdentifier,
						p, int64(fn), "AFN %02X F%d (%s) is not in the data-unit table", byte(afn),
						fn, dir))
					return out
				}
				fields, n, err := def.Decode(data[q:], q)
				if err != nil {
					out.setRest(data, p, q, started, fmt.Errorf("AFN %02X F%d %s: %w",
						byte(afn), fn, PnString(pn), err))
					return out
				}
				out.List = append(out.List, Unit{Pn: pn, Fn: fn, Def: def, IDOffset: p, Offset: q,
					Data: data[q : q+n], Fields: fields, Warning: warning})
				started = true
				q += n
			}
		}
		p = q
	}
	out.Rest = data[p:]
	out.RestOffset = p
	return out
}

func (u *Units) setRest(data []byte, idStart, unitStart int, started bool, err error) {
	at := idStart
	if started {
		at = unitStart
	}
	u.Rest = data[at:]
	u.RestOffset = at
	u.Err = err
}

// confirmEachFits reports whether b has the shape of AFN00 F3 data: AFN then 5-byte entries.
func confirmEachFits(b []byte) bool {
	return len(b) >= 1+IDLen+1 && (len(b)-1)%(IDLen+1) == 0
}

// UnitValue is one data unit to encode: its pn, Fn and data. The data is an Object or a map
// keyed by field name, or nil for units without data.
type UnitValue struct {
	Pn    uint16
	Fn    uint8
	Value any
}

// AppendUnits appends each unit with its own identifier, in the order given, using the
// table row of (afn, Fn, dir).
func AppendUnits(dst []byte, afn AFN, dir Dir, units []UnitValue) ([]byte, error) {
	for _, u := range units {
		def := LookupUnit(afn, u.Fn, dir)
		if def == nil {
			return dst, protocol.Errorf(protocol.ErrUnknownIdentifier, -1, int64(u.Fn),
				"AFN %02X F%d (%s) is not in the data-unit table", byte(afn), u.Fn, dir)
		}
		id, err := IDFor(u.Pn, u.Fn)
		if err != nil {
			return dst, err
		}
		dst = id.Append(dst)
		dst, err = def.Append(dst, u.Value)
		if err != nil {
			return dst, err
		}
	}
	return dst, nil
}
