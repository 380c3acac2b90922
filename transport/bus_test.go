package transport

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envLoadGen); mode != "" {
		os.Exit(runLoadGen(mode))
	}
	// gnet starts a package-level ants goroutine pool at init; it is not ours to stop.
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"))
}

// readFrame builds a DL/T 645-2007 read request of di (as documents write it, DI3 first)
// for the meter at addr, with its preamble.
func readFrame(t *testing.T, addr protocol.MeterAddress, di uint32) []byte {
	t.Helper()
	data := []byte{byte(di), byte(di >> 8), byte(di >> 16), byte(di >> 24)}
	b, err := dlt645.Encode(&dlt645.Frame{Address: addr, Control: 0x11, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// doRead sends a read of di to addr and returns the decoded reply.
func doRead(t *testing.T, bus *Bus, addr protocol.MeterAddress, di uint32) (*dlt645.Frame,
	Reply, error) {
	t.Helper()
	ex, err := DLT645Exchange(readFrame(t, addr, di), "read")
	if err != nil {
		t.Fatal(err)
	}
	reply, err := bus.Do(context.Background(), ex)
	if err != nil {
		return nil, reply, err
	}
	f, err := dlt645.Decode(reply.Frame)
	if err != nil {
		t.Fatalf("reply % X: %v", reply.Frame, err)
	}
	return f, reply, nil
}

func TestBusSeveralMeters(t *testing.T) {
	t.Parallel()
	bus, r := newPtyBus(t, BusConfig{Name: "bus1", FirstByteTimeout: 500 * time.Millisecond})
	addrs := []protocol.MeterAddress{
		r.addMeter("000000000161", &testMeter{value: []byte{0x61}}),
		r.addMeter("000000000162", &testMeter{value: []byte{0x62}}),
		r.addMeter("000000000163", &testMeter{value: []byte{0x63}, delay: 50 * time.Millisecond}),
	}
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				f, _, err := doRead(t, bus, a, 0x00010000)
				if err != nil {
					t.Errorf("meter %s: %v", a, err)
					return
				}
				if f.Address != a {
					t.Errorf("reply from %s, want %s", f.Address, a)
				}
				if got := f.Data[4]; got != 0x61+byte(i) {
					t.Errorf("meter %s: value %02X, want %02X", a, got, 0x61+byte(i))
				}
			}
		}()
	}
	wg.Wait()
	if n := len(r.requests()); n != 9 {
		t.Errorf("responder saw %d requests, want 9 (one per read, no retries)", n)
	}
}

// TestBusSilentMeterDelaysOthersByTimeout does not run in parallel: it times the wait.
func TestBusSilentMeterDelaysOthersByTimeout(t *testing.T) {
	const timeout = 500 * time.Millisecond
	bus, r := newPtyBus(t, BusConfig{Name: "bus1", FirstByteTimeout: timeout, Attempts: 1})
	silent := r.addMeter("000000000001", &testMeter{silent: true})
	good := r.addMeter("000000000002", &testMeter{value: []byte{0x42}})

	silentDone := make(chan error, 1)
	go func() {
		_, _, err := doRead(t, bus, silent, 0x04000503)
		silentDone <- err
	}()
	// Let the silent meter's request take the bus first.
	waitFor(t, "the silent meter's request", func() bool { return len(r.requests()) > 0 })
	start := time.Now()
	f, _, err := doRead(t, bus, good, 0x04000503)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("good meter: %v", err)
	}
	if f.Address != good {
		t.Fatalf("reply from %s", f.Address)
	}
	// The good meter waits for the rest of the silent meter's timeout, the drain before
	// its own request and its own round trip; a second timeout would show as >= 2×timeout.
	if elapsed >= 2*timeout {
		t.Errorf("good meter waited %v behind a silent meter, want < %v", elapsed, 2*timeout)
	}
	err = <-silentDone
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("silent meter: err = %v, want ErrTimeout", err)
	}
	var be *BusError
	if !errors.As(err, &be) || be.Bus != "bus1" || be.Attempts != 1 {
		t.Errorf("silent meter error %+v, want bus1 after 1 attempt", be)
	}
}

func TestBusLateReplyNeverRead(t *testing.T) {
	t.Parallel()
	// The slow meter answers 150 ms after the timeout, while the next request waits for a
	// reply due 250 ms after it starts.
	const timeout = 400 * time.Millisecond
	const late = timeout + 150*time.Millisecond
	bus, r := newPtyBus(t, BusConfig{Name: "bus1", FirstByteTimeout: timeout, Attempts: 1})
	slow := r.addMeter("000000000001", &testMeter{value: []byte{0x11}, delay: late})
	other := r.addMeter("000000000002", &testMeter{value: []byte{0x22},
		delay: 250 * time.Millisecond})

	if _, _, err := doRead(t, bus, slow, 0x00010000); !errors.Is(err, ErrTimeout) {
		t.Fatalf("slow meter: err = %v, want ErrTimeout", err)
	}
	// The slow meter's reply arrives while the next request waits: another meter's request
	// and then the slow meter's own request for another DI must both skip it.
	f, _, err := doRead(t, bus, other, 0x00010000)
	if err != nil {
		t.Fatalf("other meter: %v", err)
	}
	if f.Address != other || f.Data[4] != 0x22 {
		t.Fatalf("other meter read % X from %s", f.Data, f.Address)
	}
	r.mu.Lock()
	r.meters[slow].delay = 0
	r.mu.Unlock()
	if _, _, err := doRead(t, bus, slow, 0x00010000); err != nil {
		t.Fatalf("slow meter, now prompt: %v", err)
	}
	r.mu.Lock()
	r.meters[slow].delay = late
	r.mu.Unlock()
	if _, _, err := doRead(t, bus, slow, 0x00010000); !errors.Is(err, ErrTimeout) {
		t.Fatalf("slow meter again: err = %v, want ErrTimeout", err)
	}
	r.mu.Lock()
	r.meters[slow].delay = 250 * time.Millisecond
	r.mu.Unlock()
	f, _, err = doRead(t, bus, slow, 0x04000503)
	if err != nil {
		t.Fatalf("slow meter, second DI: %v", err)
	}
	if di := uint32(f.Data[0]) | uint32(f.Data[3])<<24; di != 0x04000003 {
		t.Fatalf("reply carries DI bytes % X, want the 04000503 request's", f.Data[:4])
	}
}

func TestBusEchoFiltered(t *testing.T) {
	t.Parallel()
	bus, r := newPtyBus(t, BusConfig{Name: "bus1", FirstByteTimeout: 300 * time.Millisecond})
	r.echo = true
	a := r.addMeter("000000000161", &testMeter{value: []byte{0x99},
		delay: 30 * time.Millisecond})
	f, reply, err := doRead(t, bus, a, 0x00010000)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Control.IsReply() || f.Data[4] != 0x99 {
		t.Fatalf("reply %+v is not the meter's", f)
	}
	if reply.Attempts != 1 {
		t.Errorf("attempts = %d, want 1", reply.Attempts)
	}
}

func TestBusBroadcastNoWait(t *testing.T) {
	t.Parallel()
	bus, r := newPtyBus(t, BusConfig{Name: "bus1", FirstByteTimeout: 2 * time.Second})
	ex, err := DLT645Exchange(readFrame(t, protocol.BroadcastMeterAddress, 0x04000101),
		"broadcast")
	if err != nil {
		t.Fatal(err)
	}
	if !ex.Broadcast {
		t.Fatal("exchange to 999999999999 not marked broadcast")
	}
	start := time.Now()
	reply, err := bus.Do(context.Background(), ex)
	if err != nil {
		t.Fatal(err)
	}
	if reply.Frame != nil {
		t.Errorf("broadcast returned a reply % X", reply.Frame)
	}
	if d := time.Since(start); d >= time.Second {
		t.Errorf("broadcast took %v: it waited for a reply", d)
	}
	deadline := time.Now().Add(time.Second)
	for len(r.requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	got := r.requests()
	if len(got) != 1 || !bytes.Equal(got[0], ex.Frame) {
		t.Fatalf("responder got % X, want the broadcast frame", got)
	}
}

func TestBusRetryDrainsInput(t *testing.T) {
	t.Parallel()
	const timeout = 120 * time.Millisecond
	bus, r := newPtyBus(t, BusConfig{Name: "bus1", FirstByteTimeout: timeout, Attempts: 3})
	a := r.addMeter("000000000161", &testMeter{silent: true})
	_, _, err := doRead(t, bus, a, 0x00010000)
	var be *BusError
	if !errors.As(err, &be) || !errors.Is(err, ErrTimeout) || be.Attempts != 3 {
		t.Fatalf("err = %v, want ErrTimeout after 3 attempts", err)
	}
	if n := len(r.requests()); n != 3 {
		t.Errorf("responder saw %d requests, want 3", n)
	}
}

func TestBusQueueFullAndClose(t *testing.T) {
	t.Parallel()
	// The first request waits for a silent meter far longer than the test runs, so the
	// second stays queued until Close.
	bus, r := newPtyBus(t, BusConfig{Name: "bus1", FirstByteTimeout: time.Minute,
		Attempts: 1, QueueSize: 1})
	a := r.addMeter("000000000001", &testMeter{silent: true})
	ex, err := DLT645Exchange(readFrame(t, a, 0x00010000), "read")
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 2)
	go func() { _, err := bus.Do(context.Background(), ex); results <- err }()
	waitFor(t, "the first request on the line", func() bool { return len(r.requests()) > 0 })
	go func() { _, err := bus.Do(context.Background(), ex); results <- err }()
	waitFor(t, "the second request queued", func() bool { return bus.QueueDepth() > 0 })
	if _, err := bus.Do(context.Background(), ex); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third request: err = %v, want ErrQueueFull", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	for range 2 {
		err := <-results
		if !errors.Is(err, ErrClosed) && !errors.Is(err, ErrDisconnected) {
			t.Errorf("pending request: err = %v, want closed or disconnected", err)
		}
	}
	if _, err := bus.Do(context.Background(), ex); !errors.Is(err, ErrClosed) {
		t.Fatalf("request after Close: err = %v, want ErrClosed", err)
	}
}

func TestBusModbusAndDLT645Share(t *testing.T) {
	t.Parallel()
	bus, r := newPtyBus(t, BusConfig{Name: "bus1", FirstByteTimeout: 300 * time.Millisecond})
	a := r.addMeter("000000000161", &testMeter{value: []byte{0x77}})
	r.mu.Lock()
	r.units[7] = []uint16{0x1234, 0x5678, 0x9ABC}
	r.mu.Unlock()
	client := NewModbusRTUClient(bus, ModbusRTUConfig{Unit: 7})

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range 5 {
			got, err := client.ReadHoldingRegisters(1, 2)
			if err != nil {
				t.Errorf("modbus read: %v", err)
				return
			}
			if want := []byte{0x56, 0x78, 0x9A, 0xBC}; !bytes.Equal(got, want) {
				t.Errorf("modbus registers % X, want % X", got, want)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range 5 {
			f, _, err := doRead(t, bus, a, 0x00010000)
			if err != nil {
				t.Errorf("645 read: %v", err)
				return
			}
			if f.Data[4] != 0x77 {
				t.Errorf("645 value %02X", f.Data[4])
			}
		}
	}()
	wg.Wait()
}

func TestModbusRTUException(t *testing.T) {
	t.Parallel()
	bus, r := newPtyBus(t, BusConfig{Name: "bus1", FirstByteTimeout: 300 * time.Millisecond})
	r.mu.Lock()
	r.units[9] = []uint16{1, 2}
	r.mu.Unlock()
	client := NewModbusRTUClient(bus, ModbusRTUConfig{Unit: 9, Attempts: 1})
	_, err := client.ReadHoldingRegisters(5, 1)
	var me *ModbusError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v, want *ModbusError", err)
	}
	if !errors.Is(err, ErrModbusException) {
		t.Errorf("errors.Is(err, ErrModbusException) = false for %v", err)
	}
	if me.Unit != 9 || me.Function != 0x03 || me.Exception != 2 {
		t.Errorf("exception %+v, want unit 9, function 03, code 2", me)
	}
	// The exception reply was read whole: the next request is answered normally.
	got, err := client.ReadHoldingRegisters(0, 2)
	if err != nil || !bytes.Equal(got, []byte{0, 1, 0, 2}) {
		t.Fatalf("read after exception: % X, %v", got, err)
	}
}

func TestRTUReplySpec(t *testing.T) {
	spec := RTUReplySpec(1, 3)
	good := []byte{0x01, 0x03, 0x02, 0x00, 0x2A}
	crc := modbusCRC(good)
	good = append(good, byte(crc), byte(crc>>8))
	if n, err := spec.Check(good); n != len(good) || err != nil {
		t.Fatalf("Check(good) = %d, %v", n, err)
	}
	if n, err := spec.Check(good[:4]); n != 0 || err != nil {
		t.Fatalf("Check(prefix) = %d, %v, want 0, nil", n, err)
	}
	bad := append([]byte(nil), good...)
	bad[3] ^= 1
	if _, err := spec.Check(bad); !errors.Is(err, protocol.ErrBadChecksum) {
		t.Fatalf("Check(bad CRC) err = %v", err)
	}
	exc := []byte{0x01, 0x83, 0x02}
	crc = modbusCRC(exc)
	exc = append(exc, byte(crc), byte(crc>>8))
	if n, err := spec.Check(exc); n != 5 || err != nil {
		t.Fatalf("Check(exception) = %d, %v", n, err)
	}
	if _, err := spec.Check([]byte{0x01, 0x04, 0x00}); !errors.Is(err, protocol.ErrUnknownFunction) {
		t.Fatalf("Check(other function) err = %v", err)
	}
}

func TestModbusCRCKnownValue(t *testing.T) {
	t.Parallel()
	// Read holding registers 0–1 of unit 1: the CRC on the wire is C4 0B.
	if got := modbusCRC([]byte{0x01, 0x03, 0x00, 0x00, 0x00, 0x02}); got != 0x0BC4 {
		t.Fatalf("CRC = %04X, want 0BC4", got)
	}
}

func FuzzRTUReplySpec(f *testing.F) {
	f.Add([]byte{0x01, 0x03, 0x02, 0x00, 0x2A, 0x38, 0x4B}, byte(3))
	f.Add([]byte{0x01, 0x83, 0x02, 0xC0, 0xF1}, byte(3))
	f.Fuzz(func(t *testing.T, data []byte, function byte) {
		if len(data) > 600 {
			// A reply is at most 256 bytes: longer inputs only repeat the same scans, and
			// the fuzzer spends minutes minimizing them.
			t.Skip()
		}
		spec := RTUReplySpec(1, function)
		fr := protocol.NewFramer(spec, 512)
		fr.Write(data)
		for {
			res := fr.Next(true)
			if res.Frame == nil {
				break
			}
			if n, err := spec.Check(res.Frame); err != nil || n != len(res.Frame) {
				t.Fatalf("framer returned % X, which Check rejects: %d, %v", res.Frame, n, err)
			}
		}
	})
}
