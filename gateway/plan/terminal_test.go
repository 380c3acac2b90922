package plan

import (
	"bytes"
	"testing"
	"time"

	"github.com/feegate/feegate/gw376"
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

func TestPortControlBaud1200(t *testing.T) {
	if got := portControl(1200); got != 0x4B {
		t.Errorf("1200 8E1 control byte %02X, want 4B", got)
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
