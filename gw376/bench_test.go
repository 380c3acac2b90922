package gw376

import (
	"testing"

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
