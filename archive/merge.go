package archive

// Merge upserts every row of update into a copy of base, keyed by terminal address, bus,
// link and model name, and meter address: a row with a known key replaces the old row in
// place, a new key is appended. It validates the result as a whole (Validate) and returns
// either the merged archive or every problem, leaving base unchanged in both cases.
func Merge(base, update *Archive) (*Archive, error) {
	next := base.Clone()
	next.forgetRows()
	upd := update.Clone()
	next.Terminals = upsert(next.Terminals, upd.Terminals, func(t Terminal) string { return t.Address })
	next.Buses = upsert(next.Buses, upd.Buses, func(b Bus) string { return b.Name })
	next.Links = upsert(next.Links, upd.Links, func(l Link) string { return l.Name })
	next.ModbusModels = upsert(next.ModbusModels, upd.ModbusModels, func(m ModbusModel) string { return m.Name })
	next.Meters = upsert(next.Meters, upd.Meters, func(m Meter) string { return m.Address })
	if err := Validate(next); err != nil {
		return nil, err
	}
	return next, nil
}

// Replace returns a copy of base whose sections are replaced by those present in update:
// a nil section of update keeps base's, so a CSV import (meters only) replaces the meters
// and keeps terminals, buses, links and models. It validates the result as a whole and
// returns either it or every problem, leaving base unchanged.
func Replace(base, update *Archive) (*Archive, error) {
	next := base.Clone()
	next.forgetRows()
	upd := update.Clone()
	if upd.Terminals != nil {
		next.Terminals = upd.Terminals
	}
	if upd.Buses != nil {
		next.Buses = upd.Buses
	}
	if upd.Links != nil {
		next.Links = upd.Links
	}
	if upd.ModbusModels != nil {
		next.ModbusModels = upd.ModbusModels
	}
	if upd.Meters != nil {
		next.Meters = upd.Meters
	}
	if err := Validate(next); err != nil {
		return nil, err
	}
	return next, nil
}

// forgetRows marks the rows of an archive as unknown, so that problems found after a merge
// cite only the rows of the import (the others are named by key).
func (a *Archive) forgetRows() {
	for i := range a.Terminals {
		a.Terminals[i].row = -1
	}
	for i := range a.Buses {
		a.Buses[i].row = -1
	}
	for i := range a.Links {
		a.Links[i].row = -1
	}
	for i := range a.ModbusModels {
		a.ModbusModels[i].row = -1
	}
	for i := range a.Meters {
		a.Meters[i].row = -1
	}
}

func upsert[T any](base, update []T, key func(T) string) []T {
	if update == nil {
		return base
	}
	index := make(map[string]int, len(base))
	for i, row := range base {
		index[key(row)] = i
	}
	for _, row := range update {
		if i, ok := index[key(row)]; ok {
			base[i] = row
			continue
		}
		index[key(row)] = len(base)
		base = append(base, row)
	}
	return base
}

// Index is a read-only lookup over an archive by meter address and by terminal. Build it
// once per archive version; it is safe for concurrent readers and never changes.
type Index struct {
	meters     map[string]int
	byTerminal map[string][]int
	terminals  map[string]int
	archive    *Archive
}

// NewIndex indexes a validated archive. The archive must not change afterwards.
func NewIndex(a *Archive) *Index {
	ix := &Index{
		meters:     make(map[string]int, len(a.Meters)),
		byTerminal: map[string][]int{},
		terminals:  make(map[string]int, len(a.Terminals)),
		archive:    a,
	}
	for i, m := range a.Meters {
		ix.meters[m.Address] = i
		if m.Route.Terminal != "" {
			ix.byTerminal[m.Route.Terminal] = append(ix.byTerminal[m.Route.Terminal], i)
		}
	}
	for i, t := range a.Terminals {
		ix.terminals[t.Address] = i
	}
	return ix
}

// Meter returns the meter with the 12-digit address.
func (ix *Index) Meter(address string) (Meter, bool) {
	i, ok := ix.meters[address]
	if !ok {
		return Meter{}, false
	}
	return ix.archive.Meters[i], true
}

// Terminal returns the terminal with the A1A2 address.
func (ix *Index) Terminal(address string) (Terminal, bool) {
	i, ok := ix.terminals[address]
	if !ok {
		return Terminal{}, false
	}
	return ix.archive.Terminals[i], true
}

// MetersOf returns the meters routed through the terminal, in archive order.
func (ix *Index) MetersOf(terminal string) []Meter {
	rows := ix.byTerminal[terminal]
	out := make([]Meter, len(rows))
	for i, r := range rows {
		out[i] = ix.archive.Meters[r]
	}
	return out
}

// ModbusModel returns the named register map, including the built-in default.
func (ix *Index) ModbusModel(name string) (ModbusModel, bool) {
	for _, m := range ix.archive.ModbusModels {
		if m.Name == name {
			return m, true
		}
	}
	if name == DefaultModbusModelName {
		return DefaultModbusModel(), true
	}
	return ModbusModel{}, false
}
