package gw376

import (
	"testing"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
)

func BenchmarkDecodeHeartbeat(b *testing.B) {
	raw := mustFixture(b, loadFixtures(b), "V04-heartbeat-2013")
	var f Frame
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if err := DecodeInto(&f, raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFramer(b *testing.B) {
	fx := loadFixtures(b)
	var stream []byte
	for len(stream) < 64<<10 {
		for _, n := range []string{"V04-heartbeat-2013", "V14-r-0C-F129", "V23-afn10-trip-req"} {
			stream = append(stream, mustFixture(b, fx, n)...)
		}
	}
	fr := protocol.NewFramer(Spec, 1<<20)
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		fr.Write(stream)
		for {
			r := fr.Next(false)
			if r.Frame == nil {
				break
			}
		}
	}
}

// forwardReplyFrame builds an AFN10 F1 reply carrying a DL/T 645 read reply of energy.
func forwardReplyFrame(b *testing.B) []byte {
	meter := []byte{0x68, 0x61, 0x10, 0x01, 0x30, 0x12, 0x15, 0x68, 0x91, 0x08,
		0x33, 0x33, 0x34, 0x33, 0x59, 0xB3, 0x55, 0x44}
	var cs byte
	for _, c := range meter {
		cs += c
	}
	meter = append(meter, cs, 0x16)
	r := ForwardReply{Port: 31, Frame: meter}
	id, _ := IDFor(0, 1)
	data, err := r.Append(id.Append(nil))
	if err != nil {
		b.Fatal(err)
	}
	req, _ := NewRequest(protocol.TerminalAddress{A1: 200, A2: 0x1234}, 2, AFNForward, 5, nil)
	f := Reply(&req, data)
	raw, err := Encode(&f)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkDecodeForwardReply is the gateway's path for a meter reply through a terminal:
// the 376.1 frame, the AFN10 F1 unit and the embedded DL/T 645 frame, all without the
// generic table walk.
func BenchmarkDecodeForwardReply(b *testing.B) {
	raw := forwardReplyFrame(b)
	var f Frame
	var meter dlt645.Frame
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if err := DecodeInto(&f, raw); err != nil {
			b.Fatal(err)
		}
		r, err := ParseForwardReply(f.Data[IDLen:])
		if err != nil {
			b.Fatal(err)
		}
		if err := dlt645.DecodeInto(&meter, r.Frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWalkForwardReply is the same frame through the generic table walk that explain
// uses, which builds a node per field.
func BenchmarkWalkForwardReply(b *testing.B) {
	raw := forwardReplyFrame(b)
	var f Frame
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeInto(&f, raw); err != nil {
			b.Fatal(err)
		}
		us := f.Units()
		if us.Err != nil || len(us.List) != 1 {
			b.Fatal(us.Err)
		}
	}
}
