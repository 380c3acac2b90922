package transport

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// serialServer is a loopback TCP listener that plays a serial server: each accepted
// connection is served by a responder with the same meters.
type serialServer struct {
	ln     net.Listener
	mu     sync.Mutex
	conns  []net.Conn
	setup  func(*responder)
	wg     sync.WaitGroup
	accept int
}

func newSerialServer(t *testing.T, setup func(*responder)) *serialServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &serialServer{ln: ln, setup: setup}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.accept++
			s.mu.Unlock()
			r := newResponder(t, c)
			setup(r)
			s.wg.Add(1)
			go func() { defer s.wg.Done(); r.serve() }()
		}
	}()
	t.Cleanup(s.close)
	return s
}

// dropAll closes every accepted connection, as a serial server that reboots.
func (s *serialServer) dropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.conns = nil
}

func (s *serialServer) accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accept
}

func (s *serialServer) close() {
	_ = s.ln.Close()
	s.dropAll()
	s.wg.Wait()
}

func TestLinkReconnects(t *testing.T) {
	t.Parallel()
	var addr = "000000000161"
	srv := newSerialServer(t, func(r *responder) {
		r.addMeter(addr, &testMeter{value: []byte{0x05}})
	})
	link := NewLink(LinkConfig{Address: srv.ln.Addr().String(), MinBackoff: 50 * time.Millisecond,
		Bus: BusConfig{FirstByteTimeout: 300 * time.Millisecond, Attempts: 1}})
	defer link.Close()
	meter, _ := parseMeter(t, addr)

	if f, _, err := doRead(t, link, meter, 0x00010000); err != nil || f.Data[4] != 0x05 {
		t.Fatalf("first read: %v", err)
	}
	srv.dropAll()
	// The read after the drop may fail on the dead connection; a later one reconnects.
	var err error
	for i := 0; i < 5; i++ {
		if _, _, err = doRead(t, link, meter, 0x00010000); err == nil {
			break
		}
		if !errors.Is(err, ErrDisconnected) && !errors.Is(err, ErrTimeout) {
			t.Fatalf("read after drop: err = %v, want disconnected or timeout", err)
		}
		time.Sleep(60 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("no read succeeded after the server dropped the link: %v", err)
	}
	if n := srv.accepted(); n != 2 {
		t.Errorf("server accepted %d connections, want 2", n)
	}
}

func TestLinkBackoffFailsFast(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	link := NewLink(LinkConfig{Address: address, MinBackoff: time.Hour,
		Bus: BusConfig{FirstByteTimeout: 300 * time.Millisecond}})
	defer link.Close()
	meter, _ := parseMeter(t, "000000000001")
	for i := range 2 {
		start := time.Now()
		_, _, err := doRead(t, link, meter, 0x00010000)
		if !errors.Is(err, ErrDisconnected) {
			t.Fatalf("read %d: err = %v, want ErrDisconnected", i, err)
		}
		if d := time.Since(start); d > 250*time.Millisecond {
			t.Errorf("read %d took %v with the server down, want a fast failure", i, d)
		}
	}
}

// modbusTCPServer answers read-holding-registers requests for unit 1 from regs and any
// other request with exception 1 (illegal function).
func modbusTCPServer(t *testing.T, regs []uint16) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
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
					var out []byte
					addr, n := int(binary.BigEndian.Uint16(pdu[1:])), int(binary.BigEndian.Uint16(pdu[3:]))
					switch {
					case pdu[0] != 0x03:
						out = []byte{pdu[0] | 0x80, 0x01}
					case addr+n > len(regs):
						out = []byte{0x83, 0x02}
					default:
						out = []byte{0x03, byte(2 * n)}
						for _, v := range regs[addr : addr+n] {
							out = binary.BigEndian.AppendUint16(out, v)
						}
					}
					binary.BigEndian.PutUint16(hdr[4:], uint16(len(out)+1))
					if _, err := c.Write(append(hdr, out...)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), func() { _ = ln.Close(); wg.Wait() }
}

func TestModbusTCPLink(t *testing.T) {
	t.Parallel()
	addr, stop := modbusTCPServer(t, []uint16{7, 8, 9})
	defer stop()
	link := NewModbusTCPLink(ModbusTCPConfig{Address: addr, Unit: 1, Timeout: time.Second})
	defer link.Close()
	got, err := link.Client().ReadHoldingRegisters(1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0, 8, 0, 9}; string(got) != string(want) {
		t.Fatalf("registers % X, want % X", got, want)
	}
	_, err = link.Client().WriteSingleCoil(0, 0xFF00)
	var me *ModbusError
	if !errors.As(err, &me) || me.Exception != 1 || me.Function != 0x05 {
		t.Fatalf("write coil: err = %v, want *ModbusError code 1 for function 05", err)
	}
	_, err = link.Client().ReadHoldingRegisters(2, 5)
	if !errors.As(err, &me) || me.Exception != 2 {
		t.Fatalf("read past the map: err = %v, want exception 2", err)
	}
	if _, err := link.Client().ReadHoldingRegisters(0, 1); err != nil {
		t.Fatalf("read after exceptions: %v", err)
	}
}

func TestModbusTCPTimeoutDropsConnection(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(io.Discard, c) // read requests, never answer, until the client closes
		close(closed)
	}()
	link := NewModbusTCPLink(ModbusTCPConfig{Address: ln.Addr().String(), Unit: 1,
		Timeout: 100 * time.Millisecond})
	defer link.Close()
	_, err = link.Client().ReadHoldingRegisters(0, 1)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("the link kept the connection after a timeout, so a late reply could be read")
	}
}
