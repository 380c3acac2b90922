package archive

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/feegate/feegate/protocol"
)

// Limits of the fields, from Q/GDW 376.1 (measurement points p1–p2040, ports 1–31, eight
// control turns) and Modbus (unit ids 1–247).
const (
	MaxPoint        = 2040
	MaxPort         = 31
	MaxControlTurns = 8
	MaxModbusUnit   = 247
)

// Bauds lists the baud rates a meter route or bus may use: the rates of the AFN04 F10
// rate field and DL/T 645 meters.
var Bauds = []int{300, 600, 1200, 2400, 4800, 7200, 9600, 19200}

// Validate checks the whole archive: every field, duplicate keys, and that each route
// names a terminal, bus, link or Modbus model that the archive declares. It returns a
// *ValidationError listing every problem, or nil. Validate normalizes addresses in place
// (a short meter address gains its leading zeros, hex digits become upper case).
func Validate(a *Archive) error {
	var p problems
	checkFields(a, &p)
	checkReferences(a, &p)
	return p.err()
}

// checkFields checks each row alone and the uniqueness of keys within each section.
func checkFields(a *Archive, p *problems) {
	seen := map[string]int{}
	for i := range a.Terminals {
		t := &a.Terminals[i]
		row := rowOf(t.row, i)
		checkTerminal(t, row, p)
		dup(p, seen, "terminals", row, t.Address, "address")
	}
	clear(seen)
	for i := range a.Buses {
		b := &a.Buses[i]
		row := rowOf(b.row, i)
		checkBus(b, row, p)
		dup(p, seen, "buses", row, b.Name, "name")
	}
	clear(seen)
	for i := range a.Links {
		l := &a.Links[i]
		row := rowOf(l.row, i)
		if l.Name == "" {
			p.add("links", row, "", "name", "", "missing")
		}
		if err := checkHostPort(l.Address); err != "" {
			p.add("links", row, l.Name, "address", l.Address, err)
		}
		dup(p, seen, "links", row, l.Name, "name")
	}
	clear(seen)
	for i := range a.ModbusModels {
		m := &a.ModbusModels[i]
		row := rowOf(m.row, i)
		checkModbusModel(m, row, p)
		dup(p, seen, "modbus_models", row, m.Name, "name")
	}
	clear(seen)
	points := map[string]string{}
	units := map[string]string{}
	for i := range a.Meters {
		m := &a.Meters[i]
		row := rowOf(m.row, i)
		checkMeter(m, row, p)
		dup(p, seen, "meters", row, m.Address, "address")
		switch r := m.Route; r.Kind() {
		case RouteTerminal:
			key := r.Terminal + " p" + strconv.Itoa(r.Point)
			dupRoute(p, points, row, m.Address, key, "route.point")
		case RouteModbus:
			key := r.Modbus.Endpoint + " unit " + strconv.Itoa(r.Modbus.Unit)
			dupRoute(p, units, row, m.Address, key, "route.modbus.unit")
		}
	}
}

// rowOf returns the row a reader recorded, 0 for a row marked unknown (-1), else the
// 1-based position in the section.
func rowOf(recorded, index int) int {
	switch {
	case recorded > 0:
		return recorded
	case recorded < 0:
		return 0
	}
	return index + 1
}

func dup(p *problems, seen map[string]int, section string, row int, key, field string) {
	if key == "" {
		return
	}
	if first, ok := seen[key]; ok {
		p.add(section, row, key, field, key, fmt.Sprintf("duplicate of row %d", first))
		return
	}
	seen[key] = row
}

// dupRoute names the first user of a route by address, because after a merge the rows
// of the base archive are unknown (0).
func dupRoute(p *problems, seen map[string]string, row int, address, key, field string) {
	if first, ok := seen[key]; ok {
		p.add("meters", row, address, field, key, "route already used by "+first)
		return
	}
	seen[key] = "meter " + address
	if row > 0 {
		seen[key] += fmt.Sprintf(" (row %d)", row)
	}
}

func checkTerminal(t *Terminal, row int, p *problems) {
	const s = "terminals"
	if t.Address == "" {
		p.add(s, row, "", "address", "", "missing; want A1A2 such as 44010001")
	} else if addr, err := protocol.ParseTerminalAddress(t.Address); err != nil {
		p.add(s, row, "", "address", t.Address,
			"invalid; want 4 decimal digits of A1 and 4 hex digits of A2 (not 0000)")
	} else {
		t.Address = addr.String()
	}
	switch t.Kind {
	case KindConcentrator, KindDedicatedTransformer:
	default:
		p.add(s, row, t.Address, "kind", t.Kind, "want concentrator or dedicated_transformer")
	}
	if t.HeartbeatPeriodS < 0 || t.HeartbeatPeriodS > 255*60 {
		p.add(s, row, t.Address, "heartbeat_period_s", strconv.Itoa(t.HeartbeatPeriodS),
			"out of range; want 0 (default) to 15300 seconds (255 minutes)")
	}
	if t.ControlTurns < 0 || t.ControlTurns > MaxControlTurns {
		p.add(s, row, t.Address, "control_turns", strconv.Itoa(t.ControlTurns),
			"out of range; want 0 to 8")
	}
}

func checkBus(b *Bus, row int, p *problems) {
	const s = "buses"
	if b.Name == "" {
		p.add(s, row, "", "name", "", "missing")
	}
	if b.Device == "" {
		p.add(s, row, b.Name, "device", "", "missing; want a serial device path")
	}
	if b.Baud != 0 && !validBaud(b.Baud) {
		p.add(s, row, b.Name, "baud", strconv.Itoa(b.Baud), "unsupported; want one of "+baudList())
	}
	switch b.Parity {
	case "", "even", "odd", "none":
	default:
		p.add(s, row, b.Name, "parity", b.Parity, "want even, odd or none")
	}
}

func checkModbusModel(m *ModbusModel, row int, p *problems) {
	const s = "modbus_models"
	if m.Name == "" {
		p.add(s, row, "", "name", "", "missing")
	}
	regs := []struct {
		field string
		reg   Register
	}{
		{"registers.energy", m.Registers.Energy},
		{"registers.voltage", m.Registers.Voltage},
		{"registers.power", m.Registers.Power},
	}
	for _, r := range regs {
		if r.reg.Table != TableHolding && r.reg.Table != TableInput {
			p.add(s, row, m.Name, r.field+".table", r.reg.Table, "want holding or input")
		}
		if r.reg.Words != 1 && r.reg.Words != 2 {
			p.add(s, row, m.Name, r.field+".words", strconv.Itoa(r.reg.Words), "want 1 or 2")
		}
		if !(r.reg.Scale > 0) {
			p.add(s, row, m.Name, r.field+".scale", fmt.Sprint(r.reg.Scale),
				"want a positive factor such as 0.01")
		}
	}
	if m.Registers.RelayCoil.Table != TableCoil {
		p.add(s, row, m.Name, "registers.relay_coil.table", m.Registers.RelayCoil.Table,
			"want coil")
	}
	switch m.Registers.RelayStatus.Table {
	case TableCoil, TableDiscrete, TableHolding, TableInput:
	default:
		p.add(s, row, m.Name, "registers.relay_status.table", m.Registers.RelayStatus.Table,
			"want coil, discrete, holding or input")
	}
}

func checkMeter(m *Meter, row int, p *problems) {
	const s = "meters"
	if m.Address == "" {
		p.add(s, row, "", "address", "", "missing; want the 12-digit communication address")
	} else if addr, err := protocol.ParseMeterAddress(m.Address); err != nil || addr.IsWildcard() ||
		addr.IsBroadcast() || !allDigits(m.Address) {
		p.add(s, row, "", "address", m.Address,
			"invalid; want up to 12 decimal digits, not the broadcast 999999999999")
	} else {
		m.Address = addr.String()
	}
	key := m.Address

	switch m.Protocol {
	case ProtocolDLT645v2007, ProtocolDLT645v1997, ProtocolModbus:
	default:
		p.add(s, row, key, "protocol", m.Protocol, "want dlt645-2007, dlt645-1997 or modbus")
	}
	switch {
	case m.Kind == "":
		m.Kind = KindPlain
	case m.Kind == KindCostControl && m.Protocol != ProtocolDLT645v2007 && m.Protocol != "":
		p.add(s, row, key, "kind", m.Kind, "only dlt645-2007 meters can be cost_control")
	case m.Kind != KindPlain && m.Kind != KindCostControl:
		p.add(s, row, key, "kind", m.Kind, "want plain or cost_control")
	}
	if m.MeterNumber != "" {
		if len(m.MeterNumber) > 12 || !allDigits(m.MeterNumber) {
			p.add(s, row, key, "meter_number", m.MeterNumber, "want up to 12 decimal digits")
		} else {
			m.MeterNumber = strings.Repeat("0", 12-len(m.MeterNumber)) + m.MeterNumber
		}
	}
	checkPassword(m, row, p)
	checkRoute(m, row, p)
}

func checkPassword(m *Meter, row int, p *problems) {
	const s = "meters"
	pw := m.Password
	if pw == nil {
		return
	}
	if m.Protocol == ProtocolModbus {
		p.add(s, row, m.Address, "password", "", "a modbus meter has no password; leave it out")
		return
	}
	if !(pw.Level >= 0 && pw.Level <= 9) && pw.Level != 98 && pw.Level != 99 {
		// A level of three or more digits is likely a password in the wrong field: the
		// value is not copied then.
		value, reason := strconv.Itoa(pw.Level), "want 0 to 9, 98 or 99"
		if pw.Level < -99 || pw.Level > 99 {
			value = ""
			reason += fmt.Sprintf("; got a %d-character number, not shown in case it is a "+
				"password", len(strconv.Itoa(pw.Level)))
		}
		p.add(s, row, m.Address, "password.level", value, reason)
	}
	switch {
	case pw.Value == "" && pw.Level < 98:
		p.add(s, row, m.Address, "password.value", "", "missing; want 6 hex digits")
	case pw.Value != "" && !isHex(pw.Value, 6):
		// The value itself is a secret: the reason describes it without copying it.
		p.add(s, row, m.Address, "password.value", "", fmt.Sprintf(
			"invalid; want exactly 6 hex digits, got %d characters", len(pw.Value)))
	default:
		pw.Value = strings.ToUpper(pw.Value)
	}
}

func checkRoute(m *Meter, row int, p *problems) {
	const s = "meters"
	r := &m.Route
	key := m.Address
	kind := r.Kind()
	switch kind {
	case RouteNone:
		p.add(s, row, key, "route", "", "missing; want {terminal, point, port, baud}, {bus, baud}, {link} or {modbus}")
		return
	case RouteAmbiguous:
		p.add(s, row, key, "route", "", "more than one route form is set; set exactly one")
		return
	}
	if (kind == RouteModbus) != (m.Protocol == ProtocolModbus) && m.Protocol != "" {
		p.add(s, row, key, "route", string(kind), "a modbus meter needs a modbus route and only it")
	}
	if r.Baud != 0 && !validBaud(r.Baud) {
		p.add(s, row, key, "route.baud", strconv.Itoa(r.Baud), "unsupported; want one of "+baudList())
	}
	switch kind {
	case RouteTerminal:
		if addr, err := protocol.ParseTerminalAddress(r.Terminal); err != nil {
			p.add(s, row, key, "route.terminal", r.Terminal, "invalid; want A1A2 such as 44010001")
		} else {
			r.Terminal = addr.String()
		}
		if r.Point < 1 || r.Point > MaxPoint {
			p.add(s, row, key, "route.point", strconv.Itoa(r.Point), "out of range; want 1 to 2040")
		}
		if r.Port < 1 || r.Port > MaxPort {
			p.add(s, row, key, "route.port", strconv.Itoa(r.Port), "out of range; want 1 to 31")
		}
	case RouteModbus:
		if r.Baud != 0 {
			p.add(s, row, key, "route.baud", strconv.Itoa(r.Baud), "a modbus TCP route has no baud")
		}
		if err := checkHostPort(r.Modbus.Endpoint); err != "" {
			p.add(s, row, key, "route.modbus.endpoint", r.Modbus.Endpoint, err)
		}
		if r.Modbus.Unit < 1 || r.Modbus.Unit > MaxModbusUnit {
			p.add(s, row, key, "route.modbus.unit", strconv.Itoa(r.Modbus.Unit), "out of range; want 1 to 247")
		}
		if r.Modbus.Model == "" {
			r.Modbus.Model = DefaultModbusModelName
		}
	}
}

// checkReferences checks that every route names a declared terminal, bus, link or model.
func checkReferences(a *Archive, p *problems) {
	terminals := map[string]bool{}
	for _, t := range a.Terminals {
		terminals[t.Address] = true
	}
	buses := map[string]bool{}
	for _, b := range a.Buses {
		buses[b.Name] = true
	}
	links := map[string]bool{}
	for _, l := range a.Links {
		links[l.Name] = true
	}
	models := map[string]bool{DefaultModbusModelName: true}
	for _, m := range a.ModbusModels {
		models[m.Name] = true
	}
	for i, m := range a.Meters {
		row := rowOf(m.row, i)
		r := m.Route
		switch r.Kind() {
		case RouteTerminal:
			if r.Terminal != "" && !terminals[r.Terminal] {
				p.add("meters", row, m.Address, "route.terminal", r.Terminal, "no such terminal in the archive")
			}
		case RouteBus:
			if !buses[r.Bus] {
				p.add("meters", row, m.Address, "route.bus", r.Bus, "no such bus in the archive")
			}
		case RouteLink:
			if !links[r.Link] {
				p.add("meters", row, m.Address, "route.link", r.Link, "no such link in the archive")
			}
		case RouteModbus:
			if !models[r.Modbus.Model] {
				p.add("meters", row, m.Address, "route.modbus.model", r.Modbus.Model,
					"no such modbus model in the archive")
			}
		}
	}
}

func checkHostPort(s string) string {
	if s == "" {
		return "missing; want host:port"
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return "invalid; want host:port"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "invalid port; want 1 to 65535"
	}
	return ""
}

func validBaud(b int) bool {
	for _, v := range Bauds {
		if v == b {
			return true
		}
	}
	return false
}

func baudList() string {
	parts := make([]string, len(Bauds))
	for i, b := range Bauds {
		parts[i] = strconv.Itoa(b)
	}
	return strings.Join(parts, ", ")
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
