package meter

import "time"

// WriteRelay sets the relay of a Modbus relay meter from its coil at now: open trips it,
// closed closes it. A Modbus meter has no password, deadline or guarantee; relay_stuck
// still holds the relay. It reports whether the relay now matches the request.
func (m *Meter) WriteRelay(open bool, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := now.UnixNano()
	m.advance(t)
	if open {
		m.relay |= commandOpen
		m.openRelay(t)
		m.ops.Trip++
	} else {
		m.relay &^= commandOpen | closeAllowed
		m.closeRelay(t, m.closeOp)
		m.ops.Close++
	}
	return (m.relay&relayOpen != 0) == open
}

// Access returns what a Modbus request meets at now: whether the meter stays silent (the
// silent fault or no supply) and the extra delay of the slow fault.
func (m *Meter) Access(now time.Time) (silent bool, delay time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(now.UnixNano())
	return m.faults.Silent || m.relay&powerDown != 0, m.faults.Slow
}
