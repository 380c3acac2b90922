package terminal

import (
	"context"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/simulator/meter"
)

// maxSilentWait caps how long the terminal waits for a meter that does not answer before it
// returns an empty forward. A field terminal waits the request's frame timeout (often 60 s);
// the cap keeps tests and demos short.
const maxSilentWait = 3 * time.Second

// Results of AFN10 F9 (转发结果标志).
const (
	f9CannotForward = 0
	f9Timeout       = 1
	f9Denied        = 4
	f9Data          = 5
)

// forwardUnits executes AFN10 F1 (transparent forward) and F9 (read a meter's DI) units,
// one forward at a time.
func (t *Terminal) forwardUnits(ctx context.Context, units []unitRequest) []replyUnit {
	var out []replyUnit
	for _, u := range units {
		if u.pn != 0 {
			continue
		}
		switch u.fn {
		case 1:
			port, timeout := u.data[0], frameTimeout(u.data[2])
			content := u.data[6:]
			reply := t.forward(ctx, port, content, timeout)
			data := append([]byte{port, byte(len(reply)), byte(len(reply) >> 8)}, reply...)
			out = append(out, replyUnit{fn: 1, data: data})
		case 9:
			out = append(out, replyUnit{fn: 9, data: t.forwardRead(ctx, u.data)})
		}
	}
	return out
}

// frameTimeout decodes the frame-timeout byte: D7 unit (0 = 10 ms, 1 = s), D6–D0 value.
func frameTimeout(b byte) time.Duration {
	unit := 10 * time.Millisecond
	if b&0x80 != 0 {
		unit = time.Second
	}
	return time.Duration(b&0x7F) * unit
}

// forwardRead executes AFN10 F9: port, relay count and addresses, target, DI type, DI.
func (t *Terminal) forwardRead(ctx context.Context, d []byte) []byte {
	port := d[0]
	n := int(d[1])
	if n == 0xFF {
		n = 0
	}
	target := d[2+6*n : 8+6*n]
	kind := d[8+6*n] & 0x03
	di := d[9+6*n : 13+6*n]
	out := append([]byte{port}, target...)

	addr, err := protocol.MeterAddressFromWire(target)
	if err != nil {
		return append(out, f9CannotForward, 0)
	}
	var req *dlt645.Frame
	if kind == 0 {
		req = dlt645.NewReadRequest97(addr, dlt645.DI97(uint16(di[0])|uint16(di[1])<<8))
	} else {
		req = dlt645.NewReadRequest(addr, dlt645.DI(le32(di)))
	}
	content, err := dlt645.Encode(req)
	if err != nil {
		return append(out, f9CannotForward, 0)
	}
	raw := t.forward(ctx, port, content, maxSilentWait)
	if len(raw) == 0 {
		return append(out, f9Timeout, 0)
	}
	reply, err := dlt645.Decode(raw)
	if err != nil {
		return append(out, f9Denied, 0)
	}
	if reply.Control.IsAbnormal() {
		return append(out, f9Denied, 0)
	}
	diLen := 4
	if kind == 0 {
		diLen = 2
	}
	if len(reply.Data) < diLen {
		return append(out, f9Denied, 0)
	}
	value := reply.Data[diLen:]
	out = append(out, f9Data, byte(len(value)+4))
	out = append(out, di...)
	return append(out, value...)
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// forward puts a DL/T 645 frame on port, waits as the channel and the meter would, and
// returns the reply bytes, or none when no meter answers or two collide.
func (t *Terminal) forward(ctx context.Context, port byte, content []byte, timeout time.Duration) []byte {
	now := time.Now()
	latency := t.cfg.Latency.Draw()
	t.mu.Lock()
	carrierLoss := t.faults.CarrierLoss
	t.mu.Unlock()

	req, err := dlt645.Decode(content)
	var replies []*dlt645.Frame
	var answered *meter.Meter
	var delay time.Duration
	if err == nil && !carrierLoss {
		for _, a := range t.meters {
			if a.Port != port {
				continue
			}
			r, d := a.Meter.Handle(req, now, t.cfg.MeterDelay.Draw())
			if r != nil {
				replies = append(replies, r)
				answered, delay = a.Meter, d
			}
		}
	}

	timing := ForwardTiming{LatencyMs: ms(latency)}
	var reply []byte
	wait := latency
	switch {
	case len(replies) == 1:
		reply, _ = dlt645.Encode(replies[0])
		byteTime := meter.ByteTime(answered.Baud())
		bytes := time.Duration(len(content)+len(reply)) * byteTime
		wait += delay + bytes
		timing.MeterMs, timing.BytesMs = ms(delay), ms(bytes)
		timing.Meter = answered.Address().String()
		timing.Answered = true
	default:
		// No reply, or a collision that leaves only garbled bytes: the terminal waits its
		// frame timeout and returns nothing.
		wait += min(max(timeout, 500*time.Millisecond), maxSilentWait)
	}
	timing.TotalMs = ms(wait)
	t.mu.Lock()
	t.stats.Forwards++
	t.stats.LatencyMs += timing.LatencyMs
	t.stats.MeterMs += timing.MeterMs
	t.stats.BytesMs += timing.BytesMs
	t.stats.Last = timing
	t.mu.Unlock()

	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return nil
	case <-timer.C:
	}
	return reply
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// reportFrame builds the active report (AFN0E F1) of one event record: C=C4 without
// confirmation, or C=CA with CON when AFN04 F1 asks events to be confirmed; t.mu must be
// held.
func (t *Terminal) reportFrame(r pendingReport) gw376.Frame {
	fc := gw376.FuncUserData
	if t.reportCon {
		fc = gw376.FuncRequestClass1
	}
	fn := uint8(1)
	count := t.ec.Important
	if !r.important {
		fn, count = 2, t.ec.General
	}
	id, _ := gw376.IDFor(0, fn)
	data := id.Append(nil)
	data = append(data, t.ec.Important, t.ec.General, count-1, count)
	data = append(data, r.record...)
	return gw376.Frame{
		Control: gw376.Control{Up: true, PRM: true, Func: fc},
		Address: t.cfg.Address,
		AFN:     gw376.AFNClass3,
		Seq:     gw376.Seq{FIR: true, FIN: true, CON: t.reportCon, Num: t.nextPSEQ()},
		Data:    data,
	}
}
