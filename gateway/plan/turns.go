package plan

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/transport"
)

// Turns is the execution plan of a terminal's own control turns (专变终端 load-control
// outputs): AFN05 F1 trip and F2 allow close per turn, F25/F33 guarantee, F31 time sync,
// read back with AFN0C F5 (control settings) and F6 (current control state). It is safe
// for concurrent use.
type Turns struct {
	Server *transport.Server
	// Location is the zone of terminal clocks; nil means Asia/Shanghai.
	Location *time.Location
}

func (t *Turns) request(ctx context.Context, d gateway.Device, afn gw376.AFN, data []byte,
	once bool) (*transport.Response, error) {
	term, err := protocol.ParseTerminalAddress(d.Terminal)
	if err != nil {
		return nil, gateway.Fail(gateway.ReasonInternal, nil, "terminal %q: %v", d.Terminal, err)
	}
	req, err := gw376.NewRequest(term, 1, afn, 0, data)
	if err != nil {
		return nil, gateway.Fail(gateway.ReasonInternal, nil, "build AFN%02X: %v", byte(afn),
			err)
	}
	opts := transport.RequestOptions{}
	if once {
		opts.Attempts = 1
	}
	resp, err := t.Server.RequestWith(ctx, term, &req, opts)
	if err != nil {
		return nil, failTransport(ctx, err, false)
	}
	return resp, nil
}

// Control sends one AFN05 command; the terminal confirms with AFN00.
func (t *Turns) Control(ctx context.Context, d gateway.Device, c gateway.Control) error {
	var unit gw376.UnitValue
	switch c.Action {
	case gateway.ActionTrip:
		// Trip at once (alarm delay 0) and hold until allowed (limit time 0).
		unit = gw376.UnitValue{Pn: uint16(d.Turn), Fn: 1, Value: map[string]any{
			"timing": map[string]any{"limit_half_hours": 0, "alarm_delay_min": 0}}}
	case gateway.ActionAllowClose:
		unit = gw376.UnitValue{Pn: uint16(d.Turn), Fn: 2}
	case gateway.ActionGuarantee:
		unit = gw376.UnitValue{Fn: 25, Value: map[string]any{"duration_half_hours": 0}}
	case gateway.ActionGuaranteeRelease:
		unit = gw376.UnitValue{Fn: 33}
	default:
		return gateway.Fail(gateway.ReasonInternal, nil, "no AFN05 command for %s", c.Action)
	}
	data, err := gw376.AppendUnits(nil, gw376.AFNControl, gw376.Down, []gw376.UnitValue{unit})
	if err != nil {
		return gateway.Fail(gateway.ReasonInternal, nil, "build AFN05 F%d: %v", unit.Fn, err)
	}
	resp, err := t.request(ctx, d, gw376.AFNControl, data, true)
	if err != nil {
		return err
	}
	return confirmed(resp)
}

// confirmed checks an AFN00 reply: F1, or F3 with every ERR 0.
func confirmed(resp *transport.Response) error {
	for _, f := range resp.Frames {
		if f.AFN != gw376.AFNConfirm {
			continue
		}
		for _, u := range f.Units().List {
			if u.Fn == 2 {
				return gateway.Fail(gateway.ReasonTerminalDenied, frameEvidence(f),
					"terminal denied the control")
			}
			if u.Fn != 3 {
				continue
			}
			if results := gw376.FindNode(u.Fields, "results"); results != nil {
				for _, item := range results.Items {
					if e := gw376.FindNode(item.Fields, "err"); e != nil {
						if v, ok := e.Int(); ok && v != 0 {
							return gateway.Fail(gateway.ReasonTerminalDenied,
								frameEvidence(f), "terminal denied the control (ERR %d)", v)
						}
					}
				}
			}
		}
		return nil
	}
	return gateway.Fail(gateway.ReasonChannelError, nil, "terminal answered without AFN00")
}

func frameEvidence(f *gw376.Frame) *gateway.Evidence {
	b, err := gw376.Encode(f)
	if err != nil {
		return nil
	}
	return &gateway.Evidence{FrameHex: hex.EncodeToString(b)}
}

// class1 reads AFN0C units of p0 and returns the decoded units of the reply.
func (t *Turns) class1(ctx context.Context, d gateway.Device, fns ...uint8) ([]gw376.Unit,
	error) {
	var data []byte
	for _, fn := range fns {
		id, err := gw376.IDFor(0, fn)
		if err != nil {
			return nil, gateway.Fail(gateway.ReasonInternal, nil, "AFN0C F%d: %v", fn, err)
		}
		data = id.Append(data)
	}
	resp, err := t.request(ctx, d, gw376.AFNClass1, data, false)
	if err != nil {
		return nil, err
	}
	var units []gw376.Unit
	for _, f := range resp.Frames {
		if f.AFN == gw376.AFNClass1 {
			units = append(units, f.Units().List...)
		}
	}
	return units, nil
}

func firstByte(fields []gw376.Node, name string) (byte, bool) {
	n := gw376.FindNode(fields, name)
	if n == nil || len(n.Raw) == 0 {
		return 0, false
	}
	return n.Raw[0], true
}

// Status reads AFN0C F5 and F6: the turn's remote-trip output bit is the relay state,
// F5's guarantee flag and F6's fee-alarm flag complete it.
func (t *Turns) Status(ctx context.Context, d gateway.Device) (gateway.RelayStatus, error) {
	units, err := t.class1(ctx, d, 5, 6)
	if err != nil {
		return gateway.RelayStatus{}, err
	}
	st := gateway.RelayStatus{Word: -1}
	found := 0
	for _, u := range units {
		switch u.Fn {
		case 5:
			if b, ok := firstByte(u.Fields, "flags"); ok {
				st.Guarantee = b&0x01 != 0
				found++
			}
		case 6:
			if b, ok := firstByte(u.Fields, "remote_trip"); ok && d.Turn >= 1 {
				st.Open = b&(1<<(d.Turn-1)) != 0
				st.CommandOpen = st.Open
				found++
			} else if ok {
				found++
			}
			if b, ok := firstByte(u.Fields, "fee_alarm"); ok {
				st.Alarm = b&0x01 != 0
			}
		}
	}
	if found < 2 {
		return st, gateway.Fail(gateway.ReasonChannelError, nil,
			"terminal reply lacks AFN0C F5 or F6")
	}
	return st, nil
}

// Read returns the turn's relay_state and the terminal clock; other items are meter items
// and fail with meter_rejected.
func (t *Turns) Read(ctx context.Context, d gateway.Device, items []string) (
	map[string]gateway.Reading, error) {
	out := map[string]gateway.Reading{}
	for _, name := range items {
		switch name {
		case "relay_state":
			st, err := t.Status(ctx, d)
			if err != nil {
				return nil, err
			}
			out[name] = gateway.Reading{Value: gateway.Relay{State: openClosed(st.Open),
				CommandState: openClosed(st.CommandOpen), Guarantee: st.Guarantee,
				Alarm: st.Alarm}}
		case "clock":
			units, err := t.class1(ctx, d, 2)
			if err != nil {
				return nil, err
			}
			for _, u := range units {
				if n := gw376.FindNode(u.Fields, "clock"); u.Fn == 2 && n != nil {
					out[name] = gateway.Reading{Value: n.Value}
				}
			}
		default:
			return nil, gateway.Fail(gateway.ReasonMeterRejected, &gateway.Evidence{
				Detail: name}, "a terminal control turn has no item %s", name)
		}
	}
	return out, nil
}

// SyncTime sends AFN05 F31 with the time in the terminal's zone.
func (t *Turns) SyncTime(ctx context.Context, d gateway.Device, now time.Time) error {
	loc := t.Location
	if loc == nil {
		loc = time.FixedZone("CST", 8*3600)
	}
	var a1 [gw376.A1Len]byte
	gw376.PutA1(a1[:], now.In(loc))
	data, err := gw376.AppendUnits(nil, gw376.AFNControl, gw376.Down, []gw376.UnitValue{{
		Fn: 31, Value: map[string]any{"time": nil, "time_raw": hex.EncodeToString(a1[:])}}})
	if err != nil {
		return gateway.Fail(gateway.ReasonInternal, nil, "build AFN05 F31: %v", err)
	}
	resp, err := t.request(ctx, d, gw376.AFNControl, data, true)
	if err != nil {
		return err
	}
	return confirmed(resp)
}

// Ping reads the terminal clock (AFN0C F2).
func (t *Turns) Ping(ctx context.Context, d gateway.Device) error {
	_, err := t.class1(ctx, d, 2)
	return err
}

var _ gateway.Driver = (*Turns)(nil)
