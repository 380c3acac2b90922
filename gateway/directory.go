package gateway

import (
	"bytes"

	"github.com/feegate/feegate/archive"
	"go.uber.org/zap"
)

// Route kinds: how the gateway reaches a meter.
const (
	RouteTerminal = string(archive.RouteTerminal)
	RouteBus      = string(archive.RouteBus)
	RouteLink     = string(archive.RouteLink)
	RouteModbus   = string(archive.RouteModbus)
)

// MeterRoute is a meter's resolved route. Exactly the fields of its Kind are set.
type MeterRoute struct {
	Kind     string
	Terminal string // A1A2
	Point    int    // measurement point pn
	Port     int
	Baud     int
	Bus      string
	Link     string
	Endpoint string // Modbus TCP endpoint host:port
	Unit     int    // Modbus unit id
	Model    string // Modbus register map name
}

// Channel returns the name of the channel that carries the route's requests: one per
// terminal, bus, link or Modbus endpoint. Requests on one channel run one at a time.
func (r MeterRoute) Channel() string {
	switch r.Kind {
	case RouteTerminal:
		return "terminal/" + r.Terminal
	case RouteBus:
		return "bus/" + r.Bus
	case RouteLink:
		return "link/" + r.Link
	case RouteModbus:
		return "modbus/" + r.Endpoint
	}
	return "unknown/"
}

// MeterEntry is the engine's view of one archive meter. Source keeps the archive row with
// its password for drivers; the API never returns it.
type MeterEntry struct {
	Address     string
	Protocol    string
	Kind        string // plain or cost_control
	MeterNumber string
	Protected   bool
	Route       MeterRoute
	Source      archive.Meter
	// Bus, Link and Model are the archive rows the route names, nil when it names none.
	Bus   *archive.Bus
	Link  *archive.Link
	Model *archive.ModbusModel
}

// supports reports whether the meter's protocol has the action: DL/T 645-1997 defines no
// relay control, and Modbus register maps have a relay coil but no alarm, guarantee or
// clock.
func (m *MeterEntry) supports(a Action) bool {
	switch m.Protocol {
	case archive.ProtocolDLT645v2007:
		return true
	case archive.ProtocolDLT645v1997:
		return a == ActionRead || a == ActionPing || a == ActionSyncTime
	case archive.ProtocolModbus:
		return a == ActionRead || a == ActionPing || a == ActionTrip || a == ActionClose
	}
	return false
}

// terminalSupports reports whether a terminal control turn has the action: AFN05 F1 trip,
// F2 allow close, F25/F33 guarantee, F31 time sync, AFN0C reads.
func terminalSupports(a Action) bool {
	switch a {
	case ActionTrip, ActionAllowClose, ActionGuarantee, ActionGuaranteeRelease, ActionRead,
		ActionPing, ActionSyncTime:
		return true
	}
	return false
}

// directory is an immutable, resolved archive; an import replaces it whole.
type directory struct {
	archive   *archive.Archive
	meters    map[string]*MeterEntry
	terminals map[string]*archive.Terminal
	// meterCount counts the meters routed through each terminal (blast-radius guard).
	meterCount map[string]int
}

func newDirectory(a *archive.Archive) *directory {
	d := &directory{archive: a, meters: map[string]*MeterEntry{},
		terminals: map[string]*archive.Terminal{}, meterCount: map[string]int{}}
	if a == nil {
		d.archive = &archive.Archive{}
		return d
	}
	buses := map[string]*archive.Bus{}
	for i := range a.Buses {
		buses[a.Buses[i].Name] = &a.Buses[i]
	}
	links := map[string]*archive.Link{}
	for i := range a.Links {
		links[a.Links[i].Name] = &a.Links[i]
	}
	models := map[string]*archive.ModbusModel{}
	for i := range a.ModbusModels {
		models[a.ModbusModels[i].Name] = &a.ModbusModels[i]
	}
	for i := range a.Terminals {
		d.terminals[a.Terminals[i].Address] = &a.Terminals[i]
	}
	for _, m := range a.Meters {
		e := &MeterEntry{Address: m.Address, Protocol: m.Protocol, Kind: m.Kind,
			MeterNumber: m.Number(), Protected: m.Protected, Source: m}
		r := m.Route
		e.Route = MeterRoute{Kind: string(r.Kind()), Terminal: r.Terminal, Point: r.Point,
			Port: r.Port, Baud: m.Baud(), Bus: r.Bus, Link: r.Link}
		if r.Modbus != nil {
			e.Route.Endpoint, e.Route.Unit, e.Route.Model = r.Modbus.Endpoint, r.Modbus.Unit,
				r.Modbus.Model
			if mm, ok := models[r.Modbus.Model]; ok {
				e.Model = mm
			} else {
				def := archive.DefaultModbusModel()
				e.Model = &def
			}
		}
		e.Bus, e.Link = buses[r.Bus], links[r.Link]
		if e.Route.Kind == RouteTerminal {
			d.meterCount[r.Terminal]++
		}
		d.meters[m.Address] = e
	}
	return d
}

func decodeStoredArchive(data []byte) (*directory, error) {
	a, err := archive.DecodeJSON(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return newDirectory(a), nil
}

// ImportArchive validates an import against the current archive, replacing its sections
// (merge false) or upserting its rows (merge true), persists the result and makes it
// current, all or nothing. Queued commands keep the route they were submitted with.
// Validation errors are the archive package's *archive.ValidationError.
func (e *Engine) ImportArchive(update *archive.Archive, merge bool) (*archive.Archive,
	error) {
	e.importMu.Lock()
	defer e.importMu.Unlock()
	e.mu.Lock()
	base := e.dir.archive
	e.mu.Unlock()
	var next *archive.Archive
	var err error
	if merge {
		next, err = archive.Merge(base, update)
	} else {
		next, err = archive.Replace(base, update)
	}
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := archive.EncodeJSON(&buf, next); err != nil {
		return nil, err
	}
	if err := e.store.PutArchive(buf.Bytes()); err != nil {
		return nil, err
	}
	d := newDirectory(next)
	e.mu.Lock()
	e.dir = d
	e.current.Store(d)
	e.mu.Unlock()
	e.log.Info("archive imported", zap.Bool("merge", merge), zap.Int("meters",
		len(next.Meters)), zap.Int("terminals", len(next.Terminals)))
	return next.Redacted(), nil
}

// Archive returns the current archive without password values.
func (e *Engine) Archive() *archive.Archive {
	e.mu.Lock()
	a := e.dir.archive
	e.mu.Unlock()
	return a.Redacted()
}
