package archive

// Protocol names of a meter, as the archive and the API write them.
const (
	ProtocolDLT645v2007 = "dlt645-2007"
	ProtocolDLT645v1997 = "dlt645-1997"
	ProtocolModbus      = "modbus"
)

// Meter kinds. A cost-control (费控) meter accepts a plain password only for closing, and a
// trip needs password level 98 with identity authentication. A plain meter accepts a
// plain-password trip.
const (
	KindPlain       = "plain"
	KindCostControl = "cost_control"
)

// Terminal kinds.
const (
	KindConcentrator         = "concentrator"
	KindDedicatedTransformer = "dedicated_transformer"
)

// Archive is the archive (档案): every terminal, bus, link, Modbus register map and meter the
// gateway may reach. A nil section means "absent" (Replace keeps the base's section), an
// empty non-nil section means "none".
type Archive struct {
	Terminals    []Terminal    `json:"terminals"`
	Buses        []Bus         `json:"buses"`
	Links        []Link        `json:"links"`
	ModbusModels []ModbusModel `json:"modbus_models"`
	Meters       []Meter       `json:"meters"`
}

// Terminal is a Q/GDW 376.1 terminal: a concentrator or a dedicated-transformer terminal.
type Terminal struct {
	// Address is A1A2, four decimal digits of region then four hex digits of A2: 44010001.
	Address string `json:"address"`
	// Kind is KindConcentrator or KindDedicatedTransformer.
	Kind string `json:"kind"`
	// HeartbeatPeriodS is the heartbeat period in seconds (AFN04 F1 sets it in minutes).
	HeartbeatPeriodS int `json:"heartbeat_period_s"`
	// ControlTurns is the number of the terminal's own load-control turns (AFN05 F1/F2), 0–8.
	ControlTurns int `json:"control_turns"`

	row int
}

// Bus is a local RS-485 bus owned by the gateway.
type Bus struct {
	// Name is the key meters use in their route.
	Name string `json:"name"`
	// Device is the serial device path, such as /dev/ttyUSB0 or a pty.
	Device string `json:"device"`
	// Baud is the bus's default baud rate; a meter route may override it.
	Baud int `json:"baud"`
	// Parity is "even" (the DL/T 645 line, 8E1), "odd" or "none".
	Parity string `json:"parity"`

	row int
}

// Link is a TCP connection to a serial server (串口服务器) with meters behind it.
type Link struct {
	// Name is the key meters use in their route.
	Name string `json:"name"`
	// Address is host:port of the serial server.
	Address string `json:"address"`

	row int
}

// Meter is one electricity meter and the route that reaches it.
type Meter struct {
	// Address is the 12-digit communication address as printed, such as 000000000161.
	Address string `json:"address"`
	// Protocol is ProtocolDLT645v2007, ProtocolDLT645v1997 or ProtocolModbus.
	Protocol string `json:"protocol"`
	// Kind is KindPlain or KindCostControl; 1997 and Modbus meters are plain.
	Kind string `json:"kind"`
	// MeterNumber is the 12-digit meter number (表号, DI 04000402), the key-derivation input
	// of the encryption machine. Empty means the same as Address; see Number.
	MeterNumber string `json:"meter_number,omitempty"`
	// Protected marks a meter that interlocks keep from being tripped unless forced.
	Protected bool `json:"protected"`
	// Password is the DL/T 645 password used for relay commands; absent for Modbus meters
	// and after Redacted.
	Password *Password `json:"password,omitempty"`
	// Route is the path from the gateway to the meter; exactly one route kind is set.
	Route Route `json:"route"`

	row int
}

// Password is a DL/T 645 password level (PA) and its three-byte password (P0..P2).
type Password struct {
	// Level is PA written as two digits, as the documents write it: 2 is PA=02, 98 is
	// PA=98 (encrypted, through the encryption machine). Valid: 0–9, 98, 99.
	Level int `json:"level"`
	// Value is the password as six hex digits, most significant first, as printed: the
	// password "123456" goes on the wire as 56 34 12. Empty for level 98 and 99, whose
	// commands are authenticated by the encryption machine.
	Value string `json:"value"`
}

// LevelByte returns the PA byte of the wire frame: level 98 is 0x98.
func (p Password) LevelByte() byte { return byte(p.Level/10)<<4 | byte(p.Level%10) }

// Route is the path from the gateway to a meter. Exactly one of the four forms is set:
// {terminal, point, port, baud}, {bus, baud}, {link} or {modbus}.
type Route struct {
	// Terminal is the A1A2 address of the terminal the meter is behind.
	Terminal string `json:"terminal,omitempty"`
	// Point is the measurement point number pn (测量点号), 1–2040.
	Point int `json:"point,omitempty"`
	// Port is the terminal's port number for AFN10 forwarding, 1–31 (31 is carrier).
	Port int `json:"port,omitempty"`
	// Baud is the meter's baud rate on its line; 0 means the default of its protocol
	// (2400 for 2007 meters, 1200 for 1997 meters) or of its bus.
	Baud int `json:"baud,omitempty"`
	// Bus is the name of the local RS-485 bus.
	Bus string `json:"bus,omitempty"`
	// Link is the name of the TCP link to a serial server.
	Link string `json:"link,omitempty"`
	// Modbus is the Modbus unit that is the meter.
	Modbus *ModbusRoute `json:"modbus,omitempty"`
}

// ModbusRoute is a Modbus TCP unit and the register map that describes it.
type ModbusRoute struct {
	// Endpoint is host:port of the Modbus TCP server.
	Endpoint string `json:"endpoint"`
	// Unit is the Modbus unit id, 1–247.
	Unit int `json:"unit"`
	// Model names an entry of the archive's modbus_models, or DefaultModbusModelName.
	Model string `json:"model"`
}

// RouteKind names the form of a route.
type RouteKind string

// Route kinds; RouteNone means no form is set, RouteAmbiguous more than one.
const (
	RouteNone      RouteKind = ""
	RouteTerminal  RouteKind = "terminal"
	RouteBus       RouteKind = "bus"
	RouteLink      RouteKind = "link"
	RouteModbus    RouteKind = "modbus"
	RouteAmbiguous RouteKind = "ambiguous"
)

// Kind returns the form of the route from the fields that are set.
func (r Route) Kind() RouteKind {
	kind := RouteNone
	set := func(k RouteKind) {
		if kind == RouteNone {
			kind = k
		} else {
			kind = RouteAmbiguous
		}
	}
	if r.Terminal != "" || r.Point != 0 || r.Port != 0 {
		set(RouteTerminal)
	}
	if r.Bus != "" {
		set(RouteBus)
	}
	if r.Link != "" {
		set(RouteLink)
	}
	if r.Modbus != nil {
		set(RouteModbus)
	}
	return kind
}

// Number returns the meter number, which is the address when MeterNumber is empty.
func (m Meter) Number() string {
	if m.MeterNumber != "" {
		return m.MeterNumber
	}
	return m.Address
}

// HasRelay reports whether the meter has a load relay that the gateway can command:
// DL/T 645-2007 and Modbus meters do, 1997 meters are read-only.
func (m Meter) HasRelay() bool { return m.Protocol != ProtocolDLT645v1997 }

// Baud returns the meter's line baud rate: the route's, else the default of its protocol.
func (m Meter) Baud() int {
	if m.Route.Baud != 0 {
		return m.Route.Baud
	}
	if m.Protocol == ProtocolDLT645v1997 {
		return 1200
	}
	return 2400
}

// Clone returns a deep copy of the archive; sections that are nil stay nil.
func (a *Archive) Clone() *Archive {
	c := &Archive{
		Terminals:    cloneSlice(a.Terminals),
		Buses:        cloneSlice(a.Buses),
		Links:        cloneSlice(a.Links),
		ModbusModels: cloneSlice(a.ModbusModels),
		Meters:       cloneSlice(a.Meters),
	}
	for i := range c.Meters {
		c.Meters[i] = c.Meters[i].clone()
	}
	return c
}

func (m Meter) clone() Meter {
	if m.Password != nil {
		p := *m.Password
		m.Password = &p
	}
	if m.Route.Modbus != nil {
		r := *m.Route.Modbus
		m.Route.Modbus = &r
	}
	return m
}

// Redacted returns a deep copy without password values, for every export and API response.
// The password level stays, because it shows the operator which path a trip takes.
func (a *Archive) Redacted() *Archive {
	c := a.Clone()
	for i := range c.Meters {
		c.Meters[i] = c.Meters[i].Redacted()
	}
	return c
}

// Redacted returns a copy of the meter without its password value.
func (m Meter) Redacted() Meter {
	m = m.clone()
	if m.Password != nil {
		m.Password.Value = ""
	}
	return m
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}
