package transport

import (
	"errors"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
)

// testMeter is one DL/T 645 meter of the test responder.
type testMeter struct {
	delay  time.Duration // wait before the reply
	silent bool          // never reply
	value  []byte        // data bytes after the DI of a read reply
}

// responder plays the meters of one bus on the far side of a pty or a TCP connection: DL/T
// 645 meters by address and Modbus RTU units by unit id. It answers reads of any DI with the
// meter's value, reads of holding registers with the unit's registers, and answers an
// unknown register with exception 2 (illegal data address).
type responder struct {
	t       *testing.T
	rw      io.ReadWriter
	mu      sync.Mutex // guards writes and the fields below
	meters  map[protocol.MeterAddress]*testMeter
	units   map[byte][]uint16
	echo    bool
	frames  [][]byte // every request received, preamble stripped
	wg      sync.WaitGroup
	stopped chan struct{}
}

func newResponder(t *testing.T, rw io.ReadWriter) *responder {
	r := &responder{t: t, rw: rw, meters: map[protocol.MeterAddress]*testMeter{},
		units: map[byte][]uint16{}, stopped: make(chan struct{})}
	return r
}

func (r *responder) addMeter(addr string, m *testMeter) protocol.MeterAddress {
	a, err := protocol.ParseMeterAddress(addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.meters[a] = m
	r.mu.Unlock()
	return a
}

func (r *responder) requests() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.frames...)
}

func (r *responder) write(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = r.rw.Write(b)
}

// serve reads requests until the stream ends. Replies with a delay are written from their
// own goroutine so that a slow meter's reply can arrive during a later request.
func (r *responder) serve() {
	defer close(r.stopped)
	var buf []byte
	chunk := make([]byte, 512)
	for {
		n, err := r.rw.Read(chunk)
		if n > 0 {
			buf = append(buf, chunk[:n]...)
			buf = r.consume(buf)
		}
		if err != nil {
			r.wg.Wait()
			return
		}
	}
}

func (r *responder) consume(buf []byte) []byte {
	for len(buf) > 0 {
		switch {
		case buf[0] == dlt645.PreambleByte:
			buf = buf[1:]
		case buf[0] == dlt645.StartByte:
			n, err := dlt645.Check(buf)
			if err != nil {
				buf = buf[1:]
				continue
			}
			if n == 0 {
				return buf
			}
			r.handle645(append([]byte(nil), buf[:n]...))
			buf = buf[n:]
		default:
			// A Modbus RTU request: unit, function, address and count or value, CRC.
			if len(buf) < 8 {
				return buf
			}
			if modbusCRC(buf[:6]) != uint16(buf[6])|uint16(buf[7])<<8 {
				buf = buf[1:]
				continue
			}
			r.handleModbus(append([]byte(nil), buf[:8]...))
			buf = buf[8:]
		}
	}
	return buf
}

func (r *responder) handle645(req []byte) {
	r.mu.Lock()
	r.frames = append(r.frames, req)
	f, err := dlt645.Decode(req)
	if err != nil {
		r.mu.Unlock()
		r.t.Errorf("responder: %v", err)
		return
	}
	var m *testMeter
	if mp := r.meters[f.Address]; mp != nil {
		copied := *mp
		m = &copied
	}
	echo := r.echo
	r.mu.Unlock()
	if echo {
		r.write(append(append([]byte(nil), Preamble645...), req...))
	}
	if m == nil || m.silent || f.Address.IsBroadcast() {
		return
	}
	data := append([]byte(nil), f.Data...)
	if f.Control.Function() == dlt645.FuncRead {
		data = append(data[:4:4], m.value...)
	}
	reply, err := dlt645.Append(nil, &dlt645.Frame{Address: f.Address,
		Control: f.Control | dlt645.DirectionBit, Data: data}, true)
	if err != nil {
		r.t.Errorf("responder: %v", err)
		return
	}
	if m.delay == 0 {
		r.write(reply)
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		select {
		case <-time.After(m.delay):
			r.write(reply)
		case <-r.stopped:
		}
	}()
}

func (r *responder) handleModbus(req []byte) {
	r.mu.Lock()
	r.frames = append(r.frames, req)
	regs, ok := r.units[req[0]]
	r.mu.Unlock()
	if !ok {
		return
	}
	addr := int(req[2])<<8 | int(req[3])
	count := int(req[4])<<8 | int(req[5])
	var pdu []byte
	if req[1] != 0x03 || addr+count > len(regs) {
		pdu = []byte{req[1] | 0x80, 0x02}
	} else {
		pdu = []byte{0x03, byte(2 * count)}
		for _, v := range regs[addr : addr+count] {
			pdu = append(pdu, byte(v>>8), byte(v))
		}
	}
	adu := append([]byte{req[0]}, pdu...)
	crc := modbusCRC(adu)
	r.write(append(adu, byte(crc), byte(crc>>8)))
}

// newPtyBus opens a pty pair, serves the master side with a responder and returns a bus
// owner on the slave side, opened through go.bug.st/serial as a real port would be.
func newPtyBus(t *testing.T, cfg BusConfig) (*Bus, *responder) {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Skipf("no pty on this system: %v", err)
	}
	port, err := OpenSerial(SerialConfig{Device: slave.Name(), Baud: 2400, Parity: "E"})
	if err != nil {
		t.Fatalf("open pty slave: %v", err)
	}
	r := newResponder(t, master)
	go r.serve()
	bus := NewBus(port, cfg)
	t.Cleanup(func() {
		if err := bus.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			t.Errorf("close bus: %v", err)
		}
		_ = slave.Close()
		_ = master.Close()
		<-r.stopped
	})
	return bus, r
}

func parseMeter(t *testing.T, s string) (protocol.MeterAddress, error) {
	t.Helper()
	a, err := protocol.ParseMeterAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a, nil
}
