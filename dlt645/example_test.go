package dlt645_test

import (
	"fmt"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
)

// Read the forward active energy of a meter and decode the reply.
func Example_read() {
	addr, _ := protocol.ParseMeterAddress("000000000001")
	req := dlt645.NewReadRequest(addr, 0x00010000)
	wire, _ := dlt645.Encode(req)
	fmt.Printf("send % X\n", wire)

	replyBytes := []byte{0x68, 0x01, 0, 0, 0, 0, 0, 0x68, 0x91, 0x08,
		0x33, 0x33, 0x34, 0x33, 0x59, 0xB3, 0x55, 0x44, 0xDC, 0x16}
	var reply dlt645.Frame
	if err := dlt645.DecodeInto(&reply, replyBytes); err != nil {
		fmt.Println(err)
		return
	}
	r, err := dlt645.ParseReadReply(&reply, 0x00010000)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("DI %s value bytes % X\n", r.DI, r.Data)
	// Output:
	// send FE FE FE FE 68 01 00 00 00 00 00 68 11 04 33 33 34 33 B3 16
	// DI 00010000 value bytes 26 80 22 11
}

// Trip a meter with a level-02 password and a deadline.
func Example_trip() {
	addr, _ := protocol.ParseMeterAddress("558890213594")
	f, err := dlt645.NewRelayRequest(addr, &dlt645.RelayCommand{
		Level:    dlt645.LevelPlain02,
		Action:   dlt645.ActionTrip,
		Deadline: time.Date(2021, 7, 9, 23, 59, 59, 0, dlt645.DefaultLocation()),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	wire, _ := dlt645.Encode(f)
	fmt.Printf("% X\n", wire)
	// Output:
	// FE FE FE FE 68 94 35 21 90 88 55 68 1C 10 35 33 33 33 33 33 33 33 4D 33 8C 8C 56 3C 3A 54 A5 16
}
