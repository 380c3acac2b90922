package dlt645

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/feegate/feegate/protocol"
)

var benchReply = []byte{0x68, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x68, 0x91, 0x08,
	0x33, 0x33, 0x34, 0x33, 0x59, 0xB3, 0x55, 0x44, 0xDC, 0x16}

func BenchmarkDecodeIntoReadReply(b *testing.B) {
	var f Frame
	b.ReportAllocs()
	b.SetBytes(int64(len(benchReply)))
	for b.Loop() {
		if err := DecodeInto(&f, benchReply); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeValueEnergy(b *testing.B) {
	var f Frame
	it, _ := Lookup(0x00010000)
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeInto(&f, benchReply); err != nil {
			b.Fatal(err)
		}
		r, err := ParseReadReply(&f, 0x00010000)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeValue(it, r.Data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeRelayCommand(b *testing.B) {
	addr, _ := protocol.ParseMeterAddress("558890213594")
	cmd := &RelayCommand{Level: LevelPlain02, Action: ActionTrip,
		Deadline: time.Date(2021, 7, 9, 23, 59, 59, 0, DefaultLocation())}
	f := Frame{Address: addr, Control: Control(FuncRelayControl)}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if f.Data, err = AppendRelayData(f.Data[:0], cmd); err != nil {
			b.Fatal(err)
		}
		if buf, err = Append(buf[:0], &f, true); err != nil {
			b.Fatal(err)
		}
	}
}

// noisyStream returns about 64 KiB of replies with echoed requests, preamble bytes and
// random noise (including 0x68 and 0x16) between them.
func noisyStream() []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	req := []byte{0xFE, 0xFE, 0xFE, 0xFE, 0x68, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x68,
		0x11, 0x04, 0x33, 0x33, 0x34, 0x33, 0xB3, 0x16}
	var s []byte
	for len(s) < 64<<10 {
		s = append(s, req...)
		for n := rng.IntN(6); n > 0; n-- {
			s = append(s, []byte{0x68, 0x16, 0xFE, byte(rng.IntN(256))}[rng.IntN(4)])
		}
		s = append(s, 0xFE, 0xFE)
		s = append(s, benchReply...)
	}
	return s
}

func BenchmarkFramerNoisyStream(b *testing.B) {
	stream := noisyStream()
	want := bytes.Count(stream, benchReply)
	fr := NewFramer(16384, true)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		frames := 0
		for off := 0; off < len(stream); off += 4096 {
			fr.Write(stream[off:min(off+4096, len(stream))])
			for {
				r := fr.Next(false)
				if r.Frame == nil {
					break
				}
				frames++
			}
		}
		if frames != want {
			b.Fatalf("%d frames, want %d", frames, want)
		}
		fr.Reset()
	}
}

// adversarialStream returns n bytes that make as many candidates as possible cost a
// checksum: every byte is 0x68, so each offset is a start byte whose second start byte
// matches and whose L (0x68 = 104) announces a 116-byte frame with a wrong checksum.
func adversarialStream(n int) []byte { return bytes.Repeat([]byte{StartByte}, n) }

// benchmarkFramerFeed writes stream to a framer in chunks of chunk bytes, calling Next
// after each, and returns the number of frames found.
func benchmarkFramerFeed(b *testing.B, stream []byte, chunk int) {
	fr := NewFramer(2*MaxFrameLen, true)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		for off := 0; off < len(stream); off += chunk {
			fr.Write(stream[off:min(off+chunk, len(stream))])
			for fr.Next(false).Frame != nil {
			}
		}
		fr.Reset()
	}
}

// The 64 KiB and 1 MiB variants show whether Next is linear: equal MB/s means linear.
func BenchmarkFramerAll68_64KiB(b *testing.B) {
	benchmarkFramerFeed(b, adversarialStream(64<<10), 4096)
}
func BenchmarkFramerAll68_1MiB(b *testing.B) { benchmarkFramerFeed(b, adversarialStream(1<<20), 4096) }

func BenchmarkFramerNoisyByteAtATime(b *testing.B) {
	benchmarkFramerFeed(b, noisyStream(), 1)
}

func BenchmarkFramerAll68ByteAtATime(b *testing.B) {
	benchmarkFramerFeed(b, adversarialStream(64<<10), 1)
}
