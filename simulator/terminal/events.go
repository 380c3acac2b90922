package terminal

import (
	"fmt"
	"math"
	"time"

	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
)

// maxEvents bounds the event records a terminal keeps per class.
const maxEvents = 32

// event is one stored ERC record with its index in the counter of its class.
type event struct {
	important bool
	index     uint8
	record    []byte
}

// addEvent stores a record, counts it in EC and queues it for an active report; t.mu must
// be held.
func (t *Terminal) addEvent(record []byte, important bool) {
	var index uint8
	if important {
		index = t.ec.Important
		t.ec.Important++
	} else {
		index = t.ec.General
		t.ec.General++
	}
	t.events = append(t.events, event{important: important, index: index, record: record})
	if len(t.events) > maxEvents {
		t.events = t.events[len(t.events)-maxEvents:]
	}
	t.pending = append(t.pending, pendingReport{important: important, record: record})
	if len(t.pending) > maxEvents {
		t.pending = t.pending[len(t.pending)-maxEvents:]
	}
	t.kick()
}

// eventUnits answers AFN0E F1 (important) or F2 (general) for the records Pm ≤ i < Pn;
// t.mu must be held.
func (t *Terminal) eventUnits(u unitRequest) []replyUnit {
	pm, pn := u.data[0], u.data[1]
	important := u.fn == 1
	var recs [][]byte
	for _, e := range t.events {
		if e.important != important {
			continue
		}
		if inWindow(e.index, pm, pn) {
			recs = append(recs, e.record)
		}
	}
	var out []replyUnit
	for len(recs) > 0 || out == nil {
		k := min(len(recs), 16)
		data := []byte{t.ec.Important, t.ec.General, pm, pn}
		for _, r := range recs[:k] {
			data = append(data, r...)
		}
		out = append(out, replyUnit{fn: u.fn, data: data})
		recs = recs[k:]
	}
	return out
}

// inWindow reports whether counter value i lies in [pm, pn) modulo 256.
func inWindow(i, pm, pn uint8) bool {
	return uint8(i-pm) < uint8(pn-pm)
}

// ercPower is ERC14 (终端停/上电): power-off time and power-on time, A.15 each.
func ercPower(off, on time.Time) []byte {
	r := []byte{14, 10}
	r = append(r, make([]byte, 10)...)
	gw376.PutA15(r[2:], off)
	gw376.PutA15(r[7:], on)
	return r
}

// ercTrip is ERC5 (遥控跳闸): trip time (A.15), turns (BS8), power at the trip and two
// minutes after (A.2, kW).
func ercTrip(at time.Time, turns uint8, kw float64) []byte {
	r := []byte{5, 10}
	r = append(r, make([]byte, 5)...)
	gw376.PutA15(r[2:], at)
	r = append(r, turns)
	r = appendA2(r, kw)
	return appendA2(r, kw)
}

// appendA2 appends kW in format A.2: three BCD digits, a sign bit and a power-of-ten
// exponent G3G2G1 (000 = 10^4 … 111 = 10^-3).
func appendA2(dst []byte, kw float64) []byte {
	sign := byte(0)
	if kw < 0 {
		sign, kw = 0x10, -kw
	}
	for g := 7; g >= 0; g-- {
		scale := math.Pow10(4 - g)
		digits := math.Round(kw / scale)
		if digits <= 999 || g == 0 {
			d := uint64(min(digits, 999))
			var b [2]byte
			_ = protocol.EncodeBCD(b[:], d)
			return append(dst, b[0], byte(g)<<5|sign|b[1]&0x0F)
		}
	}
	return dst
}

// faultNames returns the names of the faults that are on; t.mu must be held.
func (t *Terminal) faultNames() []string {
	f := t.faults
	out := []string{}
	add := func(on bool, name string) {
		if on {
			out = append(out, name)
		}
	}
	add(f.Offline, FaultOffline)
	add(f.Silent, FaultSilent)
	add(f.CarrierLoss, FaultCarrierLoss)
	add(f.HalfOpen, FaultHalfOpen)
	add(f.HeartbeatStop, FaultHeartbeatStop)
	add(f.DuplicateLogin, FaultDuplicateLogin)
	add(f.Flapping, FaultFlapping)
	add(f.CorruptRate > 0, FaultCorrupt)
	return out
}

// Terminal fault names, as the control API and scenario files write them.
const (
	FaultOffline        = "offline"
	FaultSilent         = "silent"
	FaultCarrierLoss    = "carrier_loss"
	FaultHalfOpen       = "half_open"
	FaultHeartbeatStop  = "heartbeat_stop"
	FaultDuplicateLogin = "duplicate_login"
	FaultFlapping       = "flapping"
	FaultCorrupt        = "corrupt"
)

// FaultNames lists the terminal faults.
var FaultNames = []string{
	FaultOffline, FaultSilent, FaultCarrierLoss, FaultHalfOpen, FaultHeartbeatStop,
	FaultDuplicateLogin, FaultFlapping, FaultCorrupt,
}

// ErrUnknownFault is returned for a fault name a terminal does not have.
var ErrUnknownFault = fmt.Errorf("terminal: unknown fault")

// SetFault switches a fault on or off; corrupt takes its rate (0 < rate ≤ 1, default 1)
// from rate. Safe from any goroutine.
func (t *Terminal) SetFault(name string, on bool, rate float64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := &t.faults
	switch name {
	case FaultOffline:
		f.Offline = on
		if on {
			t.closeLocked()
		}
	case FaultSilent:
		f.Silent = on
	case FaultCarrierLoss:
		f.CarrierLoss = on
	case FaultHalfOpen:
		f.HalfOpen = on
	case FaultHeartbeatStop:
		f.HeartbeatStop = on
	case FaultDuplicateLogin:
		f.DuplicateLogin = on
	case FaultFlapping:
		f.Flapping = on
		if on {
			t.closeLocked()
		}
	case FaultCorrupt:
		f.CorruptRate = 0
		if on {
			if rate <= 0 || rate > 1 {
				rate = 1
			}
			f.CorruptRate = rate
		}
	default:
		return fmt.Errorf("%w %q; want one of %v", ErrUnknownFault, name, FaultNames)
	}
	t.kick()
	return nil
}
