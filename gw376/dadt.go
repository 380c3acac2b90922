package gw376

import "github.com/feegate/feegate/protocol"

// Point and Fn limits of the data-unit identifier.
const (
	// MaxPn is the highest measurement point pn (DA2 = 255).
	MaxPn = 2040
	// PnAll stands for DA FF 00, every valid measurement point except p0.
	PnAll uint16 = 0xFFFF
	// MaxFn is the highest Fn (DT2 = 30).
	MaxFn = 248
	// IDLen is the length of one DA DT identifier.
	IDLen = 4
)

// DA is the point part of a data-unit identifier: DA1 is a bitmap of eight points of group
// DA2. DA 00 00 is p0, the terminal itself, and DA FF 00 is every valid measurement point.
type DA struct {
	Bits  uint8 // DA1
	Group uint8 // DA2
}

// DT is the Fn part of a data-unit identifier: DT1 is a bitmap of eight Fn of group DT2.
type DT struct {
	Bits  uint8 // DT1
	Group uint8 // DT2
}

// ID is one data-unit identifier DA DT. It covers every pn of DA combined with every Fn of
// DT; the data units follow it ordered by pn, then by Fn.
type ID struct {
	DA DA
	DT DT
}

// DAForPn returns the DA of point pn: 0 for p0, 1 to MaxPn, or PnAll.
func DAForPn(pn uint16) (DA, error) {
	switch {
	case pn == 0:
		return DA{}, nil
	case pn == PnAll:
		return DA{Bits: 0xFF}, nil
	case pn > MaxPn:
		return DA{}, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(pn),
			"pn must be 0 to %d", MaxPn)
	}
	return DA{Bits: 1 << ((pn - 1) % 8), Group: uint8((pn-1)/8 + 1)}, nil
}

// DTForFn returns the DT of fn, 1 to MaxFn.
func DTForFn(fn uint8) (DT, error) {
	if fn == 0 || fn > MaxFn {
		return DT{}, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(fn),
			"Fn must be 1 to %d", MaxFn)
	}
	return DT{Bits: 1 << ((fn - 1) % 8), Group: (fn - 1) / 8}, nil
}

// IDFor returns the identifier of one pn and one Fn.
func IDFor(pn uint16, fn uint8) (ID, error) {
	da, err := DAForPn(pn)
	if err != nil {
		return ID{}, err
	}
	dt, err := DTForFn(fn)
	if err != nil {
		return ID{}, err
	}
	return ID{DA: da, DT: dt}, nil
}

// Add merges pn into d. It fails when pn lies in another group than the points already in d,
// or when p0 or PnAll is combined with other points.
func (d *DA) Add(pn uint16) error {
	n, err := DAForPn(pn)
	if err != nil {
		return err
	}
	if *d == (DA{}) || *d == n {
		*d = n
		return nil
	}
	if n.Group == 0 || d.Group != n.Group {
		return protocol.Errorf(protocol.ErrInvalidValue, -1, int64(pn),
			"pn does not share DA2 group %d of the identifier", d.Group)
	}
	d.Bits |= n.Bits
	return nil
}

// Add merges fn into d. It fails when fn lies in another DT2 group than the Fn already in d.
func (d *DT) Add(fn uint8) error {
	n, err := DTForFn(fn)
	if err != nil {
		return err
	}
	if d.Bits == 0 {
		*d = n
		return nil
	}
	if d.Group != n.Group {
		return protocol.Errorf(protocol.ErrInvalidValue, -1, int64(fn),
			"Fn does not share DT2 group %d of the identifier", d.Group)
	}
	d.Bits |= n.Bits
	return nil
}

// AppendPns appends the points of d in ascending order to dst: 0 for p0 and PnAll for
// DA FF 00. A DA2 of 0 with a DA1 other than 00 or FF is invalid.
func (d DA) AppendPns(dst []uint16) ([]uint16, error) {
	if d.Group == 0 {
		switch d.Bits {
		case 0:
			return append(dst, 0), nil
		case 0xFF:
			return append(dst, PnAll), nil
		}
		return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(d.Bits),
			"DA1 with DA2 00 must be 00 (p0) or FF (all points)")
	}
	for i := uint16(0); i < 8; i++ {
		if d.Bits&(1<<i) != 0 {
			dst = append(dst, (uint16(d.Group)-1)*8+i+1)
		}
	}
	return dst, nil
}

// AppendFns appends the Fn of d in ascending order to dst. A DT2 above 30 is invalid.
func (d DT) AppendFns(dst []uint8) ([]uint8, error) {
	if d.Group > (MaxFn-1)/8 {
		return dst, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(d.Group),
			"DT2 must be 0 to %d", (MaxFn-1)/8)
	}
	for i := uint8(0); i < 8; i++ {
		if d.Bits&(1<<i) != 0 {
			dst = append(dst, d.Group*8+i+1)
		}
	}
	return dst, nil
}

// Append appends the wire bytes DA1 DA2 DT1 DT2 of id to dst.
func (id ID) Append(dst []byte) []byte {
	return append(dst, id.DA.Bits, id.DA.Group, id.DT.Bits, id.DT.Group)
}

// IDFromWire returns the identifier in the first four bytes of b.
func IDFromWire(b []byte) ID {
	return ID{DA: DA{Bits: b[0], Group: b[1]}, DT: DT{Bits: b[2], Group: b[3]}}
}

// PnString returns pn as documents write it: "p0", "p12", or "all" for PnAll.
func PnString(pn uint16) string {
	if pn == PnAll {
		return "all"
	}
	return "p" + itoa(int(pn))
}

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	neg := v < 0
	if neg {
		v = -v
	}
	for v > 0 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}
