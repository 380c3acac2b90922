package dlt645

import (
	"bytes"
	"testing"
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
