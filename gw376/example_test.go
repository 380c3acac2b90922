package gw376_test

import (
	"fmt"
	"time"

	"github.com/feegate/feegate/gw376"
	"github.com/feegate/feegate/protocol"
)

// A terminal sends a heartbeat with its clock; the master confirms it with AFN00 F1.
func Example_heartbeat() {
	addr, _ := protocol.ParseTerminalAddress("24495845")
	clock := time.Date(2019, 7, 3, 17, 41, 17, 0, time.UTC)
	hb := gw376.Heartbeat(addr, 0, &clock)
	raw, _ := gw376.Encode(&hb)
	fmt.Printf("% X\n", raw)

	in, _ := gw376.Decode(raw)
	ack := gw376.ConfirmAll(in)
	raw, _ = gw376.Encode(&ack)
	fmt.Printf("% X\n", raw)
	// Output:
	// 68 4A 00 4A 00 68 C9 49 24 45 58 00 02 70 00 00 04 00 17 41 17 03 67 19 3B 16
	// 68 32 00 32 00 68 0B 49 24 45 58 00 00 60 00 00 01 00 76 16
}

// A master forwards a DL/T 645 read to a meter behind a terminal (AFN10 F1). PW is all
// zero, as terminals with authentication scheme 0 expect.
func Example_forward() {
	addr, _ := protocol.ParseTerminalAddress("02001234")
	fwd := gw376.DLT645Settings(31, 2400, 60*time.Second)
	fwd.Frame = []byte{0x68, 0x61, 0x10, 0x01, 0x30, 0x12, 0x15, 0x68, 0x11, 0x04,
		0x33, 0x33, 0x34, 0x33, 0x7B, 0x16}
	id, _ := gw376.IDFor(0, 1)
	data, _ := fwd.Append(id.Append(nil))
	req, _ := gw376.NewRequest(addr, 2, gw376.AFNForward, 0, data)
	raw, _ := gw376.Encode(&req)
	fmt.Printf("header  % X\n", raw[:14])
	fmt.Printf("unit    % X\n", raw[14:40])
	fmt.Printf("PW, end % X\n", raw[40:])
	// Output:
	// header  68 CA 00 CA 00 68 4B 00 02 34 12 04 10 60
	// unit    00 00 01 00 1F 6B BC 0A 10 00 68 61 10 01 30 12 15 68 11 04 33 33 34 33 7B 16
	// PW, end 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 74 16
}
