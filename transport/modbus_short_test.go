package transport

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/goburrow/modbus"
)

// rtuReply returns an RTU reply ADU of unit with pdu and its CRC.
func rtuReply(unit byte, pdu []byte) []byte {
	b := append([]byte{unit}, pdu...)
	crc := modbusCRC(b)
	return append(b, byte(crc), byte(crc>>8))
}

// TestModbusRTUShortReadReply has a unit answer a read with fewer registers or coils than
// requested, in a well-formed frame. The client must fail instead of returning the short
// data, which a caller would read as zero or as an absent relay bit.
func TestModbusRTUShortReadReply(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		pdu  []byte
		read func(c modbus.Client) ([]byte, error)
	}{
		{"one register of two", []byte{0x03, 0x02, 0x00, 0x07},
			func(c modbus.Client) ([]byte, error) {
				return c.ReadHoldingRegisters(0, 2)
			}},
		{"no coil byte", []byte{0x01, 0x00},
			func(c modbus.Client) ([]byte, error) {
				return c.ReadCoils(0, 1)
			}},
	}
	for _, tc := range cases {
		port := &fakePort{}
		port.reply = func([]byte) []chunk { return []chunk{{data: rtuReply(4, tc.pdu)}} }
		bus := NewBus(port, BusConfig{Name: "bus2", FirstByteTimeout: 100 * time.Millisecond})
		client := NewModbusRTUClient(bus, ModbusRTUConfig{Unit: 4, Attempts: 1})
		got, err := tc.read(client)
		_ = bus.Close()
		var be *BusError
		if !errors.As(err, &be) || !errors.Is(err, ErrNoReply) {
			t.Errorf("%s: got % X, err = %v, want a *BusError of kind ErrNoReply", tc.name,
				got, err)
		}
	}
}

// TestModbusTCPShortReadReply is TestModbusRTUShortReadReply over Modbus TCP.
func TestModbusTCPShortReadReply(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for {
			hdr := make([]byte, 7)
			if _, err := io.ReadFull(c, hdr); err != nil {
				return
			}
			pdu := make([]byte, binary.BigEndian.Uint16(hdr[4:])-1)
			if _, err := io.ReadFull(c, pdu); err != nil {
				return
			}
			out := []byte{pdu[0], 0x00} // a byte count of zero, whatever was asked
			binary.BigEndian.PutUint16(hdr[4:], uint16(len(out)+1))
			if _, err := c.Write(append(hdr, out...)); err != nil {
				return
			}
		}
	}()
	defer func() { _ = ln.Close(); wg.Wait() }()
	link := NewModbusTCPLink(ModbusTCPConfig{Address: ln.Addr().String(), Unit: 1,
		Timeout: time.Second})
	defer link.Close()
	got, err := link.Client().ReadCoils(0, 1)
	var be *BusError
	if !errors.As(err, &be) || !errors.Is(err, ErrNoReply) {
		t.Fatalf("got % X, err = %v, want a *BusError of kind ErrNoReply", got, err)
	}
}
