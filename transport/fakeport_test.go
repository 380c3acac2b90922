package transport

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
)

// chunk is a piece of a fake reply and the line's silence before it.
type chunk struct {
	delay time.Duration
	data  []byte
}

// fakePort is an in-memory Port: each write queues the chunks reply returns, and each
// read returns the next chunk once its delay has passed. It records the baud of every
// write.
type fakePort struct {
	mu    sync.Mutex
	baud  int
	bauds []int
	queue []chunk
	reply func(req []byte) []chunk
}

func (p *fakePort) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bauds = append(p.bauds, p.baud)
	p.queue = append(p.queue, p.reply(b)...)
	return len(b), nil
}

func (p *fakePort) ReadTimeout(b []byte, d time.Duration) (int, error) {
	p.mu.Lock()
	if len(p.queue) == 0 {
		p.mu.Unlock()
		time.Sleep(d)
		return 0, nil
	}
	head := &p.queue[0]
	if head.delay > d {
		head.delay -= d
		p.mu.Unlock()
		time.Sleep(d)
		return 0, nil
	}
	delay, data := head.delay, head.data
	p.queue = p.queue[1:]
	p.mu.Unlock()
	time.Sleep(delay)
	return copy(b, data), nil
}

func (p *fakePort) SetBaud(baud int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if baud != 0 {
		p.baud = baud
	}
	return nil
}

func (p *fakePort) Close() error { return nil }

// meterReply returns the normal reply to a 645 read request, with one data byte.
func meterReply(t *testing.T, req []byte) []byte {
	f, err := dlt645.Decode(req)
	if err != nil {
		t.Errorf("fake port: %v", err)
		return nil
	}
	b, err := dlt645.Append(nil, &dlt645.Frame{Address: f.Address,
		Control: f.Control | dlt645.DirectionBit, Data: append(f.Data[:4:4], 0x01)}, true)
	if err != nil {
		t.Errorf("fake port: %v", err)
	}
	return b
}

func TestBusBaudPerRequest(t *testing.T) {
	t.Parallel()
	port := &fakePort{baud: 2400}
	port.reply = func(req []byte) []chunk { return []chunk{{data: meterReply(t, req)}} }
	bus := NewBus(port, BusConfig{Name: "bus1", FirstByteTimeout: 200 * time.Millisecond})
	defer bus.Close()
	addr, _ := protocol.ParseMeterAddress("000000000161")
	for _, baud := range []int{0, 1200, 0, 9600} {
		ex, err := DLT645Exchange(readFrame(t, addr, 0x00010000), "read")
		if err != nil {
			t.Fatal(err)
		}
		ex.Baud = baud
		if _, err := bus.Do(context.Background(), ex); err != nil {
			t.Fatalf("baud %d: %v", baud, err)
		}
	}
	port.mu.Lock()
	defer port.mu.Unlock()
	for i, want := range []int{2400, 1200, 1200, 9600} {
		if port.bauds[i] != want {
			t.Errorf("write %d at %d baud, want %d", i, port.bauds[i], want)
		}
	}
}

func TestBusInterByteTimeout(t *testing.T) {
	t.Parallel()
	// The reply stops after 14 bytes, past the control byte, so the bytes no longer repeat
	// the request and the inter-byte timeout applies to the pause.
	const cut = 14
	var gap time.Duration
	port := &fakePort{}
	port.reply = func(req []byte) []chunk {
		full := meterReply(t, req)
		return []chunk{{data: full[:cut]}, {delay: gap, data: full[cut:]}}
	}
	bus := NewBus(port, BusConfig{Name: "bus1", FirstByteTimeout: 300 * time.Millisecond,
		InterByteTimeout: 60 * time.Millisecond, Attempts: 1})
	defer bus.Close()
	addr, _ := protocol.ParseMeterAddress("000000000161")
	ex, err := DLT645Exchange(readFrame(t, addr, 0x00010000), "read")
	if err != nil {
		t.Fatal(err)
	}

	gap = 20 * time.Millisecond
	if _, err := bus.Do(context.Background(), ex); err != nil {
		t.Fatalf("reply with a 20 ms pause: %v", err)
	}

	gap = 200 * time.Millisecond
	_, err = bus.Do(context.Background(), ex)
	var be *BusError
	if !errors.Is(err, ErrNoReply) || !errors.As(err, &be) {
		t.Fatalf("err = %v, want ErrNoReply", err)
	}
	if len(be.Partial) != cut {
		t.Errorf("partial reply of %d bytes, want %d", len(be.Partial), cut)
	}
}

func TestBusQueuedRequestHonoursContext(t *testing.T) {
	t.Parallel()
	port := &fakePort{}
	port.reply = func(req []byte) []chunk { return nil } // a silent meter
	bus := NewBus(port, BusConfig{Name: "bus1", FirstByteTimeout: 2 * time.Second,
		Attempts: 1})
	defer bus.Close()
	addr, _ := protocol.ParseMeterAddress("000000000161")
	ex, err := DLT645Exchange(readFrame(t, addr, 0x00010000), "read")
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { _, err := bus.Do(context.Background(), ex); first <- err }()
	waitFor(t, "the first request on the line", func() bool {
		port.mu.Lock()
		defer port.mu.Unlock()
		return len(port.bauds) > 0
	})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = bus.Do(ctx, ex)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued request: err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("queued request returned after %v, not when its context ended", d)
	}
	if err := <-first; !errors.Is(err, ErrTimeout) {
		t.Fatalf("first request: err = %v, want ErrTimeout", err)
	}
	port.mu.Lock()
	defer port.mu.Unlock()
	if len(port.bauds) != 1 {
		t.Errorf("%d requests written, want 1: the cancelled one must be skipped", len(port.bauds))
	}
}

func TestStripEcho(t *testing.T) {
	sent := []byte{0xFE, 0x68, 0x01, 0x02, 0x16}
	cases := []struct {
		name     string
		received []byte
		want     []byte
	}{
		{"echo only", append([]byte(nil), sent...), nil},
		{"part of an echo", sent[:3], nil},
		{"echo then reply bytes", append(append([]byte(nil), sent...), 0x68, 0x99), []byte{0x68, 0x99}},
		{"other bytes", []byte{0x68, 0x99}, []byte{0x68, 0x99}},
	}
	for _, c := range cases {
		if got := stripEcho(c.received, sent); !bytes.Equal(got, c.want) {
			t.Errorf("%s: % X, want % X", c.name, got, c.want)
		}
	}
}
