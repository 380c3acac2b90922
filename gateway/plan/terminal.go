package plan

import (
	"context"
	"encoding/binary"
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
	forwardByteTimeout10ms = 10 // 100 ms between reply bytes
)

// baudCodes are the D7–D5 codes of the AFN10 F1 port control byte.
var baudCodes = map[int]byte{300: 0, 600: 1, 1200: 2, 2400: 3, 4800: 4, 7200: 5, 9600: 6,
	19200: 7}

// portControl returns the AFN10 F1 control byte: baud code, one stop bit, even parity,
// 8 data bits (2400 8E1 is 0x6B).
func portControl(baud int) byte {
	code, ok := baudCodes[baud]
	if !ok {
		code = baudCodes[2400]
	}
	return code<<5 | 0x08 | 0x03
}

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

// forwardData builds the AFN10 F1 downlink data unit: p0 F1, port, control byte, frame
// timeout (seconds, D7 set), byte timeout (10 ms units), content length and content.
// NOTE: built here from the field list of the standard because the gw376 unit table did
// not cover AFN10 F1 when this was written.
func forwardData(port int, baud int, timeout time.Duration, content []byte) ([]byte, error) {
	id, err := gw376.IDFor(0, 1)
	if err != nil {
		return nil, err
	}
	secs := int(timeout / time.Second)
	secs = max(1, min(secs, 127))
	data := id.Append(make([]byte, 0, 4+6+len(content)))
	data = append(data, byte(port), portControl(baud), 0x80|byte(secs),
		forwardByteTimeout10ms)
	data = binary.LittleEndian.AppendUint16(data, uint16(len(content)))
	return append(data, content...), nil
}

// forwardReply returns the forwarded content of an AFN10 F1 uplink: p0 F1, port, length,
// content. Empty content means the meter did not answer the terminal.
func forwardReply(f *gw376.Frame) ([]byte, bool) {
	d := f.Data
	if f.AFN != gw376.AFNForward || len(d) < 4+3 {
		return nil, false
	}
	k := int(binary.LittleEndian.Uint16(d[5:7]))
	if len(d) < 7+k {
		return nil, false
	}
	return d[7 : 7+k], true
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
