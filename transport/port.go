package transport

import (
	"errors"
	"net"
	"os"
	"time"

	"go.bug.st/serial"
)

// Port is the byte stream a bus owner drives: a serial port, a pty, or a TCP connection to
// a serial server. Only the bus owner's goroutine calls its methods, except Close, which
// may be called from any goroutine to unblock a Read.
type Port interface {
	// Write writes p to the line.
	Write(p []byte) (int, error)
	// ReadTimeout reads into p, waiting at most d for the first byte. It returns (0, nil)
	// when d passes with nothing to read.
	ReadTimeout(p []byte, d time.Duration) (int, error)
	// SetBaud switches the line speed, keeping 8 data bits, even parity and one stop bit.
	// Ports without a line speed, such as TCP connections, ignore it.
	SetBaud(baud int) error
	// Close releases the port.
	Close() error
}

// SerialConfig is the line setting of an RS-485 port.
type SerialConfig struct {
	// Device is the path of the port, such as /dev/ttyUSB0 or a pty slave.
	Device string
	// Baud is the line speed in bit/s; DL/T 645-2007 meters commonly run at 2400.
	Baud int
	// Parity is "E" (even, the DL/T 645 default), "O" or "N".
	Parity string
}

// serialPort adapts a go.bug.st/serial port, whose Read returns (0, nil) on its timeout.
type serialPort struct {
	port    serial.Port
	mode    serial.Mode
	timeout time.Duration
}

// OpenSerial opens a serial port or pty slave with cfg's line setting.
//
// NOTE: the driver of the transmitter (RTS or DE) is not switched here, so the RS-485
// adapter must switch direction on its own, as USB adapters commonly do.
func OpenSerial(cfg SerialConfig) (Port, error) {
	mode := serial.Mode{BaudRate: cfg.Baud, DataBits: 8, StopBits: serial.OneStopBit}
	switch cfg.Parity {
	case "", "E", "e":
		mode.Parity = serial.EvenParity
	case "O", "o":
		mode.Parity = serial.OddParity
	case "N", "n":
		mode.Parity = serial.NoParity
	default:
		return nil, &BusError{Kind: ErrInvalidRequest, Bus: cfg.Device,
			Err: errors.New("parity must be E, O or N, got " + cfg.Parity)}
	}
	if mode.BaudRate == 0 {
		mode.BaudRate = 2400
	}
	p, err := serial.Open(cfg.Device, &mode)
	if err != nil {
		return nil, &BusError{Kind: ErrClosed, Bus: cfg.Device, Err: err}
	}
	return &serialPort{port: p, mode: mode, timeout: -1}, nil
}

func (s *serialPort) Write(p []byte) (int, error) { return s.port.Write(p) }

func (s *serialPort) ReadTimeout(p []byte, d time.Duration) (int, error) {
	if d <= 0 {
		d = time.Millisecond
	}
	if d != s.timeout {
		if err := s.port.SetReadTimeout(d); err != nil {
			return 0, err
		}
		s.timeout = d
	}
	return s.port.Read(p)
}

func (s *serialPort) SetBaud(baud int) error {
	if baud == 0 || baud == s.mode.BaudRate {
		return nil
	}
	mode := s.mode
	mode.BaudRate = baud
	if err := s.port.SetMode(&mode); err != nil {
		return err
	}
	s.mode = mode
	return nil
}

func (s *serialPort) Close() error { return s.port.Close() }

// connPort adapts a net.Conn, whose reads time out through deadlines.
type connPort struct {
	conn net.Conn
}

// NewConnPort returns a Port over c, such as a TCP connection to a serial server that
// carries the bus bytes transparently. SetBaud is ignored: the serial server sets the line.
func NewConnPort(c net.Conn) Port { return &connPort{conn: c} }

func (c *connPort) Write(p []byte) (int, error) {
	if err := c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return 0, err
	}
	return c.conn.Write(p)
}

func (c *connPort) ReadTimeout(p []byte, d time.Duration) (int, error) {
	if err := c.conn.SetReadDeadline(time.Now().Add(d)); err != nil {
		return 0, err
	}
	n, err := c.conn.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, nil
	}
	return n, err
}

func (c *connPort) SetBaud(int) error { return nil }

func (c *connPort) Close() error { return c.conn.Close() }
