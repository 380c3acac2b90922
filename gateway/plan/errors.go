package plan

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/transport"
)

// failTransport maps a transport error to a failure reason. onBus selects the reasons of
// a local line, where a silent line means the meter sent no reply.
func failTransport(ctx context.Context, err error, onBus bool) error {
	if ctx.Err() != nil {
		return gateway.Fail(gateway.ReasonDeadlineExpired, nil, "deadline reached: %v", err)
	}
	ev := &gateway.Evidence{Detail: transportDetail(err)}
	var te *transport.TerminalError
	if errors.As(err, &te) {
		ev.Attempts = te.Attempts
		if len(te.Reply) > 0 {
			ev.FrameHex = hex.EncodeToString(te.Reply)
		}
	}
	var be *transport.BusError
	if errors.As(err, &be) {
		ev.Attempts = be.Attempts
		if len(be.Partial) > 0 {
			ev.FrameHex = hex.EncodeToString(be.Partial)
		}
	}
	switch {
	case errors.Is(err, transport.ErrTerminalOffline) && te != nil && te.Attempts > 0:
		// The request was written, then the session ended (heartbeat window, half-open
		// socket, protocol errors): to the command it is an unanswered request.
		return gateway.Fail(gateway.ReasonTerminalTimeout, ev,
			"terminal went offline while the request waited for its reply")
	case errors.Is(err, transport.ErrTerminalOffline):
		return gateway.Fail(gateway.ReasonTerminalOffline, ev, "terminal is offline")
	case errors.Is(err, transport.ErrDenied):
		return gateway.Fail(gateway.ReasonTerminalDenied, ev, "terminal denied the request")
	case errors.Is(err, transport.ErrTimeout), errors.Is(err, transport.ErrNoReply):
		if onBus {
			return gateway.Fail(gateway.ReasonMeterTimeout, ev, "meter did not answer")
		}
		return gateway.Fail(gateway.ReasonTerminalTimeout, ev, "terminal did not answer")
	case errors.Is(err, transport.ErrDisconnected), errors.Is(err, transport.ErrSuperseded):
		if onBus {
			return gateway.Fail(gateway.ReasonChannelError, ev, "link is down")
		}
		return gateway.Fail(gateway.ReasonTerminalTimeout, ev,
			"terminal connection closed before the reply")
	}
	return gateway.Fail(gateway.ReasonChannelError, ev, "channel failed: %v", err)
}

// failMeter maps a DL/T 645 abnormal reply or decoding error to a failure reason, with
// the reply frame as evidence.
func failMeter(err error, reply []byte) error {
	ev := &gateway.Evidence{FrameHex: hex.EncodeToString(reply), Detail: err.Error()}
	var me *dlt645.MeterError
	if errors.As(err, &me) {
		v := int(me.Value)
		ev.ErrorByte = &v
		ev.ErrorBits = me.Bits()
	}
	switch {
	case errors.Is(err, dlt645.ErrSecurity), errors.Is(err, dlt645.ErrMeterSuspended):
		return gateway.Fail(gateway.ReasonSecurityFailed, ev, "meter security check failed")
	case errors.Is(err, dlt645.ErrPasswordRejected):
		return gateway.Fail(gateway.ReasonMeterPasswordRejected, ev,
			"meter rejected the password or the request is not authorized")
	case errors.Is(err, dlt645.ErrGuaranteeActive):
		return gateway.Fail(gateway.ReasonMeterGuaranteeActive, ev,
			"meter refused the trip because power guarantee is on")
	case errors.Is(err, dlt645.ErrDeadlineInvalid):
		return gateway.Fail(gateway.ReasonMeterRejected, ev,
			"meter rejected the command deadline (its clock is past it)")
	case me != nil:
		return gateway.Fail(gateway.ReasonMeterRejected, ev, "meter rejected the request")
	}
	return gateway.Fail(gateway.ReasonChannelError, ev, "reply does not decode: %v", err)
}

// transportDetail describes a transport error for Evidence.Detail. The transport's own
// message counts frame writes as "attempt(s)", which readers confused with the command's
// attempts (Evidence.Attempts, one per send by the engine), so the frame writes of the
// last send are named as such here.
func transportDetail(err error) string {
	var te *transport.TerminalError
	if errors.As(err, &te) {
		msg := fmt.Sprintf("%v: terminal %s, AFN %02X, request frame written %d time(s) "+
			"in this send", te.Kind, te.Terminal, te.AFN, te.Attempts)
		if te.Err != nil {
			msg += ": " + te.Err.Error()
		}
		return msg
	}
	var be *transport.BusError
	if errors.As(err, &be) {
		msg := fmt.Sprintf("%v: bus %s, request frame written %d time(s) in this send",
			be.Kind, be.Bus, be.Attempts)
		if len(be.Partial) > 0 {
			msg += fmt.Sprintf(", %d stray byte(s) % X", len(be.Partial), be.Partial)
		}
		if be.Err != nil {
			msg += ": " + be.Err.Error()
		}
		return msg
	}
	return err.Error()
}
