package plan

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
	"github.com/feegate/feegate/transport"
)

// Frame bytes below are typed from the AFN10 F1 layout: DA DT (p0 F1 = 00 00 01 00),
// port, control byte, frame timeout, byte timeout, length (2 bytes, low first), content.

func TestForwardDataLayout(t *testing.T) {
	content := []byte{0x68, 0x16}
	got, err := forwardData(31, 2400, 10*time.Second, content)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x00, 0x00, 0x01, 0x00, 0x1F, 0x6B, 0x8A, 0x0A, 0x02, 0x00, 0x68, 0x16}
	if !bytes.Equal(got, want) {
		t.Errorf("forward data % X, want % X", got, want)
	}
}

func TestForwardDataBaud1200(t *testing.T) {
	got, err := forwardData(2, 1200, 5*time.Second, []byte{0x68})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x00, 0x00, 0x01, 0x00, 0x02, 0x4B, 0x85, 0x0A, 0x01, 0x00, 0x68}
	if !bytes.Equal(got, want) {
		t.Errorf("forward data % X, want % X", got, want)
	}
}

func TestForwardDataClampsTimeout(t *testing.T) {
	// 1.5 s rounds down to 1 s and 300 s to the 127 s maximum of the timeout byte.
	for _, c := range []struct {
		timeout time.Duration
		want    byte
	}{{1500 * time.Millisecond, 0x81}, {300 * time.Second, 0xFF}, {0, 0x81}} {
		got, err := forwardData(1, 2400, c.timeout, nil)
		if err != nil {
			t.Fatalf("timeout %v: %v", c.timeout, err)
		}
		if got[6] != c.want {
			t.Errorf("timeout %v: byte %02X, want %02X", c.timeout, got[6], c.want)
		}
	}
}

func TestForwardDataRejectsBadPort(t *testing.T) {
	if _, err := forwardData(256, 2400, time.Second, nil); err == nil {
		t.Error("port 256 was accepted")
	}
}

func TestForwardDataParsesAsRequest(t *testing.T) {
	data, err := forwardData(31, 0, 10*time.Second, []byte{0x68, 0x16})
	if err != nil {
		t.Fatal(err)
	}
	req, err := gw376.ParseForwardRequest(data[4:])
	if err != nil {
		t.Fatal(err)
	}
	if req.Baud != 2400 {
		t.Errorf("baud %d, want the 2400 default", req.Baud)
	}
	if req.FrameTimeout != 10*time.Second {
		t.Errorf("frame timeout %v, want 10s", req.FrameTimeout)
	}
}

func TestForwardReplyOtherUnit(t *testing.T) {
	// p0 F9 (forward meter read) is not a transparent-forward reply.
	f := &gw376.Frame{AFN: gw376.AFNForward,
		Data: []byte{0x00, 0x00, 0x01, 0x01, 0x1F, 0x02, 0x00, 0x68, 0x16}}
	if _, ok := forwardReply(f); ok {
		t.Error("an AFN10 F9 unit was read as an F1 reply")
	}
}

func TestForwardReplyContent(t *testing.T) {
	f := &gw376.Frame{AFN: gw376.AFNForward,
		Data: []byte{0x00, 0x00, 0x01, 0x00, 0x1F, 0x02, 0x00, 0x68, 0x16}}
	content, ok := forwardReply(f)
	if !ok {
		t.Fatal("reply not accepted")
	}
	if !bytes.Equal(content, []byte{0x68, 0x16}) {
		t.Errorf("content % X, want 68 16", content)
	}
}

func TestForwardReplyEmptyContent(t *testing.T) {
	f := &gw376.Frame{AFN: gw376.AFNForward,
		Data: []byte{0x00, 0x00, 0x01, 0x00, 0x1F, 0x00, 0x00}}
	content, ok := forwardReply(f)
	if !ok || len(content) != 0 {
		t.Errorf("content % X ok %v, want empty and ok", content, ok)
	}
}

func TestForwardReplyTruncated(t *testing.T) {
	f := &gw376.Frame{AFN: gw376.AFNForward,
		Data: []byte{0x00, 0x00, 0x01, 0x00, 0x1F, 0x05, 0x00, 0x68}}
	if _, ok := forwardReply(f); ok {
		t.Error("a reply shorter than its length field was accepted")
	}
}

func FuzzForwardReply(f *testing.F) {
	f.Add([]byte{0x00, 0x00, 0x01, 0x00, 0x1F, 0x02, 0x00, 0x68, 0x16})
	f.Add([]byte{0x00, 0x00, 0x01, 0x00, 0x1F, 0xFF, 0xFF})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		content, ok := forwardReply(&gw376.Frame{AFN: gw376.AFNForward, Data: data})
		if ok && len(content) > len(data) {
			t.Fatalf("content of %d bytes from %d bytes of data", len(content), len(data))
		}
	})
}

func TestFailTransportDetailNamesFrameWrites(t *testing.T) {
	term, err := protocol.ParseTerminalAddress("44010001")
	if err != nil {
		t.Fatal(err)
	}
	cause := &transport.TerminalError{Kind: transport.ErrTimeout, Terminal: term,
		AFN: 0x10, Attempts: 2}
	got := failTransport(context.Background(), cause, false)
	var f *gateway.Failure
	if !errors.As(got, &f) {
		t.Fatalf("error %v is not a *gateway.Failure", got)
	}
	if f.Evidence == nil {
		t.Fatal("failure without evidence")
	}
	if strings.Contains(f.Evidence.Detail, "attempt") {
		t.Errorf("detail %q counts frame writes as attempts", f.Evidence.Detail)
	}
	if !strings.Contains(f.Evidence.Detail, "request frame written 2 time(s)") {
		t.Errorf("detail %q does not name the 2 frame writes", f.Evidence.Detail)
	}
	if !strings.Contains(f.Evidence.Detail, "44010001") {
		t.Errorf("detail %q does not name the terminal", f.Evidence.Detail)
	}
}
