package dlt645

import "fmt"

// Format is the data format of an identifier's value.
type Format int

// Value formats. Multi-byte values are sent low byte first.
const (
	// FormatBCD is an unsigned BCD number with Decimals digits after the point.
	FormatBCD Format = iota
	// FormatBCDSigned is a BCD number whose top bit (bit 7 of the last wire byte) is the
	// sign, 1 for negative: energies of the combined registers, current, power and power
	// factor.
	FormatBCDSigned
	// FormatDigits is a string of BCD digits printed high byte first (addresses, meter
	// numbers).
	FormatDigits
	// FormatASCII is text sent last character first.
	FormatASCII
	// FormatDateWeek is YYMMDDWW (WW 0 = Sunday).
	FormatDateWeek
	// FormatTime is hhmmss.
	FormatTime
	// FormatDateWeekTime is YYMMDDWWhhmmss.
	FormatDateWeekTime
	// FormatDateTime is YYMMDDhhmmss.
	FormatDateTime
	// FormatDateTimeMinute is YYMMDDhhmm.
	FormatDateTimeMinute
	// FormatStatusWord is a 2-byte meter running status word; Item.Word gives its number.
	FormatStatusWord
	// FormatHex is raw bytes printed high byte first (operator codes, the 1997 status byte).
	FormatHex
	// FormatBlock is the concatenation of the Members' values.
	FormatBlock
)

var formatNames = [...]string{"BCD", "signed BCD", "digits", "ASCII", "YYMMDDWW", "hhmmss",
	"YYMMDDWWhhmmss", "YYMMDDhhmmss", "YYMMDDhhmm", "status word", "hex", "block"}

func (f Format) String() string { return formatNames[f] }

// Item is one row of the data-identifier table.
type Item struct {
	Edition Edition
	// ID is the identifier: a DI for 2007, a DI97 for 1997.
	ID uint32
	// Name is the snake-case value name, the API read item's name where one exists.
	Name    string
	Chinese string
	Format  Format
	// Size is the value length in bytes; for a block it is the length with the listed
	// members.
	Size     int
	Decimals uint8
	Unit     string
	// Word is the status word number (1–7) of a FormatStatusWord row.
	Word int
	// Members lists a block's member identifiers in order; each has a row of its own.
	Members []uint32
	// Parts lists the members of a block whose members have no identifier of their own.
	Parts []Item
	// parts is Members resolved to rows, or Parts.
	parts []*Item
	// Repeat allows a block with equal-size members to carry more or fewer of them than
	// listed, because energy blocks carry the total and one value per tariff. Extra
	// members are named after the last listed one with their tariff number.
	Repeat bool
	// Map2007 is the matching 2007 identifier of a 1997 row, or 0.
	Map2007 DI
}

// DIString returns the identifier as documents write it: 8 hex digits for 2007, 4 for
// 1997.
func (it *Item) DIString() string {
	if it.Edition == Edition1997 {
		return DI97(it.ID).String()
	}
	return DI(it.ID).String()
}

// Signed reports whether the value follows the sign rule (top bit negative).
func (it *Item) Signed() bool { return it.Format == FormatBCDSigned }

// row helpers keep each table line short.
func bcd(di uint32, name, zh string, size int, dec uint8, unit string) Item {
	return Item{Edition: Edition2007, ID: di, Name: name, Chinese: zh, Format: FormatBCD,
		Size: size, Decimals: dec, Unit: unit}
}

func sbcd(di uint32, name, zh string, size int, dec uint8, unit string) Item {
	it := bcd(di, name, zh, size, dec, unit)
	it.Format = FormatBCDSigned
	return it
}

func other(di uint32, name, zh string, f Format, size int) Item {
	return Item{Edition: Edition2007, ID: di, Name: name, Chinese: zh, Format: f, Size: size}
}

func word(di uint32, n int, zh string) Item {
	it := other(di, fmt.Sprintf("status_word_%d", n), zh, FormatStatusWord, 2)
	it.Word = n
	return it
}

func block(di uint32, name, zh string, repeat bool, members ...uint32) Item {
	it := other(di, name, zh, FormatBlock, 0)
	it.Members = members
	it.Repeat = repeat
	return it
}

func part(name, zh string) Item {
	return Item{Edition: Edition2007, Name: name, Chinese: zh, Format: FormatBCD, Size: 4,
		Decimals: 2, Unit: "kWh"}
}

func bcd97(di uint32, name, zh string, size int, dec uint8, unit string, to DI) Item {
	return Item{Edition: Edition1997, ID: di, Name: name, Chinese: zh, Format: FormatBCD,
		Size: size, Decimals: dec, Unit: unit, Map2007: to}
}

func other97(di uint32, name, zh string, f Format, size int, to DI) Item {
	return Item{Edition: Edition1997, ID: di, Name: name, Chinese: zh, Format: f, Size: size,
		Map2007: to}
}

func block97(di uint32, name, zh string, to DI, members ...uint32) Item {
	it := other97(di, name, zh, FormatBlock, 0, to)
	it.Members = members
	return it
}

// items is the data-identifier table. Adding an identifier is one row; block rows list
// their members, which need rows of their own.
var items = []Item{
	// Energy (电能量), XXXXXX.XX kWh. The combined registers are signed.
	sbcd(0x00000000, "energy_combined_total", "(当前)组合有功总电能", 4, 2, "kWh"),
	bcd(0x00010000, "energy_forward_total", "(当前)正向有功总电能", 4, 2, "kWh"),
	bcd(0x00010100, "energy_forward_tariff_1", "(当前)正向有功费率1(尖)电能", 4, 2, "kWh"),
	bcd(0x00010200, "energy_forward_tariff_2", "(当前)正向有功费率2(峰)电能", 4, 2, "kWh"),
	bcd(0x00010300, "energy_forward_tariff_3", "(当前)正向有功费率3(平)电能", 4, 2, "kWh"),
	bcd(0x00010400, "energy_forward_tariff_4", "(当前)正向有功费率4(谷)电能", 4, 2, "kWh"),
	block(0x0001FF00, "energy_forward_tariffs", "(当前)正向有功电能数据块", true,
		0x00010000, 0x00010100, 0x00010200, 0x00010300, 0x00010400),
	bcd(0x00020000, "energy_reverse_total", "(当前)反向有功总电能", 4, 2, "kWh"),
	sbcd(0x00030000, "energy_reactive1_total", "(当前)组合无功1总电能", 4, 2, "kvarh"),
	sbcd(0x00040000, "energy_reactive2_total", "(当前)组合无功2总电能", 4, 2, "kvarh"),

	// Instantaneous values (变量).
	bcd(0x02010100, "voltage_a", "A相电压", 2, 1, "V"),
	bcd(0x02010200, "voltage_b", "B相电压", 2, 1, "V"),
	bcd(0x02010300, "voltage_c", "C相电压", 2, 1, "V"),
	block(0x0201FF00, "voltage", "电压数据块", false, 0x02010100, 0x02010200, 0x02010300),
	sbcd(0x02020100, "current_a", "A相电流", 3, 3, "A"),
	sbcd(0x02020200, "current_b", "B相电流", 3, 3, "A"),
	sbcd(0x02020300, "current_c", "C相电流", 3, 3, "A"),
	block(0x0202FF00, "current", "电流数据块", false, 0x02020100, 0x02020200, 0x02020300),
	sbcd(0x02030000, "power_total", "瞬时总有功功率", 3, 4, "kW"),
	sbcd(0x02030100, "power_a", "瞬时A相有功功率", 3, 4, "kW"),
	sbcd(0x02030200, "power_b", "瞬时B相有功功率", 3, 4, "kW"),
	sbcd(0x02030300, "power_c", "瞬时C相有功功率", 3, 4, "kW"),
	block(0x0203FF00, "power", "瞬时有功功率数据块", false,
		0x02030000, 0x02030100, 0x02030200, 0x02030300),
	sbcd(0x02040000, "reactive_power_total", "瞬时总无功功率", 3, 4, "kvar"),
	bcd(0x02050000, "apparent_power_total", "瞬时总视在功率", 3, 4, "kVA"),
	sbcd(0x02060000, "power_factor_total", "总功率因数", 2, 3, ""),
	sbcd(0x02800001, "neutral_current", "零线电流", 3, 3, "A"),
	bcd(0x02800002, "frequency", "电网频率", 2, 2, "Hz"),

	// Parameters (参变量).
	other(0x04000101, "date", "日期及星期", FormatDateWeek, 4),
	other(0x04000102, "time", "时间", FormatTime, 3),
	other(0x0400010C, "clock", "日期时间", FormatDateWeekTime, 7),
	other(0x04000401, "address", "通信地址", FormatDigits, 6),
	other(0x04000402, "meter_number", "表号", FormatDigits, 6),
	other(0x04000403, "asset_number", "资产管理编码", FormatASCII, 32),
	word(0x04000501, 1, "电表运行状态字1"),
	word(0x04000502, 2, "电表运行状态字2"),
	word(0x04000503, 3, "电表运行状态字3"),
	word(0x04000504, 4, "电表运行状态字4(A相故障)"),
	word(0x04000505, 5, "电表运行状态字5(B相故障)"),
	word(0x04000506, 6, "电表运行状态字6(C相故障)"),
	word(0x04000507, 7, "电表运行状态字7(合相故障)"),
	block(0x040005FF, "status_words", "电表运行状态字数据块", false, 0x04000501, 0x04000502,
		0x04000503, 0x04000504, 0x04000505, 0x04000506, 0x04000507),
	bcd(0x04001401, "trip_delay", "跳闸延时时间", 2, 0, "min"),

	// Prepayment (费控) values.
	bcd(0x00900100, "energy_remaining", "(当前)剩余电量", 4, 2, "kWh"),
	bcd(0x00900101, "energy_overdraft", "(当前)透支电量", 4, 2, "kWh"),
	bcd(0x00900200, "balance", "(当前)剩余金额", 4, 2, "CNY"),
	bcd(0x00900201, "overdraft", "(当前)透支金额", 4, 2, "CNY"),
	bcd(0x03330201, "purchase_count", "上1次购电后总购电次数", 2, 0, ""),
	bcd(0x03330601, "purchase_total", "上1次购电后累计购电金额", 4, 2, "CNY"),

	// Trip (跳闸) and close (合闸) events. A record block is the time, the operator code and
	// the energies at the event.
	// NOTE: the order of the record members after the time is inferred from terminal code:
	// operator code, then forward, reverse and four-quadrant reactive energies. Confirm it
	// with a 1D00FF01 read from a real meter.
	bcd(0x1D000001, "trip_count", "跳闸总次数", 3, 0, ""),
	other(0x1D000101, "last_trip", "(上1次)跳闸发生时刻", FormatDateTime, 6),
	other(0x1D000201, "last_trip_operator", "(上1次)跳闸操作者代码", FormatHex, 4),
	bcd(0x1D000301, "last_trip_energy_forward", "(上1次)跳闸时刻正向有功总电能", 4, 2, "kWh"),
	bcd(0x1D000401, "last_trip_energy_reverse", "(上1次)跳闸时刻反向有功总电能", 4, 2, "kWh"),
	bcd(0x1D000501, "last_trip_energy_q1", "(上1次)跳闸时刻第一象限无功总电能", 4, 2, "kvarh"),
	bcd(0x1D000601, "last_trip_energy_q2", "(上1次)跳闸时刻第二象限无功总电能", 4, 2, "kvarh"),
	bcd(0x1D000701, "last_trip_energy_q3", "(上1次)跳闸时刻第三象限无功总电能", 4, 2, "kvarh"),
	bcd(0x1D000801, "last_trip_energy_q4", "(上1次)跳闸时刻第四象限无功总电能", 4, 2, "kvarh"),
	block(0x1D00FF01, "last_trip_record", "(上1次)跳闸记录", false, 0x1D000101, 0x1D000201,
		0x1D000301, 0x1D000401, 0x1D000501, 0x1D000601, 0x1D000701, 0x1D000801),
	bcd(0x1E000001, "close_count", "合闸总次数", 3, 0, ""),
	other(0x1E000101, "last_close", "(上1次)合闸发生时刻", FormatDateTime, 6),
	other(0x1E000201, "last_close_operator", "(上1次)合闸操作者代码", FormatHex, 4),
	bcd(0x1E000301, "last_close_energy_forward", "(上1次)合闸时刻正向有功总电能", 4, 2, "kWh"),
	bcd(0x1E000401, "last_close_energy_reverse", "(上1次)合闸时刻反向有功总电能", 4, 2, "kWh"),
	bcd(0x1E000501, "last_close_energy_q1", "(上1次)合闸时刻第一象限无功总电能", 4, 2, "kvarh"),
	bcd(0x1E000601, "last_close_energy_q2", "(上1次)合闸时刻第二象限无功总电能", 4, 2, "kvarh"),
	bcd(0x1E000701, "last_close_energy_q3", "(上1次)合闸时刻第三象限无功总电能", 4, 2, "kvarh"),
	bcd(0x1E000801, "last_close_energy_q4", "(上1次)合闸时刻第四象限无功总电能", 4, 2, "kvarh"),
	block(0x1E00FF01, "last_close_record", "(上1次)合闸记录", false, 0x1E000101, 0x1E000201,
		0x1E000301, 0x1E000401, 0x1E000501, 0x1E000601, 0x1E000701, 0x1E000801),

	// Daily freeze (日冻结), last day. 05060101 is the forward active energy block, total
	// then tariffs (20 bytes with 4 tariffs), as terminal and concentrator tables read it:
	// a 4-byte reading alone would drop the tariffs.
	other(0x05060001, "frozen_day_time", "(上1次)日冻结时间", FormatDateTimeMinute, 5),
	{Edition: Edition2007, ID: 0x05060101, Name: "frozen_day_energy_forward",
		Chinese: "(上1次)日冻结正向有功电能数据", Format: FormatBlock, Repeat: true, Parts: []Item{
			part("frozen_day_energy_forward_total", "日冻结正向有功总电能"),
			part("frozen_day_energy_forward_tariff_1", "日冻结正向有功费率1电能"),
			part("frozen_day_energy_forward_tariff_2", "日冻结正向有功费率2电能"),
			part("frozen_day_energy_forward_tariff_3", "日冻结正向有功费率3电能"),
			part("frozen_day_energy_forward_tariff_4", "日冻结正向有功费率4电能"),
		}},

	// DL/T 645-1997 (2-byte identifiers) with the matching 2007 identifier.
	bcd97(0x9010, "energy_forward_total", "当前正向有功总电能", 4, 2, "kWh", 0x00010000),
	bcd97(0x9011, "energy_forward_tariff_1", "当前正向有功费率1电能", 4, 2, "kWh", 0x00010100),
	bcd97(0x9012, "energy_forward_tariff_2", "当前正向有功费率2电能", 4, 2, "kWh", 0x00010200),
	bcd97(0x9013, "energy_forward_tariff_3", "当前正向有功费率3电能", 4, 2, "kWh", 0x00010300),
	bcd97(0x9014, "energy_forward_tariff_4", "当前正向有功费率4电能", 4, 2, "kWh", 0x00010400),
	block97(0x901F, "energy_forward_tariffs", "当前正向有功电能数据块", 0x0001FF00,
		0x9010, 0x9011, 0x9012, 0x9013, 0x9014),
	bcd97(0x9020, "energy_reverse_total", "当前反向有功总电能", 4, 2, "kWh", 0x00020000),
	bcd97(0xB611, "voltage_a", "A相电压", 2, 0, "V", 0x02010100),
	bcd97(0xB612, "voltage_b", "B相电压", 2, 0, "V", 0x02010200),
	bcd97(0xB613, "voltage_c", "C相电压", 2, 0, "V", 0x02010300),
	bcd97(0xB621, "current_a", "A相电流", 2, 2, "A", 0x02020100),
	bcd97(0xB622, "current_b", "B相电流", 2, 2, "A", 0x02020200),
	bcd97(0xB623, "current_c", "C相电流", 2, 2, "A", 0x02020300),
	// NOTE: 1997 power is read as unsigned; whether 1997 meters set a sign bit is not
	// confirmed.
	bcd97(0xB630, "power_total", "瞬时有功功率", 3, 4, "kW", 0x02030000),
	bcd97(0xB631, "power_a", "A相有功功率", 3, 4, "kW", 0x02030100),
	bcd97(0xB632, "power_b", "B相有功功率", 3, 4, "kW", 0x02030200),
	bcd97(0xB633, "power_c", "C相有功功率", 3, 4, "kW", 0x02030300),
	other97(0xC010, "date", "日期及周次", FormatDateWeek, 4, 0x04000101),
	other97(0xC011, "time", "时间", FormatTime, 3, 0x04000102),
	// NOTE: the bits of the 1997 status byte are not decoded: they differ from 2007.
	other97(0xC020, "status_word", "电表运行状态字", FormatHex, 1, 0),
	other97(0xC032, "meter_number", "表号", FormatDigits, 6, 0x04000402),
}

var (
	index2007 = map[DI]*Item{}
	index1997 = map[DI97]*Item{}
	indexName = map[Edition]map[string]*Item{Edition2007: {}, Edition1997: {}}
)

func init() {
	for i := range items {
		it := &items[i]
		if it.Edition == Edition1997 {
			index1997[DI97(it.ID)] = it
		} else {
			index2007[DI(it.ID)] = it
		}
		indexName[it.Edition][it.Name] = it
	}
	for i := range items {
		it := &items[i]
		if it.Format != FormatBlock {
			continue
		}
		for _, m := range it.Members {
			mi := lookupEdition(it.Edition, m)
			if mi == nil {
				panic(fmt.Sprintf("dlt645: block %s lists member %X without a row",
					it.DIString(), m))
			}
			it.parts = append(it.parts, mi)
		}
		for j := range it.Parts {
			it.parts = append(it.parts, &it.Parts[j])
		}
		for _, p := range it.parts {
			it.Size += p.Size
		}
	}
}

func lookupEdition(e Edition, id uint32) *Item {
	if e == Edition1997 {
		return index1997[DI97(id)]
	}
	return index2007[DI(id)]
}

// Lookup returns the table row of a 2007 identifier.
func Lookup(di DI) (*Item, bool) {
	it, ok := index2007[di]
	return it, ok
}

// Lookup97 returns the table row of a 1997 identifier.
func Lookup97(di DI97) (*Item, bool) {
	it, ok := index1997[di]
	return it, ok
}

// LookupName returns the row of edition e whose value name is name, such as
// "energy_forward_total" or "status_word_3".
func LookupName(e Edition, name string) (*Item, bool) {
	it, ok := indexName[e][name]
	return it, ok
}

// Items returns every row of the table. The rows must not be modified.
func Items() []*Item {
	out := make([]*Item, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
