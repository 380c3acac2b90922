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

// Forward timeouts written into AFN10 F1 (the terminal's wait for the meter). Security
// requests get longer, because meters stretch their reply time while the ESAM works.
const (
	forwardTimeoutRead     = 5 * time.Second
	forwardTimeoutSecurity = 10 * time.Second
	// defaultForwardBaud is used when a route has no baud rate (DL/T 645-2007 meters).
	defaultForwardBaud = 2400
)

// forwardID is the data-unit identifier p0 F1 of AFN10 (透明转发). IDFor cannot fail for
// p0 F1, so the error is dropped.
var forwardID, _ = gw376.IDFor(0, 1)

// Forwarder is the Exchanger of meters behind terminals: it wraps each DL/T 645 frame in
// an AFN10 F1 transparent forward on the meter's port. It is safe for concurrent use.
type Forwarder struct {
	Server *transport.Server
	// ReadTimeout and ControlTimeout are the meter reply waits written into AFN10 F1 for
	// reads and for relay controls and security requests; 0 means 5 s and 10 s. The
	// terminal server adds its forward margin to them.
	ReadTimeout    time.Duration
	ControlTimeout time.Duration
}

// forwardData builds the AFN10 F1 downlink data area: p0 F1 and a gw376.ForwardRequest
// with 8E1 port settings. The frame timeout is rounded down to whole seconds within 1 to
// 127 s, the range of the timeout byte's seconds form.
func forwardData(port int, baud int, timeout time.Duration, content []byte) ([]byte, error) {
	if port < 0 || port > 255 {
		return nil, protocol.Errorf(protocol.ErrInvalidValue, -1, int64(port),
			"forward port must be 0 to 255")
	}
	if baud == 0 {
		baud = defaultForwardBaud
	}
	secs := max(1, min(timeout/time.Second, 127))
	req := gw376.DLT645Settings(uint8(port), baud, secs*time.Second)
	req.Frame = content
	data := forwardID.Append(make([]byte, 0, 4+6+len(content)))
	return req.Append(data)
}

// forwardReply returns the forwarded content of an AFN10 F1 uplink, parsed by
// gw376.ParseForwardReply after the p0 F1 identifier. Empty content means the meter did
// not reply to the terminal. It returns false for any other AFN or data unit.
func forwardReply(f *gw376.Frame) ([]byte, bool) {
	d := f.Data
	if f.AFN != gw376.AFNForward || len(d) < 4 || gw376.IDFromWire(d) != forwardID {
		return nil, false
	}
	reply, err := gw376.ParseForwardReply(d[4:])
	if err != nil {
		return nil, false
	}
	return reply.Frame, true
}

// Exchange forwards one DL/T 645 frame through the meter's terminal.
func (fw *Forwarder) Exchange(ctx context.Context, m *gateway.MeterEntry, frame []byte,
	kind string) ([]byte, error) {
	term, err := protocol.ParseTerminalAddress(m.Route.Terminal)
	if err != nil {
		return nil, gateway.Fail(gateway.ReasonInternal, nil, "terminal %q: %v",
			m.Route.Terminal, err)
	}
	timeout := orDuration(fw.ReadTimeout, forwardTimeoutRead)
	opts := transport.RequestOptions{}
	if kind == "relay_control" || kind == "security" {
		timeout = orDuration(fw.ControlTimeout, forwardTimeoutSecurity)
		// A control is written once; a lost reply is resolved by reading the status.
		opts.Attempts = 1
	}
	content := append([]byte(nil), 0xFE, 0xFE, 0xFE, 0xFE)
	content = append(content, frame...)
	data, err := forwardData(m.Route.Port, m.Route.Baud, timeout, content)
	if err != nil {
		return nil, gateway.Fail(gateway.ReasonInternal, nil, "build AFN10 F1: %v", err)
	}
	req, err := gw376.NewRequest(term, 1, gw376.AFNForward, 0, data)
	if err != nil {
		return nil, gateway.Fail(gateway.ReasonInternal, nil, "build AFN10 request: %v", err)
	}
	resp, err := fw.Server.RequestWith(ctx, term, &req, opts)
	if err != nil {
		return nil, failTransport(ctx, err, false)
	}
	for _, f := range resp.Frames {
		content, ok := forwardReply(f)
		if !ok {
			continue
		}
		if len(content) == 0 {
			if kind == "broadcast_time" {
				return nil, nil
			}
			return nil, gateway.Fail(gateway.ReasonMeterTimeout, &gateway.Evidence{
				Attempts: resp.Attempts}, "terminal forwarded the request but the meter "+
				"did not answer")
		}
		return content, nil
	}
	raw := ""
	if len(resp.Frames) > 0 {
		if b, err := gw376.Encode(resp.Frames[0]); err == nil {
			raw = hex.EncodeToString(b)
		}
	}
	return nil, gateway.Fail(gateway.ReasonChannelError, &gateway.Evidence{FrameHex: raw},
		"terminal reply carries no AFN10 F1 data unit")
}

func orDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
