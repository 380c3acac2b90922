package dlt645

import (
	"encoding/json"
	"fmt"
)

// StatusWord is one of the meter running status words 1–7 (电表运行状态字, DI 04000501..07).
// Word 3 carries the relay state that verifies a fee-control command.
type StatusWord struct {
	// Word is the status word number, 1 to 7.
	Word int
	// Raw is the 16-bit word, sent low byte first.
	Raw uint16
}

// statusBit names one bit (or a 2-bit field when width is 2) of a status word.
type statusBit struct {
	bit     uint
	name    string
	chinese string
}

// Bits of status words 1, 2, 4–6 and 7. Word 3 is decoded field by field in Fields.
var statusWordBits = map[int][]statusBit{
	1: {
		{0, "external_switch_pulse", "外置开关控制方式(脉冲)"},
		{1, "demand_block", "需量积算方式(区间)"},
		{2, "clock_battery_low", "时钟电池欠压"},
		{3, "reading_battery_low", "停电抄表电池欠压"},
		{4, "active_power_reverse", "有功功率反向"},
		{5, "reactive_power_reverse", "无功功率反向"},
	},
	2: {
		{0, "active_reverse_a", "A相有功功率反向"},
		{1, "active_reverse_b", "B相有功功率反向"},
		{2, "active_reverse_c", "C相有功功率反向"},
		{4, "reactive_reverse_a", "A相无功功率反向"},
		{5, "reactive_reverse_b", "B相无功功率反向"},
		{6, "reactive_reverse_c", "C相无功功率反向"},
	},
	4: phaseFaultBits,
	5: phaseFaultBits,
	6: phaseFaultBits,
	7: {
		{0, "voltage_reverse_sequence", "电压逆相序"},
		{1, "current_reverse_sequence", "电流逆相序"},
		{2, "voltage_unbalance", "电压不平衡"},
		{3, "current_unbalance", "电流不平衡"},
		{4, "auxiliary_supply_lost", "辅助电源失电"},
		{5, "power_down", "掉电"},
		{6, "demand_over_limit", "需量超限"},
		{7, "power_factor_below_limit", "总功率因数超下限"},
		{8, "severe_current_unbalance", "电流严重不平衡"},
	},
}

var phaseFaultBits = []statusBit{
	{0, "loss_of_voltage", "失压"},
	{1, "undervoltage", "欠压"},
	{2, "overvoltage", "过压"},
	{3, "loss_of_current", "失流"},
	{4, "overcurrent", "过流"},
	{5, "overload", "过载"},
	{6, "reverse_power_flow", "潮流反向"},
	{7, "phase_break", "断相"},
	{8, "current_break", "断流"},
}

// Status word 3 bit masks. Bits 0–4 follow DL/T 645-2007; bits 5–15 are the SGCC smart-meter
// extension. Bits 3, 10 and 11 mean different things across firmware generations, so fee
// control relies on bits 4, 6, 7 and 12 only.
const (
	Word3TimeSlotTable  = 1 << 0  // 当前运行时段: second daily-slot table
	Word3SupplyMask     = 3 << 1  // 供电方式: 00 main, 01 auxiliary, 10 battery
	Word3Programming    = 1 << 3  // 编程允许
	Word3RelayOpen      = 1 << 4  // 继电器状态: actual relay open (断)
	Word3YearZoneTable  = 1 << 5  // 当前运行时区: second yearly-zone table
	Word3RelayCommand   = 1 << 6  // 继电器命令状态: open commanded
	Word3PreTripAlarm   = 1 << 7  // 预跳闸报警状态
	Word3MeterTypeMask  = 3 << 8  // 电能表类型
	Word3TOUTariff      = 1 << 10 // 当前运行分时费率
	Word3PriceStep      = 1 << 11 // 当前阶梯
	Word3Guarantee      = 1 << 12 // 保电状态
	Word3IdentityAuth   = 1 << 13 // 身份认证状态
	Word3LocalAccount   = 1 << 14 // 本地开户
	Word3RemoteAccount  = 1 << 15 // 远程开户
	word3MeterTypeShift = 8
)

// RelayOpen reports the actual relay state of status word 3 (bit 4): true when open.
func (s StatusWord) RelayOpen() bool { return s.Raw&Word3RelayOpen != 0 }

// RelayCommandOpen reports the relay command state of status word 3 (bit 6).
func (s StatusWord) RelayCommandOpen() bool { return s.Raw&Word3RelayCommand != 0 }

// PreTripAlarm reports the pre-trip alarm of status word 3 (bit 7).
func (s StatusWord) PreTripAlarm() bool { return s.Raw&Word3PreTripAlarm != 0 }

// Guarantee reports power guarantee (保电) of status word 3 (bit 12).
func (s StatusWord) Guarantee() bool { return s.Raw&Word3Guarantee != 0 }

// MeterType returns the meter type of status word 3 (bits 8–9): "not_prepaid",
// "energy_prepaid", "money_prepaid" or "reserved".
func (s StatusWord) MeterType() string {
	return [...]string{"not_prepaid", "energy_prepaid", "money_prepaid", "reserved"}[s.Raw&Word3MeterTypeMask>>word3MeterTypeShift]
}

func openClosed(open bool) string {
	if open {
		return "open"
	}
	return "closed"
}

// Fields returns the decoded word as ordered name/value pairs, starting with raw. Word 3
// gives relay and relay_command as "open" or "closed" and its flags as booleans; the other
// words give one boolean per named bit.
func (s StatusWord) Fields() Object {
	obj := Object{{"raw", fmt.Sprintf("%04X", s.Raw)}}
	if s.Word == 3 {
		supply := [...]string{"main", "auxiliary", "battery", "reserved"}[s.Raw&Word3SupplyMask>>1]
		return append(obj,
			Field{"relay", openClosed(s.RelayOpen())},
			Field{"relay_command", openClosed(s.RelayCommandOpen())},
			Field{"pre_trip_alarm", s.PreTripAlarm()},
			Field{"guarantee", s.Guarantee()},
			Field{"meter_type", s.MeterType()},
			Field{"identity_authenticated", s.Raw&Word3IdentityAuth != 0},
			Field{"local_account", s.Raw&Word3LocalAccount != 0},
			Field{"remote_account", s.Raw&Word3RemoteAccount != 0},
			Field{"programming_allowed", s.Raw&Word3Programming != 0},
			Field{"supply", supply},
			Field{"second_slot_table", s.Raw&Word3TimeSlotTable != 0},
			Field{"second_zone_table", s.Raw&Word3YearZoneTable != 0},
			Field{"tou_tariff", s.Raw&Word3TOUTariff != 0},
			Field{"price_step", s.Raw&Word3PriceStep != 0},
		)
	}
	for _, b := range statusWordBits[s.Word] {
		obj = append(obj, Field{b.name, s.Raw&(1<<b.bit) != 0})
	}
	return obj
}

// MarshalJSON writes the word as the object of Fields.
func (s StatusWord) MarshalJSON() ([]byte, error) { return json.Marshal(s.Fields()) }

// Field is one name/value pair of an Object.
type Field struct {
	Name  string
	Value any
}

// Object is a JSON object that keeps its field order.
type Object []Field

// MarshalJSON writes the fields in order.
func (o Object) MarshalJSON() ([]byte, error) {
	buf := []byte{'{'}
	for i, f := range o {
		if i > 0 {
			buf = append(buf, ',')
		}
		k, _ := json.Marshal(f.Name)
		v, err := json.Marshal(f.Value)
		if err != nil {
			return nil, err
		}
		buf = append(append(append(buf, k...), ':'), v...)
	}
	return append(buf, '}'), nil
}
