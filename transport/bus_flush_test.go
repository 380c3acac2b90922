package transport

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
)

// scriptedPort replays canned reads after each write, then reports a quiet line.
type scriptedPort struct {
	mu     sync.Mutex
	script [][]byte // chunks returned by ReadTimeout after the first Write
	armed  bool
}

func (p *scriptedPort) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = true
	return len(b), nil
}

func (p *scriptedPort) ReadTimeout(b []byte, d time.Duration) (int, error) {
	p.mu.Lock()
	if p.armed && len(p.script) > 0 {
		n := copy(b, p.script[0])
		p.script = p.script[1:]
		p.mu.Unlock()
		return n, nil
	}
	p.mu.Unlock()
	time.Sleep(min(d, 20*time.Millisecond))
	return 0, nil
}

func (p *scriptedPort) SetBaud(int) error { return nil }
func (p *scriptedPort) Close() error      { return nil }

// An adapter echoes only the first bytes of a long write request. The echo's L field
// announces 44 bytes that never come, so the meter's complete 12-byte reply behind it must
// still be delivered when the line goes quiet, not reported as no reply.
func TestBusReplyBehindTruncatedEcho(t *testing.T) {
	addr, err := protocol.ParseMeterAddress("000000000161")
	if err != nil {
		t.Fatal(err)
	}
	req, err := dlt645.Encode(&dlt645.Frame{Address: addr, Control: 0x14,
		Data: bytes.Repeat([]byte{0x01}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := dlt645.Encode(&dlt645.Frame{Address: addr, Control: 0x94})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := DLT645Exchange(req, "write")
	if err != nil {
		t.Fatal(err)
	}
	sent := append(append([]byte(nil), ex.Preamble...), ex.Frame...)
	port := &scriptedPort{script: [][]byte{sent[:16], reply}}
	bus := NewBus(port, BusConfig{Name: "flush", FirstByteTimeout: 300 * time.Millisecond,
		InterByteTimeout: 50 * time.Millisecond, Attempts: 1})
	defer bus.Close()

	got, err := bus.Do(context.Background(), ex)
	if err != nil {
		t.Fatalf("Do: %v (the reply behind the truncated echo was not delivered)", err)
	}
	if want := bytes.TrimLeft(reply, "\xFE"); !bytes.Equal(got.Frame, want) {
		t.Fatalf("reply % X, want % X", got.Frame, want)
	}
}
