package archive

import (
	"fmt"
	"math"
)

// Modbus register tables.
const (
	TableHolding  = "holding"  // holding registers, function 03 (read) and 06/16 (write)
	TableInput    = "input"    // input registers, function 04
	TableCoil     = "coil"     // coils, function 01 (read) and 05 (write)
	TableDiscrete = "discrete" // discrete inputs, function 02
)

// DefaultModbusModelName is the register map a Modbus route may name without declaring it
// in modbus_models; see DefaultModbusModel.
const DefaultModbusModelName = "default"

// ModbusModel is a named register map of a Modbus meter.
type ModbusModel struct {
	// Name is the key Modbus routes use.
	Name string `json:"name"`
	// Registers is the map itself.
	Registers RegisterMap `json:"registers"`

	row int
}

// RegisterMap places a Modbus meter's readings and relay in its register space.
type RegisterMap struct {
	// Energy is the forward active energy total, kWh after scaling.
	Energy Register `json:"energy"`
	// Voltage is the phase A (or single-phase) voltage, V after scaling.
	Voltage Register `json:"voltage"`
	// Power is the total active power, kW after scaling.
	Power Register `json:"power"`
	// RelayCoil is the coil that drives the load relay.
	RelayCoil Bit `json:"relay_coil"`
	// RelayStatus is the bit or register that reports the actual relay state.
	RelayStatus Bit `json:"relay_status"`
	// LowWordFirst sends the low 16-bit word of a two-word value first; the default is
	// high word first (big-endian words, the common Modbus convention).
	LowWordFirst bool `json:"low_word_first,omitempty"`
}

// Register is a numeric value in one or two 16-bit registers. The engineering value is
// raw × Scale.
type Register struct {
	// Table is TableHolding or TableInput.
	Table string `json:"table"`
	// Address is the 0-based register address (the PDU address, not 4xxxx numbering).
	Address uint16 `json:"address"`
	// Words is 1 or 2.
	Words int `json:"words"`
	// Signed reads the raw value as two's complement.
	Signed bool `json:"signed,omitempty"`
	// Scale multiplies the raw value to get the value in Unit, such as 0.01.
	Scale float64 `json:"scale"`
	// Unit is the engineering unit after scaling: kWh, V or kW.
	Unit string `json:"unit"`
}

// Bit is a one-bit relay point: a coil, a discrete input, or a register read as 0 or not 0.
type Bit struct {
	// Table is TableCoil or TableDiscrete for a bit, TableHolding or TableInput for a
	// register whose non-zero value means ON. A relay coil must be TableCoil.
	Table string `json:"table"`
	// Address is the 0-based PDU address.
	Address uint16 `json:"address"`
	// OnMeansOpen makes ON the open (tripped) relay. The default is ON = closed (supply
	// on), so writing OFF to the relay coil trips the meter.
	OnMeansOpen bool `json:"on_means_open,omitempty"`
}

// Open reports whether the raw bit value means an open (tripped) relay.
func (b Bit) Open(on bool) bool { return on == b.OnMeansOpen }

// ValueFor returns the raw bit value that sets the relay open (true) or closed (false).
func (b Bit) ValueFor(open bool) bool { return open == b.OnMeansOpen }

// DefaultModbusModel returns the built-in register map that a Modbus route may name as
// DefaultModbusModelName:
//
//	energy        holding 0x0000, 2 words, unsigned, × 0.01 kWh
//	voltage       holding 0x0002, 1 word,  unsigned, × 0.1 V
//	power         holding 0x0003, 2 words, signed,   × 0.001 kW
//	relay coil    coil    0x0000, ON = closed
//	relay status  discrete input 0x0000, ON = closed
func DefaultModbusModel() ModbusModel {
	return ModbusModel{
		Name: DefaultModbusModelName,
		Registers: RegisterMap{
			Energy:      Register{Table: TableHolding, Address: 0x0000, Words: 2, Scale: 0.01, Unit: "kWh"},
			Voltage:     Register{Table: TableHolding, Address: 0x0002, Words: 1, Scale: 0.1, Unit: "V"},
			Power:       Register{Table: TableHolding, Address: 0x0003, Words: 2, Signed: true, Scale: 0.001, Unit: "kW"},
			RelayCoil:   Bit{Table: TableCoil, Address: 0x0000},
			RelayStatus: Bit{Table: TableDiscrete, Address: 0x0000},
		},
	}
}

// Decode converts raw register words, in the order the device sends them, to the value in
// the register's unit.
func (r Register) Decode(words []uint16, lowWordFirst bool) (float64, error) {
	if len(words) != r.Words {
		return 0, fmt.Errorf("archive: register at 0x%04X needs %d words, got %d: %w",
			r.Address, r.Words, len(words), ErrInvalid)
	}
	var raw int64
	switch r.Words {
	case 1:
		raw = int64(words[0])
		if r.Signed {
			raw = int64(int16(words[0]))
		}
	case 2:
		hi, lo := words[0], words[1]
		if lowWordFirst {
			hi, lo = lo, hi
		}
		u := uint32(hi)<<16 | uint32(lo)
		raw = int64(u)
		if r.Signed {
			raw = int64(int32(u))
		}
	}
	return scaleRaw(raw, r.Scale), nil
}

// scaleRaw returns raw × scale without binary noise when scale has at most 9 decimal
// places: 307045 × 0.01 is computed as 307045 / 100, which rounds to the float64 nearest
// 3070.45, where the product gives 3070.4500000000003.
func scaleRaw(raw int64, scale float64) float64 {
	pow := 1.0
	for range 10 {
		steps := math.Round(scale * pow)
		if steps != 0 && math.Abs(steps-scale*pow) <= 1e-9*math.Abs(scale*pow) &&
			math.Abs(steps) < 1<<20 {
			return float64(raw*int64(steps)) / pow
		}
		pow *= 10
	}
	return float64(raw) * scale
}

// Encode converts a value in the register's unit to raw words in device order, rounding
// to the nearest raw step and saturating at the register's range.
func (r Register) Encode(value float64, lowWordFirst bool) []uint16 {
	raw := math.Round(value / r.Scale)
	lo, hi := 0.0, float64(math.MaxUint16)
	if r.Words == 2 {
		hi = math.MaxUint32
	}
	if r.Signed {
		lo, hi = math.MinInt16, math.MaxInt16
		if r.Words == 2 {
			lo, hi = math.MinInt32, math.MaxInt32
		}
	}
	raw = math.Max(lo, math.Min(hi, raw))
	if r.Words == 1 {
		return []uint16{uint16(int64(raw))}
	}
	u := uint32(int64(raw))
	words := []uint16{uint16(u >> 16), uint16(u)}
	if lowWordFirst {
		words[0], words[1] = words[1], words[0]
	}
	return words
}
