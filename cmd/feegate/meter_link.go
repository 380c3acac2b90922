package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/transport"
)

// meterConn is the part of a transport bus owner the meter commands use: one DL/T 645
// request at a time on a serial port or a TCP link to a serial server.
type meterConn interface {
	Do(ctx context.Context, ex transport.Exchange) (transport.Reply, error)
	Close() error
}

// meterLinkOptions selects and sets up the line to the meters.
type meterLinkOptions struct {
	port      string
	baud      int
	parity    string
	tcp       string
	timeout   time.Duration
	interByte time.Duration
}

// openMeterLink opens the serial port or the TCP link that the options name.
func openMeterLink(o meterLinkOptions) (meterConn, error) {
	cfg := transport.BusConfig{FirstByteTimeout: o.timeout, InterByteTimeout: o.interByte}
	switch {
	case o.port != "" && o.tcp != "":
		return nil, errors.New("give either --port or --tcp, not both")
	case o.tcp != "":
		cfg.Name = o.tcp
		return transport.NewLink(transport.LinkConfig{Bus: cfg, Address: o.tcp,
			DialTimeout: o.timeout + time.Second}), nil
	case o.port != "":
		cfg.Name = o.port
		p, err := transport.OpenSerial(transport.SerialConfig{Device: o.port, Baud: o.baud,
			Parity: o.parity})
		if err != nil {
			return nil, fmt.Errorf("open serial port %s failed: %w (check --port and that "+
				"you may open the device)", o.port, err)
		}
		return transport.NewBus(p, cfg), nil
	}
	return nil, errors.New("missing --port DEVICE or --tcp HOST:PORT")
}

// meterExchange sends request to the meter and decodes its reply. attempts 1 means no retry,
// as password-level commands need.
func meterExchange(ctx context.Context, conn meterConn, request *dlt645.Frame, kind string,
	attempts int) (*dlt645.Frame, error) {
	raw, err := dlt645.Encode(request)
	if err != nil {
		return nil, err
	}
	ex, err := transport.DLT645Exchange(raw, kind)
	if err != nil {
		return nil, err
	}
	ex.Attempts = attempts
	reply, err := conn.Do(ctx, ex)
	if err != nil {
		return nil, err
	}
	return dlt645.Decode(reply.Frame)
}

// meterFailure is a failed meter operation with what to check next.
type meterFailure struct {
	Op      string
	Address protocol.MeterAddress
	Err     error
	Hint    string
}

func (e *meterFailure) Error() string {
	msg := fmt.Sprintf("%s on meter %s failed: %v", e.Op, e.Address, e.Err)
	if e.Address.IsWildcard() {
		msg = fmt.Sprintf("%s (%s) failed: %v", e.Op, e.Address, e.Err)
	}
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

func (e *meterFailure) Unwrap() error { return e.Err }

// meterHint returns what a field engineer should check after err.
func meterHint(err error, o meterLinkOptions) string {
	line := fmt.Sprintf("%d %s", o.baud, lineSetting(o.parity))
	var busErr *transport.BusError
	partial := errors.As(err, &busErr) && len(busErr.Partial) > 0
	switch {
	case errors.Is(err, transport.ErrTimeout) && partial,
		errors.Is(err, transport.ErrNoReply):
		return fmt.Sprintf("bytes arrived but formed no valid frame: check the line setting "+
			"(now %s; DL/T 645-2007 meters default to 2400 8E1, 1997 meters often 1200 8E1)", line)
	case errors.Is(err, transport.ErrTimeout):
		return "no reply: check the wiring (A/B polarity), the meter's power, --address and " +
			"the baud rate (now " + line + ")"
	case errors.Is(err, transport.ErrDisconnected):
		return "the serial server is unreachable: check --tcp and the network"
	case errors.Is(err, dlt645.ErrPasswordRejected):
		return "the meter rejected the password or does not authorize it for this action: " +
			"check --password and --password-level, and do not retry blindly, because " +
			"three wrong passwords lock the level for 24 h. Cost-control meters take a " +
			"plain password for closing only; send trips to them through feegate serve (PA=98)"
	case errors.Is(err, dlt645.ErrGuaranteeActive):
		return "the meter is in power guarantee (保电): release it with guarantee-release first"
	case errors.Is(err, dlt645.ErrDeadlineInvalid):
		return "the meter clock is past the command deadline: check the meter clock or " +
			"raise --valid-for"
	case errors.Is(err, dlt645.ErrSecurity):
		return "the meter requires encrypted (PA=98) relay control, which needs the " +
			"encryption machine: send it through feegate serve"
	case errors.Is(err, dlt645.ErrNoData):
		return "the meter does not support this data identifier: check --edition and the item"
	case errors.Is(err, dlt645.ErrMeterSuspended):
		return "the meter is suspended after repeated security failures: contact the meter owner"
	}
	return ""
}

func lineSetting(parity string) string {
	switch parity {
	case "O", "o":
		return "8O1"
	case "N", "n":
		return "8N1"
	}
	return "8E1"
}
