package gw376

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/feegate/feegate/dlt645"
	"github.com/feegate/feegate/protocol"
)

// tableObject decodes data by the table row of (afn, fn, dir) and returns it as an Object.
func tableObject(t *testing.T, afn AFN, fn uint8, dir Dir, data []byte) Object {
	t.Helper()
	def := LookupUnit(afn, fn, dir)
	if def == nil {
		t.Fatalf("no table row AFN %02X F%d %s", byte(afn), fn, dir)
	}
	nodes, n, err := def.Decode(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(data) {
		t.Fatalf("table used %d of %d bytes", n, len(data))
	}
	return ObjectOf(nodes)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestForwardRequestFixture(t *testing.T) {
	fx := loadFixtures(t)
	f, err := Decode(mustFixture(t, fx, "V23-afn10-trip-req"))
	if err != nil {
		t.Fatal(err)
	}
	us := f.Units()
	if us.Err != nil || len(us.List) != 1 {
		t.Fatalf("units %v err %v", len(us.List), us.Err)
	}
	r, err := ParseForwardRequest(us.List[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if r.Port != 31 || r.Baud != 2400 || r.Parity != ParityEven || r.StopBits != 1 ||
		r.DataBits != 8 || r.FrameTimeout != 60*time.Second ||
		r.ByteTimeout != 100*time.Millisecond {
		t.Errorf("request = %+v", r)
	}
	meter, err := DecodeEmbedded(r.Frame)
	if err != nil {
		t.Fatal(err)
	}
	if meter.Address.String() != "151230011061" || meter.Function() != dlt645.Function(0x1C) {
		t.Errorf("embedded frame address %s function %v", meter.Address, meter.Function())
	}
	again, err := r.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, us.List[0].Data) {
		t.Errorf("re-encoded % X\nwant % X", again, us.List[0].Data)
	}
}

func TestForwardReplyRoundTrip(t *testing.T) {
	reply := ForwardReply{Port: 31, Frame: []byte{0x68, 0x01, 0x02, 0x16}}
	data, err := reply.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	obj := tableObject(t, AFNForward, 1, Up, data)
	if got := mustJSON(t, obj); got != `{"port":31,"length":4,"frame":"68010216"}` {
		t.Errorf("table view %s", got)
	}
	back, err := ParseForwardReply(data)
	if err != nil || back.Port != 31 || !bytes.Equal(back.Frame, reply.Frame) {
		t.Errorf("parse = %+v, %v", back, err)
	}
	empty := ForwardReply{Port: 2}
	data, _ = empty.Append(nil)
	if !bytes.Equal(data, []byte{2, 0, 0}) {
		t.Errorf("empty reply % X", data)
	}
}

func TestForwardReadReply(t *testing.T) {
	meter, _ := protocol.ParseMeterAddress("000000000161")
	r := ForwardReadReply{Port: 2, Meter: meter, Result: ForwardData, HasDI: true,
		DI: 0x04000503, Data: []byte{0x50, 0x00}}
	data, err := r.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := mustJSON(t, tableObject(t, AFNForward, 9, Up, data))
	want := `{"port":2,"meter":"000000000161","result":5,"length":6,` +
		`"content":{"di":"04000503","data":"5000"}}`
	if got != want {
		t.Errorf("table view\n got %s\nwant %s", got, want)
	}
	back, err := ParseForwardReadReply(data)
	if err != nil || back.DI != r.DI || back.Result != ForwardData || !bytes.Equal(back.Data,
		r.Data) {
		t.Errorf("parse = %+v, %v", back, err)
	}
	timeout := ForwardReadReply{Port: 2, Meter: meter, Result: ForwardTimeout}
	data, _ = timeout.Append(nil)
	got = mustJSON(t, tableObject(t, AFNForward, 9, Up, data))
	if got != `{"port":2,"meter":"000000000161","result":1,"length":0,"content":{}}` {
		t.Errorf("timeout view %s", got)
	}
	read := ForwardRead{Port: 2, Meter: meter, Edition2007: true, DI: 0x04000503}
	data, _ = read.Append(nil)
	got = mustJSON(t, tableObject(t, AFNForward, 9, Down, data))
	want = `{"port":2,"relay_count":0,"relays":[],"meter":"000000000161",` +
		`"di_kind":1,"di":"04000503"}`
	if got != want {
		t.Errorf("request view %s", got)
	}
}

func TestRemoteTripByte(t *testing.T) {
	b, err := RemoteTrip{AlarmDelayMin: 5, LimitHalfHours: 2}.Byte()
	if err != nil || b != 0x52 {
		t.Fatalf("byte = %02X, %v", b, err)
	}
	got := mustJSON(t, tableObject(t, AFNControl, 1, Down, []byte{b}))
	if got != `{"timing":{"limit_half_hours":2,"alarm_delay_min":5}}` {
		t.Errorf("table view %s", got)
	}
	if RemoteTripFromByte(0x52) != (RemoteTrip{AlarmDelayMin: 5, LimitHalfHours: 2}) {
		t.Error("RemoteTripFromByte")
	}
	if _, err := (RemoteTrip{AlarmDelayMin: 16}).Byte(); err == nil {
		t.Error("alarm delay 16 accepted")
	}
}

func TestControlSettingsAndState(t *testing.T) {
	s := ControlSettings{Guarantee: true, Groups: []GroupSettings{{Group: 1, Plan: 2,
		PowerTurns: 3}}}
	data, err := s.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := mustJSON(t, tableObject(t, AFNClass1, 5, Up, data))
	if got != `{"flags":1,"groups":1,"group_states":[{"plan":2,"periods":0,"power_control":0,`+
		`"energy_control":0,"power_turns":3,"energy_turns":0}]}` {
		t.Errorf("F5 view %s", got)
	}
	back, err := ParseControlSettings(data)
	if err != nil || !back.Guarantee || len(back.Groups) != 1 || back.Groups[0].PowerTurns != 3 {
		t.Errorf("F5 parse %+v %v", back, err)
	}

	st := ControlState{RemoteTrip: 0x05, Groups: []GroupState{{Group: 2, PowerSetpointKW: "12.3",
		FloatPercent: -10, PurchaseTrip: 1}}}
	data, err = st.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	got = mustJSON(t, tableObject(t, AFNClass1, 6, Up, data))
	if got != `{"remote_trip":5,"fee_alarm":0,"groups":2,"group_states":[`+
		`{"power_setpoint_kw":12.3,`+
		`"float_percent":-10,"power_trip":0,"monthly_trip":0,"purchase_trip":1,"power_alarm":0,`+
		`"energy_alarm":0}]}` {
		t.Errorf("F6 view %s", got)
	}
	stBack, err := ParseControlState(data)
	if err != nil || !stBack.TurnTripped(1) || stBack.TurnTripped(2) || !stBack.TurnTripped(3) {
		t.Errorf("F6 parse %+v %v", stBack, err)
	}
	if stBack.Groups[0].PowerSetpointKW != "12.3" || stBack.Groups[0].FloatPercent != -10 {
		t.Errorf("F6 group %+v", stBack.Groups[0])
	}
}

func TestMeterConfigsFixture(t *testing.T) {
	fx := loadFixtures(t)
	f, err := Decode(mustFixture(t, fx, "V32-afn04-F10"))
	if err != nil {
		t.Fatal(err)
	}
	data := f.Units().List[0].Data
	ms, err := ParseMeterConfigs(data)
	if err != nil || len(ms) != 1 {
		t.Fatalf("parse %v %v", ms, err)
	}
	m := ms[0]
	if m.Index != 3 || m.Pn != 3 || m.Port != 31 || m.Baud != 2400 ||
		m.Protocol != MeterProtocol2007 ||
		m.Address.String() != "012345123124" || m.IntDigits != 6 || m.DecDigits != 2 ||
		m.Major != 5 {
		t.Errorf("meter = %+v", m)
	}
	again, err := AppendMeterConfigs(nil, ms)
	if err != nil || !bytes.Equal(again, data) {
		t.Errorf("re-encoded % X\nwant % X (%v)", again, data, err)
	}
}

func TestMeterRelayStateAndEvents(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	s := MeterRelayState{ReadTime: time.Date(2026, 12, 4, 15, 44, 0, 0, loc), PowerOn: true,
		LastClose: time.Date(2026, 12, 1, 8, 0, 1, 0, loc), LastTrip: time.Date(2026, 11, 30, 9, 0,
			2, 0,
			loc)}
	data := s.Append(nil)
	got := mustJSON(t, tableObject(t, AFNClass1, 161, Up, data))
	if got != `{"read_time":"2026-12-04T15:44:00","relay":17,"last_close":"2026-12-01T08:00:01",`+
		`"last_trip":"2026-11-30T09:00:02"}` {
		t.Errorf("F161 view %s", got)
	}
	back, err := ParseMeterRelayState(data, loc)
	if err != nil || !back.PowerOn || !back.LastTrip.Equal(s.LastTrip) {
		t.Errorf("F161 parse %+v %v", back, err)
	}

	trip, err := ERC5{Time: s.ReadTime, Turns: 1, PowerKW: "1.5"}.Record()
	if err != nil {
		t.Fatal(err)
	}
	power := ERC14{HasAttribute: true, Attribute: 1, PowerOff: s.LastTrip,
		PowerOn: s.ReadTime}.Record()
	data, err = AppendEvents(nil, EC{Important: 2}, 0, 2, []EventRecord{trip, power})
	if err != nil {
		t.Fatal(err)
	}
	got = mustJSON(t, tableObject(t, AFNClass3, 1, Up, data))
	want := `{"ec1":2,"ec2":0,"pm":0,"pn":2,"records":[` +
		`{"erc":5,"name":"remote-control trip","length":10,"content":` +
		`{"time":"2026-12-04T15:44:00",` +
		`"turns":1,"power_kw":1.5,"power_after_2min_kw":0}},` +
		`{"erc":14,"name":"terminal power off/on","length":11,"content":{"attribute":1,` +
		`"power_off":"2026-11-30T09:00:00","power_on":"2026-12-04T15:44:00"}}]}`
	if got != want {
		t.Errorf("events\n got %s\nwant %s", got, want)
	}
	e14, err := ParseERC14(power.Content, loc)
	if err != nil || !e14.HasAttribute || e14.PowerOn.Hour() != 15 {
		t.Errorf("ERC14 parse %+v %v", e14, err)
	}
}
