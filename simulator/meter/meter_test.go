package meter

import (
	"context"
	"errors"
	"testing"
	"time"
	"unsafe"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/dlt645/secdouble"
	"github.com/feegate/feegate/protocol"
)

var t0 = time.Date(2026, 12, 4, 9, 30, 0, 0, dlt645.DefaultLocation())

func addr(t *testing.T, s string) protocol.MeterAddress {
	t.Helper()
	a, err := protocol.ParseMeterAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func password(t *testing.T, s string) dlt645.Password {
	t.Helper()
	p, err := dlt645.ParsePassword(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// exchange sends req to the meter through the codec, both ways, as a line would.
func exchange(t *testing.T, m *Meter, req *dlt645.Frame, now time.Time) *dlt645.Frame {
	t.Helper()
	wire, err := dlt645.Encode(req)
	if err != nil {
		t.Fatal(err)
	}
	in, err := dlt645.Decode(wire)
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := m.Handle(in, now, 0)
	if reply == nil {
		return nil
	}
	out, err := dlt645.Encode(reply)
	if err != nil {
		t.Fatalf("meter reply does not encode: %v", err)
	}
	back, err := dlt645.Decode(out)
	if err != nil {
		t.Fatalf("meter reply does not decode: %v", err)
	}
	return back
}

func newPlain(t *testing.T) *Meter {
	return New(Config{Address: addr(t, "000000000161"), Edition: dlt645.Edition2007,
		Password: password(t, "123456"), LoadKW: 2, InitialKWh: 1000, Start: t0})
}

func readValue(t *testing.T, m *Meter, di dlt645.DI, now time.Time) []byte {
	t.Helper()
	req := dlt645.NewReadRequest(m.Address(), di)
	reply := exchange(t, m, req, now)
	if reply == nil {
		t.Fatalf("read %s: no reply", di)
	}
	r, err := dlt645.ParseReadReply(reply, di)
	if err != nil {
		t.Fatalf("read %s: %v", di, err)
	}
	return r.Data
}

func bcdValue(t *testing.T, b []byte) uint64 {
	t.Helper()
	v, err := protocol.DecodeBCD(b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEnergyGrowsWithTime(t *testing.T) {
	m := newPlain(t)
	e0 := bcdValue(t, readValue(t, m, 0x00010000, t0))
	if e0 != 100000 {
		t.Fatalf("energy at start = %d (0.01 kWh), want 100000", e0)
	}
	e1 := bcdValue(t, readValue(t, m, 0x00010000, t0.Add(time.Hour)))
	// 2 kW mean with a ±50 % daily swing: between 1 and 3 kWh in one hour.
	if d := e1 - e0; d < 100 || d > 300 {
		t.Fatalf("energy in one hour = %d (0.01 kWh), want 100..300", d)
	}
	block := readValue(t, m, 0x0001FF00, t0.Add(time.Hour))
	total := bcdValue(t, block[0:4])
	var tariffs uint64
	for i := 1; i <= 4; i++ {
		tariffs += bcdValue(t, block[4*i:4*i+4])
	}
	if diff := int64(total) - int64(tariffs); diff < -2 || diff > 2 {
		t.Errorf("total %d != sum of tariffs %d", total, tariffs)
	}
}

func TestReadItems2007(t *testing.T) {
	m := New(Config{Address: addr(t, "000000000161"), Edition: dlt645.Edition2007,
		CostControl: true, LoadKW: 1, Start: t0, BalanceYuan: 100})
	now := t0.Add(90 * time.Minute)
	for di, it := range items2007 {
		if got := len(readValue(t, m, dlt645.DI(di), now)); got != it.size {
			t.Errorf("DI %08X: %d bytes, want %d", di, got, it.size)
		}
	}
	if v := bcdValue(t, readValue(t, m, 0x00900200, now)); v == 0 || v > 10000 {
		t.Errorf("balance = %d (0.01 yuan), want below 100 yuan and above 0", v)
	}
	clock := readValue(t, m, 0x0400010C, now)
	if clock[0] != 0x00 || clock[1] != 0x00 || clock[2] != 0x11 || clock[6] != 0x26 {
		t.Errorf("clock = % X, want 11:00:00 of 2026", clock)
	}
	reply := exchange(t, m, dlt645.NewReadRequest(m.Address(), 0x02010200), now)
	if _, err := dlt645.ParseReadReply(reply, 0x02010200); !errors.Is(err, dlt645.ErrNoData) {
		t.Errorf("unknown DI: err = %v, want ErrNoData", err)
	}
	if got := exchange(t, m, dlt645.NewReadRequest(addr(t, "000000000162"), 0x00010000), now); got != nil {
		t.Errorf("meter answered another address")
	}
	wild := dlt645.NewRequest(protocol.WildcardMeterAddress, dlt645.FuncReadAddress, nil)
	if got := exchange(t, m, wild, now); got == nil || got.Address != m.Address() {
		t.Errorf("read address: %v", got)
	}
}

func TestRead1997AndNoRelay(t *testing.T) {
	m := New(Config{Address: addr(t, "000000000163"), Edition: dlt645.Edition1997,
		LoadKW: 1, InitialKWh: 12.34, Start: t0})
	for di, it := range items1997 {
		reply := exchange(t, m, dlt645.NewReadRequest97(m.Address(), dlt645.DI97(di)), t0)
		r, err := dlt645.ParseReadReply97(reply, dlt645.DI97(di))
		if err != nil {
			t.Fatalf("DI %04X: %v", di, err)
		}
		if len(r.Data) != it.size {
			t.Errorf("DI %04X: %d bytes, want %d", di, len(r.Data), it.size)
		}
	}
	reply := exchange(t, m, dlt645.NewReadRequest97(m.Address(), 0x9010), t0)
	r, _ := dlt645.ParseReadReply97(reply, 0x9010)
	if v := bcdValue(t, r.Data); v != 1234 {
		t.Errorf("9010 = %d, want 1234", v)
	}
	reread := exchange(t, m, dlt645.NewRereadRequest97(m.Address()), t0)
	if _, err := dlt645.ParseReadReply97(reread, 0x9010); err != nil {
		t.Errorf("re-read: %v", err)
	}
	trip := relayFrame(t, m, dlt645.ActionTrip, "123456", t0.Add(time.Hour))
	reply = exchange(t, m, trip, t0)
	if reply == nil || !reply.Control.IsAbnormal() {
		t.Fatalf("1997 meter accepted a relay command: %v", reply)
	}
	if s := m.State(t0); s.Relay != "closed" || s.Operations.Trip != 0 {
		t.Errorf("state after refused trip: %+v", s)
	}
}

func relayFrame(t *testing.T, m *Meter, a dlt645.RelayAction, pw string, deadline time.Time) *dlt645.Frame {
	t.Helper()
	f, err := dlt645.NewRelayRequest(m.Address(), &dlt645.RelayCommand{
		Level: dlt645.LevelPlain02, Password: password(t, pw), Action: a, Deadline: deadline,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// relay sends a plain relay command and returns nil or the meter's error.
func relay(t *testing.T, m *Meter, a dlt645.RelayAction, pw string, now time.Time) error {
	t.Helper()
	reply := exchange(t, m, relayFrame(t, m, a, pw, now.Add(time.Hour)), now)
	if reply == nil {
		t.Fatal("no reply to relay control")
	}
	_, err := dlt645.ParseRelayReply(reply)
	return err
}

func TestAllowCloseWaitsForButton(t *testing.T) {
	m := newPlain(t)
	if err := relay(t, m, dlt645.ActionTrip, "123456", t0); err != nil {
		t.Fatal(err)
	}
	if s := m.State(t0); s.Relay != "open" || s.CommandState != "open" {
		t.Fatalf("after trip: relay %s command %s", s.Relay, s.CommandState)
	}
	word := readValue(t, m, 0x04000503, t0)
	sw := dlt645.StatusWord{Word: 3, Raw: uint16(word[0]) | uint16(word[1])<<8}
	if !sw.RelayOpen() || !sw.RelayCommandOpen() {
		t.Errorf("status word 3 after trip = %04X", sw.Raw)
	}
	if err := relay(t, m, dlt645.ActionAllowClose, "123456", t0); err != nil {
		t.Fatal(err)
	}
	s := m.State(t0)
	if s.Relay != "open" {
		t.Errorf("allow close closed the relay without the button")
	}
	if !s.CloseAllowed || s.CommandState != "closed" {
		t.Errorf("after allow close: %+v", s)
	}
	if !m.PressButton(t0.Add(time.Minute)) {
		t.Fatal("button did not close the relay")
	}
	if s := m.State(t0.Add(time.Minute)); s.Relay != "closed" || s.CloseAllowed {
		t.Errorf("after button: %+v", s)
	}
	if m.PressButton(t0.Add(2 * time.Minute)) {
		t.Error("a second press reported a close")
	}
	if s := m.State(t0); s.Operations.Trip != 1 || s.Operations.AllowClose != 1 {
		t.Errorf("operations = %+v", s.Operations)
	}
}

func TestGuaranteeRefusesTrip(t *testing.T) {
	m := newPlain(t)
	if err := relay(t, m, dlt645.ActionGuarantee, "123456", t0); err != nil {
		t.Fatal(err)
	}
	err := relay(t, m, dlt645.ActionTrip, "123456", t0)
	if !errors.Is(err, dlt645.ErrGuaranteeActive) {
		t.Fatalf("trip under guarantee: err = %v, want ErrGuaranteeActive", err)
	}
	if s := m.State(t0); s.Relay != "closed" || s.Operations.Rejected != 1 {
		t.Errorf("state: %+v", s)
	}
	if err := relay(t, m, dlt645.ActionGuaranteeRelease, "123456", t0); err != nil {
		t.Fatal(err)
	}
	if err := relay(t, m, dlt645.ActionTrip, "123456", t0); err != nil {
		t.Fatalf("trip after release: %v", err)
	}
}

func TestPastDeadlineRefused(t *testing.T) {
	m := newPlain(t)
	reply := exchange(t, m, relayFrame(t, m, dlt645.ActionTrip, "123456", t0.Add(-time.Second)), t0)
	if _, err := dlt645.ParseRelayReply(reply); !errors.Is(err, dlt645.ErrDeadlineInvalid) {
		t.Fatalf("err = %v, want ErrDeadlineInvalid", err)
	}
	if err := m.SetFault(FaultClockSkew, true, 0, t0); err != nil {
		t.Fatal(err)
	}
	reply = exchange(t, m, relayFrame(t, m, dlt645.ActionTrip, "123456", t0.Add(time.Hour)), t0)
	if _, err := dlt645.ParseRelayReply(reply); !errors.Is(err, dlt645.ErrDeadlineInvalid) {
		t.Fatalf("skewed clock: err = %v, want ErrDeadlineInvalid", err)
	}
	if s := m.State(t0); s.Relay != "closed" {
		t.Errorf("relay = %s", s.Relay)
	}
}

func TestThreeWrongPasswordsLock(t *testing.T) {
	m := newPlain(t)
	for i := 0; i < 3; i++ {
		err := relay(t, m, dlt645.ActionTrip, "000000", t0.Add(time.Duration(i)*time.Minute))
		if !errors.Is(err, dlt645.ErrPasswordRejected) {
			t.Fatalf("wrong password %d: err = %v", i+1, err)
		}
	}
	err := relay(t, m, dlt645.ActionTrip, "123456", t0.Add(5*time.Minute))
	if !errors.Is(err, dlt645.ErrPasswordRejected) {
		t.Fatalf("right password on a locked level: err = %v", err)
	}
	if s := m.State(t0.Add(5 * time.Minute)); len(s.Locked) != 1 || s.Locked[0] != 2 {
		t.Errorf("locked levels = %v", s.Locked)
	}
	if err := relay(t, m, dlt645.ActionTrip, "123456", t0.Add(25*time.Hour)); err != nil {
		t.Fatalf("after the lock window: %v", err)
	}
}

func TestCostControlPlainPasswordClosesOnly(t *testing.T) {
	m := New(Config{Address: addr(t, "000000000171"), Edition: dlt645.Edition2007,
		CostControl: true, Password: password(t, "123456"), Start: t0})
	if err := relay(t, m, dlt645.ActionTrip, "123456", t0); !errors.Is(err, dlt645.ErrPasswordRejected) {
		t.Fatalf("plain trip on cost-control: err = %v", err)
	}
	if err := relay(t, m, dlt645.ActionClose, "123456", t0); err != nil {
		t.Fatalf("plain close on cost-control: %v", err)
	}
}

func TestTripDelayAndPreTripAlarm(t *testing.T) {
	m := New(Config{Address: addr(t, "000000000161"), Edition: dlt645.Edition2007,
		Password: password(t, "123456"), Start: t0, TripDelay: 2 * time.Minute})
	if err := relay(t, m, dlt645.ActionTrip, "123456", t0); err != nil {
		t.Fatal(err)
	}
	s := m.State(t0.Add(time.Minute))
	if s.Relay != "closed" || s.CommandState != "open" || !s.PreTripAlarm {
		t.Fatalf("during the trip delay: %+v", s)
	}
	s = m.State(t0.Add(3 * time.Minute))
	if s.Relay != "open" || s.PreTripAlarm || s.TripCount != 1 {
		t.Fatalf("after the trip delay: %+v", s)
	}
	last := readValue(t, m, 0x1D000101, t0.Add(3*time.Minute))
	if last[1] != 0x32 || last[2] != 0x09 {
		t.Errorf("last trip time = % X, want 09:32", last)
	}
}

func TestBypassAndStuckFaults(t *testing.T) {
	m := newPlain(t)
	if err := m.SetFault(FaultBypass, true, 0, t0); err != nil {
		t.Fatal(err)
	}
	if err := relay(t, m, dlt645.ActionTrip, "123456", t0); err != nil {
		t.Fatal(err)
	}
	s := m.State(t0.Add(time.Hour))
	if s.Relay != "open" || s.PowerKW == 0 || s.EnergyKWh <= 1000 {
		t.Errorf("bypass: %+v", s)
	}

	m = newPlain(t)
	_ = m.SetFault(FaultRelayStuck, true, 0, t0)
	if err := relay(t, m, dlt645.ActionTrip, "123456", t0); err != nil {
		t.Fatal(err)
	}
	if s := m.State(t0); s.Relay != "closed" || s.CommandState != "open" || s.Operations.Trip != 1 {
		t.Errorf("stuck: %+v", s)
	}
	if err := m.SetFault("melted", true, 0, t0); !errors.Is(err, ErrUnknownFault) {
		t.Errorf("unknown fault: err = %v", err)
	}
}

func TestSilentAndPowerDown(t *testing.T) {
	m := newPlain(t)
	_ = m.SetFault(FaultSilent, true, 0, t0)
	if r, _ := m.Handle(dlt645.NewReadRequest(m.Address(), 0x00010000), t0, 0); r != nil {
		t.Error("silent meter replied")
	}
	_ = m.SetFault(FaultSilent, false, 0, t0)
	m.SetPower(false, t0)
	if r, _ := m.Handle(dlt645.NewReadRequest(m.Address(), 0x00010000), t0, 0); r != nil {
		t.Error("meter without supply replied")
	}
	_ = m.SetFault(FaultSlow, true, time.Second, t0)
	m.SetPower(true, t0)
	if _, d := m.Handle(dlt645.NewReadRequest(m.Address(), 0x00010000), t0, 20*time.Millisecond); d != time.Second+20*time.Millisecond {
		t.Errorf("slow delay = %v", d)
	}
}

func TestMeterSize(t *testing.T) {
	if size := unsafe.Sizeof(Meter{}); size > 512 {
		t.Errorf("Meter is %d bytes, want at most 512", size)
	}
}

var secret = []byte("feegate simulator test secret")

// authenticate runs identity authentication against a cost-control meter and returns the
// session, as the gateway does with the encryption test double.
func authenticate(t *testing.T, master *secdouble.Master, m *Meter, now time.Time) dlt645.AuthSession {
	t.Helper()
	div, err := dlt645.DispersionFactor(m.number.String())
	if err != nil {
		t.Fatal(err)
	}
	req, err := dlt645.BuildIdentityAuthRequest(context.Background(), master, m.Address(),
		dlt645.OperatorCode{}, div)
	if err != nil {
		t.Fatal(err)
	}
	reply := exchange(t, m, req, now)
	if reply == nil {
		t.Fatal("no reply to identity authentication")
	}
	s, err := dlt645.ParseIdentityAuthReply(reply, div)
	if err != nil {
		t.Fatalf("identity authentication: %v", err)
	}
	return s
}

func encryptedTrip(t *testing.T, master *secdouble.Master, s dlt645.AuthSession, m *Meter, now time.Time) *dlt645.Frame {
	t.Helper()
	f, err := dlt645.BuildEncryptedRelayRequest(context.Background(), master, s, m.Address(),
		&dlt645.RelayCommand{Action: dlt645.ActionTrip, Deadline: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestEncryptedTripAndMACBitFlip(t *testing.T) {
	master := secdouble.NewMaster(secret)
	m := New(Config{Address: addr(t, "000000000171"), Edition: dlt645.Edition2007,
		CostControl: true, Password: password(t, "123456"), Start: t0, Secret: secret})

	// Without identity authentication the meter refuses the PA=98 command.
	s := dlt645.AuthSession{}
	reply := exchange(t, m, encryptedTrip(t, master, s, m, t0), t0)
	if _, err := dlt645.ParseRelayReply(reply); !errors.Is(err, dlt645.ErrSecurity) {
		t.Fatalf("trip without authentication: err = %v, want ErrSecurity", err)
	}

	s = authenticate(t, master, m, t0)
	bad := encryptedTrip(t, master, s, m, t0)
	bad.Data[len(bad.Data)-1] ^= 0x01 // one bit of the MAC
	reply = exchange(t, m, bad, t0)
	if _, err := dlt645.ParseRelayReply(reply); !errors.Is(err, dlt645.ErrSecurity) {
		t.Fatalf("trip with one bit changed: err = %v, want ErrSecurity", err)
	}
	if st := m.State(t0); st.Relay != "closed" {
		t.Fatalf("relay moved on a bad MAC")
	}

	reply = exchange(t, m, encryptedTrip(t, master, s, m, t0), t0)
	if _, err := dlt645.ParseRelayReply(reply); err != nil {
		t.Fatalf("encrypted trip: %v", err)
	}
	if st := m.State(t0); st.Relay != "open" || st.Operations.Trip != 1 {
		t.Errorf("after encrypted trip: %+v", st)
	}

	// A meter with another secret rejects the authentication.
	other := New(Config{Address: addr(t, "000000000172"), Edition: dlt645.Edition2007,
		CostControl: true, Start: t0, Secret: []byte("another secret")})
	div, _ := dlt645.DispersionFactor("000000000172")
	req, _ := dlt645.BuildIdentityAuthRequest(context.Background(), master, other.Address(),
		dlt645.OperatorCode{}, div)
	reply = exchange(t, other, req, t0)
	if _, err := dlt645.ParseIdentityAuthReply(reply, div); !errors.Is(err, dlt645.ErrSecurity) {
		t.Errorf("authentication with a wrong key: err = %v, want ErrSecurity", err)
	}
}

func TestSecurityFailureFault(t *testing.T) {
	master := secdouble.NewMaster(secret)
	m := New(Config{Address: addr(t, "000000000171"), Edition: dlt645.Edition2007,
		CostControl: true, Start: t0, Secret: secret})
	s := authenticate(t, master, m, t0)
	_ = m.SetFault(FaultSecurityFailure, true, 0, t0)
	reply := exchange(t, m, encryptedTrip(t, master, s, m, t0), t0)
	if _, err := dlt645.ParseRelayReply(reply); !errors.Is(err, dlt645.ErrSecurity) {
		t.Fatalf("err = %v, want ErrSecurity", err)
	}
}

func TestWriteFreezeBroadcastFollowup(t *testing.T) {
	m := newPlain(t)
	pw := password(t, "123456")
	cred := dlt645.Credentials{Level: dlt645.LevelPlain02, Password: pw}

	// Write the trip delay (04001401, NNNN minutes): 0x94 with no data.
	w, err := dlt645.NewWriteRequest(m.Address(), &dlt645.WriteRequest{DI: 0x04001401,
		Credentials: cred, Data: []byte{0x05, 0x00}})
	if err != nil {
		t.Fatal(err)
	}
	if err := dlt645.ParseAck(dlt645.Edition2007, dlt645.FuncWrite, exchange(t, m, w, t0)); err != nil {
		t.Fatalf("write trip delay: %v", err)
	}
	if v := bcdValue(t, readValue(t, m, 0x04001401, t0)); v != 5 {
		t.Errorf("trip delay = %d min, want 5", v)
	}
	bad, _ := dlt645.NewWriteRequest(m.Address(), &dlt645.WriteRequest{DI: 0x04001401,
		Credentials: dlt645.Credentials{Level: dlt645.LevelPlain02}, Data: []byte{0x01, 0x00}})
	if err := dlt645.ParseAck(dlt645.Edition2007, dlt645.FuncWrite, exchange(t, m, bad, t0)); !errors.Is(err, dlt645.ErrPasswordRejected) {
		t.Errorf("write with a wrong password: err = %v", err)
	}

	// Freeze: 0x96 with no data.
	fr := dlt645.NewFreezeRequest(m.Address(), dlt645.FreezeTime{Minute: 99, Hour: 99, Day: 99, Month: 99})
	if err := dlt645.ParseAck(dlt645.Edition2007, dlt645.FuncFreeze, exchange(t, m, fr, t0)); err != nil {
		t.Errorf("freeze: %v", err)
	}

	// Read follow-up: no identifier needs a second frame.
	fu := dlt645.NewReadFollowupRequest(m.Address(), 0x00010000, 1)
	if _, err := dlt645.ParseReadFollowupReply(exchange(t, m, fu, t0), 0x00010000); !errors.Is(err, dlt645.ErrNoData) {
		t.Errorf("read follow-up: err = %v, want ErrNoData", err)
	}

	// Broadcast time: no reply; a correction under 5 minutes moves the clock, once a day.
	bc, err := dlt645.NewBroadcastTimeRequest(t0.Add(2 * time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if r := exchange(t, m, bc, t0); r != nil {
		t.Fatal("meter replied to a broadcast")
	}
	if s := m.State(t0); s.Clock != t0.Add(2*time.Minute).Format("2006-01-02T15:04:05") {
		t.Errorf("clock after broadcast = %s", s.Clock)
	}
	bc, _ = dlt645.NewBroadcastTimeRequest(t0.Add(3 * time.Minute))
	exchange(t, m, bc, t0)
	if s := m.State(t0); s.Clock != t0.Add(2*time.Minute).Format("2006-01-02T15:04:05") {
		t.Errorf("a second broadcast the same day moved the clock to %s", s.Clock)
	}

	// A function the meter does not support gets ERR bit 0.
	out, err := dlt645.NewOutputControlRequest(m.Address(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if r := exchange(t, m, out, t0); r == nil || !r.Control.IsAbnormal() || r.Data[0] != 0x01 {
		t.Errorf("unsupported function: %v", r)
	}
}

func TestWildcardOnlyForReads(t *testing.T) {
	m := newPlain(t)
	wild, _ := protocol.ParseMeterAddress("AAAAAAAA0161")
	if r := exchange(t, m, dlt645.NewReadRequest(wild, 0x00010000), t0); r == nil || r.Address != m.Address() {
		t.Fatalf("wildcard read: %v", r)
	}
	f, err := dlt645.NewRelayRequest(wild, &dlt645.RelayCommand{Level: dlt645.LevelPlain02,
		Password: password(t, "123456"), Action: dlt645.ActionTrip, Deadline: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if r := exchange(t, m, f, t0); r != nil {
		t.Errorf("meter answered a wildcard relay command: %v", r)
	}
	if s := m.State(t0); s.Relay != "closed" {
		t.Errorf("wildcard trip moved the relay")
	}
}

func TestClockSkewAtStart(t *testing.T) {
	m := New(Config{Address: addr(t, "000000000161"), Start: t0, ClockSkew: -15 * time.Second})
	if s := m.State(t0); s.Clock != t0.Add(-15*time.Second).Format("2006-01-02T15:04:05") {
		t.Errorf("clock = %s, want 15 s behind %s", s.Clock, t0.Format("15:04:05"))
	}
}
