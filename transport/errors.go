package transport

import (
	"errors"
	"fmt"

	"github.com/feegate/feegate/protocol"
)

// Sentinel errors of the transport layer. They are returned wrapped in a *TerminalError,
// *BusError or *ModbusError that carries the terminal, bus or unit involved, so the command
// engine tests the kind with errors.Is and reads the details with errors.As.
var (
	// ErrTerminalOffline means no logged-in session exists for the terminal.
	ErrTerminalOffline = errors.New("transport: terminal offline")
	// ErrTimeout means no matching reply arrived within the request timeout and its retries.
	ErrTimeout = errors.New("transport: request timed out")
	// ErrSuperseded means a newer connection of the same terminal replaced the session that
	// carried the request.
	ErrSuperseded = errors.New("transport: session superseded by a newer connection")
	// ErrDisconnected means the connection that carried the request closed before the reply.
	ErrDisconnected = errors.New("transport: connection closed")
	// ErrDenied means the terminal answered with AFN00 F2 (deny).
	ErrDenied = errors.New("transport: terminal denied the request")
	// ErrClosed means the server, bus or link was closed by its owner.
	ErrClosed = errors.New("transport: closed")
	// ErrQueueFull means the request queue of a terminal or bus is at its bound.
	ErrQueueFull = errors.New("transport: request queue full")
	// ErrInvalidRequest means a request frame that cannot be sent as given.
	ErrInvalidRequest = errors.New("transport: invalid request")
	// ErrNoReply means a bus reply was cut short: bytes arrived, then stopped for longer
	// than the inter-byte timeout before a whole frame was read.
	ErrNoReply = errors.New("transport: incomplete reply")
	// ErrModbusException means a Modbus unit answered with an exception response.
	ErrModbusException = errors.New("transport: modbus exception")
)

// TerminalError is a failed terminal request: the kind, the terminal and the evidence.
type TerminalError struct {
	// Kind is one of the sentinel errors of this package.
	Kind error
	// Terminal is the address the request went to.
	Terminal protocol.TerminalAddress
	// AFN is the application function of the request.
	AFN byte
	// Attempts counts the times the request frame was written, retries included.
	Attempts int
	// Reply is the last frame received for the request (the deny frame for ErrDenied),
	// or nil.
	Reply []byte
	// Err is the underlying cause, such as a socket error, or nil.
	Err error
}

func (e *TerminalError) Error() string {
	msg := fmt.Sprintf("%v: terminal %s, AFN %02X, %d attempt(s)", e.Kind, e.Terminal, e.AFN,
		e.Attempts)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the kind and the cause so that errors.Is matches both.
func (e *TerminalError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// BusError is a failed exchange on an RS-485 bus or a TCP link to a serial server.
type BusError struct {
	// Kind is one of the sentinel errors of this package.
	Kind error
	// Bus is the name of the bus or link.
	Bus string
	// Attempts counts the times the request frame was written, retries included.
	Attempts int
	// Partial holds the bytes received for the last attempt that made no whole frame.
	Partial []byte
	// Err is the underlying cause, such as a port error, or nil.
	Err error
}

func (e *BusError) Error() string {
	msg := fmt.Sprintf("%v: bus %s, %d attempt(s)", e.Kind, e.Bus, e.Attempts)
	if len(e.Partial) > 0 {
		msg += fmt.Sprintf(", %d stray byte(s) % X", len(e.Partial), e.Partial)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the kind and the cause so that errors.Is matches both.
func (e *BusError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// ModbusError is a Modbus exception response: the unit, the function and the exception code.
type ModbusError struct {
	Unit      byte
	Function  byte
	Exception byte
}

func (e *ModbusError) Error() string {
	return fmt.Sprintf("%v: unit %d, function 0x%02X, exception code %d (%s)",
		ErrModbusException, e.Unit, e.Function, e.Exception, modbusExceptionName(e.Exception))
}

// Unwrap returns ErrModbusException.
func (e *ModbusError) Unwrap() error { return ErrModbusException }

// modbusExceptionNames lists the exception codes of the Modbus application protocol.
var modbusExceptionNames = map[byte]string{
	1:  "illegal function",
	2:  "illegal data address",
	3:  "illegal data value",
	4:  "server device failure",
	5:  "acknowledge",
	6:  "server device busy",
	8:  "memory parity error",
	10: "gateway path unavailable",
	11: "gateway target device failed to respond",
}

func modbusExceptionName(code byte) string {
	if n, ok := modbusExceptionNames[code]; ok {
		return n
	}
	return "unknown"
}
