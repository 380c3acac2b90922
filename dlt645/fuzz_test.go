package dlt645

import (
	"bytes"
	"testing"
	"time"

	"github.com/feegate/feegate/protocol"
)

func FuzzDecode(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.raw)
	}
	f.Add([]byte{0xFE, 0x68})
	f.Fuzz(func(t *testing.T, data []byte) {
		var fr Frame
		if err := DecodeInto(&fr, data); err != nil {
			return
		}
		enc, err := Append(nil, &fr, false)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasSuffix(data, enc) {
			t.Fatalf("re-encoded % X is not the frame in % X", enc, data)
		}
		// Every parser must return an error or a value, never panic.
		ed, _ := DetectEdition(&fr)
		_ = ReplyError(ed, &fr)
		_, _ = ParseReadReply(&fr, 0x00010000)
		_, _ = ParseReadFollowupReply(&fr, 0x00010000)
		_, _ = ParseReadReply97(&fr, 0x9010)
		_, _ = ParseRelayReply(&fr)
		_, _ = ParseRelayRequest(&fr, nil)
		_, _ = ParseEncryptedRelayRequest(&fr)
		_, _ = ParseIdentityAuthRequest(&fr)
		_, _ = ParseIdentityAuthReply(&fr, [8]byte{})
		_, _ = ParseWriteRequest(&fr)
		_, _ = ParseFreezeRequest(&fr)
		_, _ = ParseBroadcastTime(&fr)
		_, _ = ParseReadAddressReply(&fr)
		_, _ = ParseChangeBaudReply(ed, &fr)
		_, _ = ParseChangePasswordReply(&fr)
		_, _ = ParseChangePasswordReply97(&fr)
		_ = ParseAck(ed, fr.Function(), &fr)
		if len(fr.Data) >= 4 {
			if it, ok := Lookup(diFromWire(fr.Data)); ok {
				_, _ = DecodeValue(it, fr.Data[4:])
			}
		}
	})
}

func FuzzFramer(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.raw, uint8(3), true)
	}
	f.Add([]byte{0x68, 0x68, 0x16, 0xFE, 0x68}, uint8(1), false)
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, repliesOnly bool) {
		const max = 2 * MaxFrameLen
		fr := NewFramer(max, repliesOnly)
		step := int(chunk)%32 + 1
		consumed := 0
		for i := 0; i < len(data); i += step {
			end := min(i+step, len(data))
			fr.Write(data[i:end])
			for {
				r := fr.Next(end == len(data))
				consumed += len(r.Skipped) + len(r.Frame)
				if fr.Buffered() > max+step {
					t.Fatalf("framer buffers %d bytes, max %d", fr.Buffered(), max)
				}
				if r.Frame == nil {
					break
				}
				got, err := Decode(r.Frame)
				if err != nil {
					t.Fatalf("framer returned an invalid frame % X: %v", r.Frame, err)
				}
				if repliesOnly && !got.Control.IsReply() {
					t.Fatalf("request frame passed a replies-only framer")
				}
			}
		}
		if consumed > len(data) {
			t.Fatalf("framer reported %d bytes of %d", consumed, len(data))
		}
	})
}

func FuzzDecodeValue(f *testing.F) {
	f.Add(uint16(0), []byte{0x26, 0x80, 0x22, 0x11})
	f.Add(uint16(40), []byte{0x50, 0x10})
	rows := Items()
	f.Fuzz(func(t *testing.T, row uint16, data []byte) {
		it := rows[int(row)%len(rows)]
		v, err := DecodeValue(it, data)
		if err != nil {
			return
		}
		_ = v.JSON()
		enc, err := EncodeValue(nil, it, v)
		if err != nil {
			// Times re-encode through time.Time, which normalizes; everything else must
			// encode again.
			return
		}
		if len(enc) != len(data) {
			t.Fatalf("%s: %d bytes re-encoded to %d", it.DIString(), len(data), len(enc))
		}
	})
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"112280.26", "-0.5", "0", "999999999999999999", "1.", "-",
		"0.000000001", "1e5", "+1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDecimal(s)
		if err != nil {
			return
		}
		back, err := ParseDecimal(d.String())
		if err != nil {
			t.Fatalf("%q parsed to %#v, which prints %q: %v", s, d, d.String(), err)
		}
		if back != d && !(d.Units == 0 && back.Units == 0) {
			t.Fatalf("%q parsed to %#v, printed %q, parsed back to %#v", s, d, d.String(), back)
		}
		if !d.Equal(back) {
			t.Fatalf("%#v is not Equal to %#v", d, back)
		}
	})
}

// FuzzReadAssembly feeds a read assembly the frames cut from a fuzzed stream, as a bus
// owner does with every reply it receives.
func FuzzReadAssembly(f *testing.F) {
	addr := protocol.MeterAddress{0x01}
	var seed []byte
	for _, fr := range readReplies(addr, 0x00010000, 3) {
		seed, _ = Append(seed, fr, true)
	}
	f.Add(seed)
	f.Add([]byte{0x68, 0x01, 0, 0, 0, 0, 0, 0x68, 0xB1, 0x04, 0x33, 0x33, 0x34, 0x33, 0x4F,
		0x16})
	f.Fuzz(func(t *testing.T, stream []byte) {
		a, _ := NewReadAssembly(addr, 0x00010000)
		fr := NewFramer(2*MaxFrameLen, true)
		fr.Write(stream)
		for {
			r := fr.Next(true)
			if r.Frame == nil {
				break
			}
			reply, err := Decode(r.Frame)
			if err != nil {
				t.Fatalf("framer frame % X does not decode: %v", r.Frame, err)
			}
			frames, size := a.Frames, len(a.Data)
			n, err := a.Add(reply)
			if err != nil {
				if a.Frames != frames || len(a.Data) != size {
					t.Fatalf("rejected reply changed the assembly: %v", err)
				}
				continue
			}
			if a.Frames != frames+1 || !a.Address.Matches(reply.Address) {
				t.Fatalf("accepted reply from %s: %d frames", reply.Address, a.Frames)
			}
			if n == nil != a.Done() {
				t.Fatalf("next request %v but done %v", n, a.Done())
			}
		}
		if a.Frames > 256 || len(a.Data) > 256*MaxDataLen {
			t.Fatalf("%d frames, %d bytes", a.Frames, len(a.Data))
		}
	})
}

// FuzzRelayRequest decodes relay-control data as a meter does and checks that a command
// that decodes encodes to the same 16 bytes.
func FuzzRelayRequest(f *testing.F) {
	f.Add([]byte{0x02, 0x56, 0x34, 0x12, 0, 0, 0, 0, 0x1A, 0, 0x59, 0x59, 0x23, 0x09, 0x07,
		0x21}, uint8(0))
	f.Add([]byte{0x98, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, uint8(1))
	zones := []*time.Location{nil, time.UTC, time.FixedZone("UTC-11", -11*3600)}
	f.Fuzz(func(t *testing.T, data []byte, zone uint8) {
		loc := zones[int(zone)%len(zones)]
		req := NewRequest(protocol.MeterAddress{0x01}, FuncRelayControl, data)
		c, err := ParseRelayRequest(req, loc)
		if err != nil {
			_, _ = ParseEncryptedRelayRequest(req)
			return
		}
		if !c.Action.Known() {
			return
		}
		if c.Level != LevelPlain02 && c.Level != LevelPlain04 {
			return
		}
		enc, err := NewRelayRequest(req.Address, c)
		if err != nil {
			t.Fatalf("decoded command %+v does not encode: %v", c, err)
		}
		if !bytes.Equal(enc.Data, data) {
			t.Fatalf("% X decoded and encoded to % X", data, enc.Data)
		}
	})
}
