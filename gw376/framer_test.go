package gw376

import (
	"bytes"
	"testing"

	"github.com/feegate/feegate/protocol"
)

func TestFramerSplitsStream(t *testing.T) {
	fx := loadFixtures(t)
	names := []string{"V01-login-2009", "V04-heartbeat-2013", "V21-afn10-read-req", "V41-reset-ack"}
	var stream []byte
	stream = append(stream, 0x68, 0x32, 0x00) // a cut-off header: noise before the first frame
	for i, n := range names {
		stream = append(stream, mustFixture(t, fx, n)...)
		if i == 1 {
			stream = append(stream, 0x00, 0x16, 0x68) // junk between frames
		}
	}
	fr := protocol.NewFramer(Spec, 1<<16)
	var got [][]byte
	noise := 0
	// Feed the stream in 7-byte pieces so that frames straddle writes.
	for i := 0; i < len(stream); i += 7 {
		fr.Write(stream[i:min(i+7, len(stream))])
		for {
			r := fr.Next(false)
			noise += r.Noise
			if r.Frame == nil {
				break
			}
			got = append(got, append([]byte(nil), r.Frame...))
		}
	}
	r := fr.Next(true)
	noise += r.Noise
	if len(got) != len(names) {
		t.Fatalf("got %d frames, want %d", len(got), len(names))
	}
	for i, n := range names {
		if !bytes.Equal(got[i], mustFixture(t, fx, n)) {
			t.Errorf("frame %d = % X, want %s", i, got[i], n)
		}
	}
	if noise != 6 {
		t.Errorf("noise = %d bytes, want 6", noise)
	}
}

func TestFrameSpecCap(t *testing.T) {
	fx := loadFixtures(t)
	spec := NewFrameSpec(40)
	if n, err := spec.Check(mustFixture(t, fx, "V01-login-2009")); n != 20 || err != nil {
		t.Errorf("small frame: n=%d err=%v", n, err)
	}
	if _, err := spec.Check(mustFixture(t, fx, "V21-afn10-read-req")); err == nil {
		t.Error("frame with L1 56 passed a cap of 40")
	}
}

func FuzzFramer(f *testing.F) {
	fx := loadFixtures(f)
	for _, x := range fx {
		f.Add(x.raw, uint8(5))
	}
	f.Fuzz(func(t *testing.T, stream []byte, piece uint8) {
		step := int(piece%32) + 1
		fr := protocol.NewFramer(Spec, 4*MaxFrameLen)
		total := 0
		for i := 0; i < len(stream); i += step {
			fr.Write(stream[i:min(i+step, len(stream))])
			for {
				r := fr.Next(false)
				total += len(r.Skipped)
				if r.Frame == nil {
					break
				}
				total += len(r.Frame)
				if _, err := Decode(r.Frame); err != nil && !isVariantError(err) {
					t.Fatalf("framer passed a frame Decode rejects: %v\n% X", err, r.Frame)
				}
			}
		}
		r := fr.Next(true)
		total += len(r.Skipped)
		if total+fr.Buffered() != len(stream) {
			t.Fatalf("bytes lost: %d accounted, %d buffered, %d written", total, fr.Buffered(),
				len(stream))
		}
	})
}

func FuzzDecode(f *testing.F) {
	fx := loadFixtures(f)
	for _, x := range fx {
		f.Add(x.raw)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr Frame
		if err := DecodeInto(&fr, b); err != nil {
			return
		}
		again, err := Encode(&fr)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoded\n% X\nwant\n% X", again, b)
		}
	})
}
