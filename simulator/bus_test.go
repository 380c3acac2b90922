package simulator

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/simonvetter/modbus"
	"go.bug.st/serial"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
)

// readFrame reads from the port until one DL/T 645 frame (or garbage) arrived and the line
// stayed quiet for 100 ms.
func readFrame(t *testing.T, p serial.Port) []byte {
	t.Helper()
	if err := p.SetReadTimeout(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var out []byte
	buf := make([]byte, 256)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		n, err := p.Read(buf)
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		out = append(out, buf[:n]...)
		if n == 0 && len(out) > 0 {
			return out
		}
	}
	return out
}

func TestPtyBusWithSerialLibrary(t *testing.T) {
	f, _ := startFleet(t, nil, Options{Serial: 1, MetersPerBus: 3, Control: "-"})
	path := f.Ready().Serial[0]
	// go.bug.st/serial v1.8.0 opens a pty like a serial port; the mode is accepted even
	// though the pty ignores baud and parity.
	port, err := serial.Open(path, &serial.Mode{BaudRate: 2400, DataBits: 8,
		Parity: serial.EvenParity, StopBits: serial.OneStopBit})
	if err != nil {
		t.Fatalf("go.bug.st/serial cannot open pty %s: %v", path, err)
	}
	defer port.Close()

	meters := f.buses[0].meters
	target := meters[1].m.Address()
	req, _ := dlt645.Encode(dlt645.NewReadRequest(target, 0x04000401))
	if _, err := port.Write(req); err != nil {
		t.Fatal(err)
	}
	reply, err := dlt645.Decode(readFrame(t, port))
	if err != nil {
		t.Fatalf("bus reply: %v", err)
	}
	if reply.Address != target {
		t.Errorf("reply from %s, want only %s to answer", reply.Address, target)
	}
	r, err := dlt645.ParseReadReply(reply, 0x04000401)
	if err != nil || protocol.MeterAddress(r.Data) != target {
		t.Errorf("address read: % X %v", r.Data, err)
	}

	// A wildcard read of the address reaches all three meters: their replies collide.
	wild, _ := dlt645.Encode(dlt645.NewRequest(protocol.WildcardMeterAddress, dlt645.FuncReadAddress, nil))
	if _, err := port.Write(wild); err != nil {
		t.Fatal(err)
	}
	garbled := readFrame(t, port)
	if len(garbled) == 0 {
		t.Fatal("no bytes after a wildcard read")
	}
	if _, err := dlt645.Decode(garbled); err == nil {
		t.Errorf("collided replies decoded as a frame: % X", garbled)
	}
}

func TestPtyBusSingleMeterWildcard(t *testing.T) {
	f, _ := startFleet(t, nil, Options{Serial: 1, MetersPerBus: 1, Control: "-"})
	port, err := serial.Open(f.Ready().Serial[0], &serial.Mode{BaudRate: 2400})
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	wild, _ := dlt645.Encode(dlt645.NewRequest(protocol.WildcardMeterAddress, dlt645.FuncReadAddress, nil))
	if _, err := port.Write(wild); err != nil {
		t.Fatal(err)
	}
	reply, err := dlt645.Decode(readFrame(t, port))
	if err != nil {
		t.Fatalf("single meter wildcard read: %v", err)
	}
	if reply.Address != f.buses[0].meters[0].m.Address() {
		t.Errorf("reply address %s", reply.Address)
	}
}

func TestModbusMeters(t *testing.T) {
	f, _ := startFleet(t, nil, Options{Modbus: 2, Control: "-"})
	addr := f.Ready().Modbus
	client, err := modbus.NewClient(&modbus.ClientConfiguration{URL: "tcp://" + addr, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Open(); err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	model := archive.DefaultModbusModel().Registers
	_ = client.SetUnitId(2)
	words, err := client.ReadRegisters(model.Energy.Address, 2, modbus.HOLDING_REGISTER)
	if err != nil {
		t.Fatal(err)
	}
	kwh, _ := model.Energy.Decode(words, false)
	if kwh < 100 {
		t.Errorf("energy = %v kWh, want the initial 100 kWh or more", kwh)
	}
	volts, err := client.ReadRegister(model.Voltage.Address, modbus.HOLDING_REGISTER)
	if err != nil || volts < 2100 || volts > 2300 {
		t.Errorf("voltage register = %d (0.1 V), %v", volts, err)
	}

	if err := client.WriteCoil(model.RelayCoil.Address, model.RelayCoil.ValueFor(true)); err != nil {
		t.Fatal(err)
	}
	on, err := client.ReadDiscreteInput(model.RelayStatus.Address)
	if err != nil {
		t.Fatal(err)
	}
	if !model.RelayStatus.Open(on) {
		t.Error("relay status reads closed after the trip coil write")
	}
	m := f.modbusMeters()[1].m
	if st := m.State(time.Now()); st.Relay != "open" || st.Protocol != "modbus" || st.Operations.Trip != 1 {
		t.Errorf("meter state: %+v", st)
	}

	if err := f.SetFault(FaultRequest{Target: FaultTarget{Meter: m.Address().String()}, Fault: "silent"}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ReadDiscreteInput(model.RelayStatus.Address); !errors.Is(err, modbus.ErrGWTargetFailedToRespond) {
		t.Errorf("silent unit: err = %v, want gateway target failed to respond", err)
	}
}
