package gw376

import "strconv"

// This file is the data-unit table: one row per (AFN, Fn, direction), with the Appendix A
// formats each field uses. Decoding, encoding, explain and the round-trip tests all read it.

// Field constructors keep the rows short.
func fld(name, label string, f *Format) Field { return Field{Name: name, Label: label, Format: f} }

func fldU(name, label string, f *Format, unit string) Field {
	return Field{Name: name, Label: label, Format: f, Unit: unit}
}

// readTime is the first field of most class 1 and class 2 replies (终端抄表时间).
var readTime = fld("read_time", "terminal reading time (终端抄表时间)", a15Format)

// rateValues is "M" followed by M+1 values (total, then rates 1 to M) of one format.
func rateValues(name, label string, f *Format, unit string) Field {
	return Field{Name: name, Label: label, CountFrom: "rates", CountAdd: 1,
		Items: []Field{fldU("value", "", f, unit)}}
}

var ratesField = fld("rates", "number of tariffs M (费率数)", bin1)

// baudCodes maps the 3-bit baud code of AFN10 F1 to bit/s.
var baudCodes = []int64{300, 600, 1200, 2400, 4800, 7200, 9600, 19200}

// meterBaudCodes maps the 3-bit baud code of AFN04 F10 to bit/s; 0 is the default rate.
var meterBaudCodes = []int64{0, 600, 1200, 2400, 4800, 7200, 9600, 19200}

// forwardControl is the serial-port control word of AFN10 F1 (透明转发通信控制字).
var forwardControl = bitFields("BS8", 1,
	bitPart{name: "data_bits", label: "data bits", width: 2, add: 5},
	bitPart{name: "parity", label: "parity", shift: 2, width: 2,
		names: []string{"none", "none", "even", "odd"}},
	bitPart{name: "stop_bits", label: "stop bits", shift: 4, width: 1, add: 1},
	bitPart{name: "baud", label: "baud rate", shift: 5, width: 3, values: baudCodes, unit: "bit/s"},
)

// frameTimeout is the AFN10 F1 wait for the meter's frame: D7 selects the unit.
var frameTimeout = bitFields("BIN", 1,
	bitPart{name: "value", label: "timeout value", width: 7},
	bitPart{name: "unit", label: "unit", shift: 7, width: 1, names: []string{"10ms", "s"}},
)

// relayRoute is the relay list of AFN10 F9–F11 downlinks (FF = no route given).
var relayRoute = []Field{
	fld("relay_count", "number of relays, FF = no route given (中继级数)", bin1),
	{Name: "relays", Label: "relay addresses", CountFrom: "relay_count", CountMax: 32,
		Items: []Field{fld("address", "relay address", a12Format)}},
}

// curve returns an AFN0D curve unit: Td_c then one point format per point.
func curve(fn uint8, name, label string, f *Format, unit string) []*UnitDef {
	td := []Field{
		fld("start", "curve start time ts (起始时间)", a15Format),
		fld("density", "density m: 1 = 15 min, 2 = 30, 3 = 60, 254 = 5, 255 = 1 (冻结密度)", bin1),
		fld("points", "number of points n (数据点数)", bin1),
	}
	up := append(append([]Field(nil), td...),
		Field{Name: "values", Label: "curve points", CountFrom: "points",
			Items: []Field{fldU("value", "", f, unit)}})
	return []*UnitDef{
		{AFN: AFNClass2, Fn: fn, Dir: Down, Name: name, Label: label, Fields: td},
		{AFN: AFNClass2, Fn: fn, Dir: Up, Name: name, Label: label, Fields: up},
	}
}

// param registers an AFN04 parameter and its AFN0A query reply, which share the layout.
func param(fn uint8, name, label string, fields ...Field) []*UnitDef {
	return []*UnitDef{
		{AFN: AFNSetParam, Fn: fn, Dir: Down, Name: name, Label: label, Fields: fields},
		{AFN: AFNQueryParam, Fn: fn, Dir: Up, Name: name, Label: label, Fields: fields},
	}
}

// control registers an AFN05 command.
func control(fn uint8, name, label string, fields ...Field) *UnitDef {
	return &UnitDef{AFN: AFNControl, Fn: fn, Dir: Down, Name: name, Label: label, Fields: fields}
}

// class1 registers an AFN0C reply unit; its request carries no data.
func class1(fn uint8, name, label string, fields ...Field) *UnitDef {
	return &UnitDef{AFN: AFNClass1, Fn: fn, Dir: Up, Name: name, Label: label, Fields: fields}
}

// both registers a unit with the same layout in both directions.
func both(afn AFN, fn uint8, name, label string, fields ...Field) []*UnitDef {
	return []*UnitDef{
		{AFN: afn, Fn: fn, Dir: Down, Name: name, Label: label, Fields: fields},
		{AFN: afn, Fn: fn, Dir: Up, Name: name, Label: label, Fields: fields},
	}
}

func init() {
	registerConfirmAndLink()
	registerParams()
	registerControl()
	registerClass1()
	registerClass2()
	registerEventsAndForwarding()
	addEmptyRequests()
}

func registerConfirmAndLink() {
	register(both(AFNConfirm, 1, "all confirmed", "全部确认")...)
	register(both(AFNConfirm, 2, "all denied", "全部否认")...)
	register(both(AFNConfirm, 3, "confirm or deny per data unit", "按数据单元标识确认和否认",
		fld("afn", "AFN of the frame being answered", bin1),
		Field{Name: "results", Label: "one entry per data unit", ToEnd: true, Items: []Field{
			fld("id", "data-unit identifier", idFormat),
			fld("err", "ERR: 0 correct, 1 other error, 2 duplicate meter address (错误)", bin1),
		}})...)
	register(both(AFNConfirm, 4, "hardware security authentication error", "硬件安全认证错误应答",
		fld("error_type", "1 signature, 2 ciphertext, 3 symmetric MAC (错误类型)", bin1),
		fld("data", "terminal random number and module serial, or FF (数据体)", rawFormat(16)),
	)...)
	for _, d := range UnitDefs() {
		if d.AFN == AFNConfirm && d.Fn == 4 {
			d.Edition = 2013
		}
	}

	for fn, names := range map[uint8][2]string{
		1: {"hardware initialisation", "硬件初始化"},
		2: {"data area initialisation", "数据区初始化"},
		3: {"parameter and data initialisation (factory reset)", "参数及全体数据区初始化"},
		4: {"parameter initialisation except communication", "参数（除与系统主站通信有关的）及全体数据区初始化"},
	} {
		register(&UnitDef{AFN: AFNReset, Fn: fn, Dir: Down, Name: names[0], Label: names[1]})
	}

	register(
		&UnitDef{AFN: AFNLink, Fn: FnLogin, Dir: Up, Name: "login", Label: "登录"},
		&UnitDef{AFN: AFNLink, Fn: FnLogout, Dir: Up, Name: "logout", Label: "退出登录"},
		&UnitDef{AFN: AFNLink, Fn: FnHeartbeat, Dir: Up, Name: "heartbeat", Label: "心跳",
			Fields: []Field{{Name: "clock", Format: a1Format, Optional: true,
				Label: "terminal clock, sent by 2013 terminals only (终端时钟)"}}},
	)
}

func registerParams() {
	register(param(1, "uplink communication parameters", "终端上行通信口通信参数",
		fldU("rts", "modem delay RTS (终端数传机延时时间)", bin1, "20ms"),
		fldU("send_delay_min", "allowed send delay as initiator", bin1, "min"),
		fld("response", "", bitFields("BIN", 2,
			bitPart{name: "timeout_s", label: "wait for the responder", width: 12, unit: "s"},
			bitPart{name: "retries", label: "resends (重发次数)", shift: 12, width: 2})),
		fld("confirm", "CON=1 for D0 class 1, D1 class 2, D2 class 3 reports", bs8),
		fldU("heartbeat_min", "heartbeat period (心跳周期)", bin1, "min"),
	)...)
	register(param(3, "master IP addresses and ports", "主站IP地址和端口",
		fld("main_ip", "main master IP", ipFormat),
		fld("main_port", "main master port", bin2),
		fld("backup_ip", "backup master IP", ipFormat),
		fld("backup_port", "backup master port", bin2),
		fld("apn", "APN", asciiFormat(16)),
	)...)
	register(param(5, "message authentication parameters", "终端上行通信消息认证参数",
		fld("scheme", "scheme: 0 none, 255 ESAM (消息认证方案号)", bin1),
		fld("parameter", "scheme parameter", bin2),
	)...)
	register(param(8, "uplink working mode", "终端上行通信工作方式",
		fld("mode", "", bitFields("BS8", 1,
			bitPart{name: "online", label: "1 permanent, 2 passive activation, 3 time window",
				width: 2},
			bitPart{name: "role", label: "role", shift: 4, width: 2,
				names: []string{"mixed", "client", "server", "reserved"}},
			bitPart{name: "transport", label: "transport", shift: 7, width: 1,
				names: []string{"tcp", "udp"}})),
		fldU("redial_s", "redial interval (重拨间隔)", bin2, "s"),
		fld("passive_redials", "passive-activation redials", bin1),
		fldU("idle_disconnect_min", "idle time before disconnect", bin1, "min"),
		fld("online_hours", "online hours D0-D23 (允许在线时段)", rawFormat(3)),
	)...)
	meter := []Field{
		fld("index", "entry number (电能表/交流采样装置序号)", bin2),
		fld("pn", "measurement point (所属测量点号)", bin2),
		fld("port", "", bitFields("BIN", 1,
			bitPart{name: "port", label: "port 1-31 (端口号)", width: 5},
			bitPart{name: "baud", label: "baud rate, 0 = default", shift: 5, width: 3,
				values: meterBaudCodes, unit: "bit/s"})),
		fld("protocol", "0 none, 1 DL/T 645-1997, 2 AC sampling, 30 DL/T 645-2007, 31 PLC", bin1),
		fld("address", "meter address (通信地址)", a12Format),
		{Name: "password", Label: "communication password (通信密码)", Format: rawFormat(6),
			Secret: true},
		fld("tariffs", "", bitFields("BS8", 1,
			bitPart{name: "count", label: "number of tariffs (电能费率个数)", width: 6})),
		fld("digits", "", bitFields("BS8", 1,
			bitPart{name: "decimals", label: "decimal digits", width: 2, add: 1},
			bitPart{name: "integers", label: "integer digits", shift: 2, width: 2, add: 4})),
		fld("collector", "collector address (所属采集器通信地址)", a12Format),
		fld("class", "", bitFields("BS8", 1,
			bitPart{name: "minor", label: "user subclass (用户小类号)", width: 4},
			bitPart{name: "major", label: "user class (用户大类号)", shift: 4, width: 4})),
	}
	register(param(10, "meter configuration", "终端电能表/交流采样装置配置参数",
		fld("count", "number of entries n", bin2),
		Field{Name: "meters", Label: "meter entries", CountFrom: "count", Items: meter},
	)...)
	register(&UnitDef{AFN: AFNQueryParam, Fn: 10, Dir: Down, Name: "meter configuration",
		Label: "终端电能表/交流采样装置配置参数", Fields: []Field{
			fld("count", "number of entries n", bin2),
			{Name: "indexes", Label: "entry numbers requested", CountFrom: "count",
				Items: []Field{fld("index", "entry number", bin2)}},
		}})
	register(param(47, "purchase control parameters", "购电量（费）控参数",
		fld("order", "purchase order number (购电单号)", bin4),
		fld("mode", "55 append, AA refresh (追加/刷新标志)", bin1),
		fldU("amount", "purchased energy or fee (购电量（费）值)", a3Format, "kWh or li"),
		fldU("alarm_threshold", "alarm threshold (报警门限值)", a3Format, "kWh or li"),
		fldU("trip_threshold", "trip threshold (跳闸门限值)", a3Format, "kWh or li"),
	)...)
}

func registerControl() {
	register(
		control(1, "remote trip", "遥控跳闸", fld("timing", "", bitFields("BIN", 1,
			bitPart{name: "limit_half_hours", label: "limit time, 0 = until allowed (限电时间)",
				width: 4, unit: "0.5h"},
			bitPart{name: "alarm_delay_min", label: "alarm delay, 0 = trip now (告警延时时间)",
				shift: 4, width: 4, unit: "min"}))),
		control(2, "allow close", "允许合闸"),
		control(9, "period power control on", "时段功控投入",
			fld("periods", "periods D0-D7 = 1-8 (时段功控投入标志)", bs8),
			fld("plan", "setpoint plan 0-2 (定值方案号)", bin1)),
		control(10, "rest-day power control on", "厂休功控投入"),
		control(11, "shutdown power control on", "营业报停功控投入"),
		control(12, "current power float control on", "当前功率下浮控投入",
			fldU("slide_min", "sliding time (定值滑差时间)", bin1, "min"),
			fldU("float_percent", "float coefficient (浮动系数)", a4Format, "%"),
			fldU("freeze_delay_min", "freeze delay", bin1, "min"),
			fldU("control_half_hours", "control time", bin1, "0.5h"),
			fldU("alarm_turn1_min", "turn 1 alarm time", bin1, "min"),
			fldU("alarm_turn2_min", "turn 2 alarm time", bin1, "min"),
			fldU("alarm_turn3_min", "turn 3 alarm time", bin1, "min"),
			fldU("alarm_turn4_min", "turn 4 alarm time", bin1, "min")),
	)
	for fn, n := range map[uint8][2]string{
		15: {"monthly energy control on", "月电控投入"}, 16: {"purchase control on", "购电控投入"},
		17: {"period power control off", "时段功控解除"}, 18: {"rest-day power control off", "厂休功控解除"},
		19: {"shutdown power control off", "营业报停功控解除"},
		20: {"current power float control off", "当前功率下浮控解除"},
		23: {"monthly energy control off", "月电控解除"}, 24: {"purchase control off", "购电控解除"},
		26: {"fee alarm on", "催费告警投入"}, 27: {"allow terminal talk", "允许终端与主站通话"},
		28: {"terminal removal on", "终端剔除投入"}, 29: {"allow active reports", "允许终端主动上报"},
		33: {"guarantee off", "终端保电解除"}, 34: {"fee alarm off", "催费告警解除"},
		35: {"forbid terminal talk", "禁止终端与主站通话"}, 36: {"terminal removal off", "终端剔除解除"},
		37: {"forbid active reports", "禁止终端主动上报"},
		38: {"connect to master", "激活终端连接主站"}, 39: {"disconnect from master", "命令终端断开连接"},
	} {
		register(control(fn, n[0], n[1]))
	}
	// NOTE: F21 and F22 are reserved in table 86 of the 2013 edition; they are left out.
	register(
		control(25, "guarantee on", "终端保电投入",
			fldU("duration_half_hours", "duration, 0 = until released (保电持续时间)", bin1, "0.5h")),
		control(30, "meter clock sync switch", "终端对电能表对时功能的开启与关闭",
			fld("enabled", "0 off, 1 on", bin1)),
		control(31, "time sync", "对时命令", fld("time", "new terminal time", a1Format)),
		control(32, "Chinese message", "中文信息",
			fld("kind", "", bitFields("BIN", 1,
				bitPart{name: "number", label: "message number", width: 4},
				bitPart{name: "kind", label: "0 normal, 1 important", shift: 4, width: 4})),
			fld("length", "text length Lcn", bin1),
			Field{Name: "text", Label: "GB2312 text, hex", LenFrom: "length"}),
	)
	for fn, n := range map[uint8][2]string{
		49: {"pause reading on a port", "命令指定通信端口暂停抄表"},
		50: {"resume reading on a port", "命令指定通信端口恢复抄表"},
		51: {"re-read on a port", "命令指定通信端口重新抄表"},
		52: {"initialise routes on a port", "初始化指定通信端口下的全部中继路由信息"},
		53: {"delete all meters on a port", "删除指定通信端口下的全部电表"},
	} {
		register(control(fn, n[0], n[1], fld("port", "communication port 1-31", bin1)))
	}
	for _, d := range UnitDefs() {
		if d.AFN == AFNControl && d.Fn == 30 {
			d.Edition = 2013
		}
	}
}

func registerClass1() {
	register(&UnitDef{AFN: AFNConfig, Fn: 1, Dir: Up, Name: "terminal version", Label: "终端版本信息",
		Fields: []Field{
			fld("vendor", "vendor code (厂商代号)", asciiFormat(4)),
			fld("device", "device number (设备编号)", asciiFormat(8)),
			fld("software_version", "software version", asciiFormat(4)),
			fld("software_date", "software release date", a20Format),
			fld("capacity", "configuration capacity code", asciiFormat(11)),
			fld("protocol_version", "protocol version", asciiFormat(4)),
			fld("hardware_version", "hardware version", asciiFormat(4)),
			fld("hardware_date", "hardware release date", a20Format),
		}})

	energy := func(prefix, label string) Field {
		return rateValues(prefix, label, a11Format, "kvarh")
	}
	register(
		class1(2, "terminal clock", "终端日历时钟", fld("clock", "terminal clock", a1Format)),
		class1(5, "control settings", "终端控制设置状态",
			fld("flags", "D0 guarantee, D1 removal, D2 fee alarm (保电、剔除和催费告警投入状态)", bs8),
			fld("groups", "valid total-adding groups D0-D7 (总加组有效标志位)", bs8),
			Field{Name: "group_states", Label: "one block per valid group", CountFrom: "groups",
				CountBits: true, Items: []Field{
					fld("plan", "power setpoint plan (功控定值方案号)", bin1),
					fld("periods", "valid periods (功控时段有效标志位)", bs8),
					fld("power_control", "D0 period, D1 rest day, D2 shutdown, D3 float (功控状态)",
						bs8),
					fld("energy_control", "D0 monthly, D1 purchase (电控状态)", bs8),
					fld("power_turns", "turns under power control (功控轮次状态)", bs8),
					fld("energy_turns", "turns under energy control (电控轮次状态)", bs8),
				}}),
		class1(6, "current control state", "终端当前控制状态",
			fld("remote_trip", "turns tripped by remote control D0-D7 (遥控跳闸输出状态)", bs8),
			fld("fee_alarm", "D0 fee alarm active (当前催费告警状态)", bs8),
			fld("groups", "valid total-adding groups (总加组有效标志位)", bs8),
			Field{Name: "group_states", Label: "one block per valid group", CountFrom: "groups",
				CountBits: true, Items: []Field{
					fldU("power_setpoint_kw", "current power setpoint (当前功控定值)", a2Format, "kW"),
					fldU("float_percent", "float coefficient", a4Format, "%"),
					fld("power_trip", "turns tripped by power control", bs8),
					fld("monthly_trip", "turns tripped by monthly energy control", bs8),
					fld("purchase_trip", "turns tripped by purchase control (购电控跳闸输出状态)", bs8),
					fld("power_alarm", "power control alarms", bs8),
					fld("energy_alarm", "energy control alarms", bs8),
				}}),
		class1(25, "power, voltage and current", "当前三相及总有/无功功率、功率因数，三相电压、电流、零序电流、视在功率",
			readTime,
			fldU("p_total_kw", "active power total", a9Format, "kW"),
			fldU("p_a_kw", "active power A", a9Format, "kW"),
			fldU("p_b_kw", "active power B", a9Format, "kW"),
			fldU("p_c_kw", "active power C", a9Format, "kW"),
			fldU("q_total_kvar", "reactive power total", a9Format, "kvar"),
			fldU("q_a_kvar", "reactive power A", a9Format, "kvar"),
			fldU("q_b_kvar", "reactive power B", a9Format, "kvar"),
			fldU("q_c_kvar", "reactive power C", a9Format, "kvar"),
			fldU("pf_total", "power factor total", a5Format, "%"),
			fldU("pf_a", "power factor A", a5Format, "%"),
			fldU("pf_b", "power factor B", a5Format, "%"),
			fldU("pf_c", "power factor C", a5Format, "%"),
			fldU("u_a_v", "voltage A", a7Format, "V"),
			fldU("u_b_v", "voltage B", a7Format, "V"),
			fldU("u_c_v", "voltage C", a7Format, "V"),
			fldU("i_a_a", "current A", a25Format, "A"),
			fldU("i_b_a", "current B", a25Format, "A"),
			fldU("i_c_a", "current C", a25Format, "A"),
			fldU("i_zero_a", "zero-sequence current", a25Format, "A"),
			fldU("s_total_kva", "apparent power total", a9Format, "kVA"),
			fldU("s_a_kva", "apparent power A", a9Format, "kVA"),
			fldU("s_b_kva", "apparent power B", a9Format, "kVA"),
			fldU("s_c_kva", "apparent power C", a9Format, "kVA")),
		class1(28, "meter status words and change flags", "电表运行状态字及其变位标志",
			readTime,
			Field{Name: "change_flags", Label: "change flags of words 1-7 (变位标志)", Times: 7,
				Items: []Field{fld("flags", "", bs16)}},
			Field{Name: "status_words", Label: "status words 1-7 (电表运行状态字)", Times: 7,
				Items: []Field{fld("word", "", bs16)}}),
		class1(33, "forward energy readings", "当前正向有/无功电能示值、一/四象限无功电能示值",
			readTime, ratesField,
			rateValues("forward_active_kwh", "forward active, total then rates", a14Format, "kWh"),
			energy("forward_reactive_kvarh", "forward reactive (combined 1)"),
			energy("q1_kvarh", "quadrant I reactive"),
			energy("q4_kvarh", "quadrant IV reactive")),
		class1(34, "reverse energy readings", "当前反向有/无功电能示值、二/三象限无功电能示值",
			readTime, ratesField,
			rateValues("reverse_active_kwh", "reverse active, total then rates", a14Format, "kWh"),
			energy("reverse_reactive_kvarh", "reverse reactive (combined 2)"),
			energy("q2_kvarh", "quadrant II reactive"),
			energy("q3_kvarh", "quadrant III reactive")),
		class1(129, "forward active energy", "当前正向有功电能示值（总、费率1～M）",
			readTime, ratesField,
			rateValues("forward_active_kwh", "total then rates 1-M", a14Format, "kWh")),
		class1(161, "meter relay state and records", "电能表远程控制通断电状态及记录",
			readTime,
			fld("relay", "0 = power off (断电), 0x11 = power on (通电)", bin1),
			fld("last_close", "last close time (最近一次合闸发生时刻)", a1Format),
			fld("last_trip", "last trip time (最近一次跳闸发生时刻)", a1Format)),
		class1(162, "meter clock", "电能表日历时钟",
			readTime, fld("meter_clock", "meter clock", a1Format)),
		class1(165, "meter switch operations", "电能表开关操作次数及时间",
			readTime,
			fld("program_count", "programming count (编程次数)", a10Format),
			fld("last_program", "last programming time", a1Format),
			fld("cover_open_count", "tail cover openings (尾盖打开次数)", a10Format),
			fld("last_cover_open", "last tail cover opening", a1Format)),
		class1(166, "meter parameter changes", "电能表参数修改次数及时间",
			readTime,
			fld("clock_set_count", "clock settings (校时总次数)", a10Format),
			fld("clock_before", "time before the last setting", a1Format),
			fld("clock_after", "time after the last setting", a1Format),
			fld("schedule_count", "time-table programmings", a10Format),
			fld("last_schedule", "last time-table programming", a1Format)),
		class1(167, "meter purchase and usage", "电能表购、用电信息",
			readTime,
			fld("purchase_count", "purchases (购电次数)", a8Format),
			fldU("balance_yuan", "remaining money (剩余金额)", a14Format, "yuan"),
			fldU("purchased_yuan", "total purchased money (累计购电金额)", a14Format, "yuan"),
			fldU("balance_kwh", "remaining energy (剩余电量)", a11Format, "kWh"),
			fldU("overdraft_kwh", "overdraft energy (透支电量)", a11Format, "kWh"),
			fldU("purchased_kwh", "total purchased energy (累计购电量)", a11Format, "kWh"),
			fldU("credit_kwh", "credit threshold (赊欠门限电量)", a11Format, "kWh"),
			fldU("alarm_kwh", "alarm energy (报警电量)", a11Format, "kWh"),
			fldU("fault_kwh", "fault energy (故障电量)", a11Format, "kWh")),
		class1(168, "meter settlement", "电能表结算信息",
			readTime, ratesField,
			rateValues("settled_kwh", "settled active energy (已结), total then rates", a14Format,
				"kWh"),
			rateValues("unsettled_kwh", "unsettled active energy (未结)", a14Format, "kWh")),
		class1(170, "meter reading status", "集中抄表电表抄读信息",
			fld("port", "port 1-31", bin1),
			fld("relay_level", "relay levels, 0 = direct (中继路由级数)", bin1),
			fld("phase", "D0-D2 actual phase, D4-D6 reading phase (载波抄读通信相位)", bs8),
			fld("quality", "", bitFields("BS8", 1,
				bitPart{name: "receive", label: "meter receive quality", width: 4},
				bitPart{name: "send", label: "meter send quality", shift: 4, width: 4})),
			fld("last_ok", "1 last reading succeeded, 0 failed", bin1),
			fld("last_success", "last successful reading", a1Format),
			fld("last_failure", "last failed reading", a1Format),
			fld("failures", "consecutive failures (最近连续失败累计次数)", bin1)),
	)
}

func registerClass2() {
	tdD := fld("day", "frozen day Td_d (日月年)", a20Format)
	register(
		&UnitDef{AFN: AFNClass2, Fn: 161, Dir: Down, Name: "daily frozen forward active energy",
			Label: "日冻结正向有功电能示值（总、费率1～M）", Fields: []Field{tdD}},
		&UnitDef{AFN: AFNClass2, Fn: 161, Dir: Up, Name: "daily frozen forward active energy",
			Label: "日冻结正向有功电能示值（总、费率1～M）", Fields: []Field{tdD, readTime, ratesField,
				rateValues("forward_active_kwh", "total then rates 1-M", a14Format, "kWh")}},
	)
	register(curve(73, "group active power curve", "总加组有功功率曲线", a2Format, "kW")...)
	register(curve(74, "group reactive power curve", "总加组无功功率曲线", a2Format, "kvar")...)
	register(curve(75, "group active energy curve", "总加组有功电能量曲线", a3Format, "kWh")...)
	register(curve(76, "group reactive energy curve", "总加组无功电能量曲线", a3Format, "kvarh")...)
	phases := []string{"", "A", "B", "C"}
	for i := uint8(0); i < 4; i++ {
		ph := phases[i]
		register(curve(81+i, joinPhase(ph, "active power curve"), ph+"有功功率曲线", a9Format, "kW")...)
		register(curve(85+i, joinPhase(ph, "reactive power curve"), ph+"无功功率曲线", a9Format,
			"kvar")...)
		register(curve(105+i, joinPhase(ph, "power factor curve"), ph+"功率因数曲线", a5Format, "%")...)
	}
	for i := uint8(0); i < 3; i++ {
		ph := phases[i+1]
		register(curve(89+i, joinPhase(ph, "voltage curve"), ph+"相电压曲线", a7Format, "V")...)
		register(curve(92+i, joinPhase(ph, "current curve"), ph+"相电流曲线", a25Format, "A")...)
	}
	register(curve(95, "zero-sequence current curve", "零序电流曲线", a25Format, "A")...)
	totals := [4][2]string{{"forward active", "正向有功"}, {"forward reactive", "正向无功"},
		{"reverse active", "反向有功"}, {"reverse reactive", "反向无功"}}
	units := [4]string{"kWh", "kvarh", "kWh", "kvarh"}
	for i := uint8(0); i < 4; i++ {
		register(curve(97+i, totals[i][0]+" energy curve", totals[i][1]+"总电能量曲线", a13Format,
			units[i])...)
		register(curve(101+i, totals[i][0]+" reading curve", totals[i][1]+"总电能示值曲线", a11Format,
			units[i])...)
	}
}

func joinPhase(ph, name string) string {
	if ph == "" {
		return name
	}
	return "phase " + ph + " " + name
}

func registerEventsAndForwarding() {
	pointers := []Field{
		fld("pm", "first record pointer Pm (起始指针)", bin1),
		fld("pn", "end record pointer Pn (结束指针)", bin1),
	}
	records := append([]Field{
		fld("ec1", "important event counter EC1", bin1),
		fld("ec2", "general event counter EC2", bin1),
	}, pointers...)
	records = append(records, fld("records", "event records", ercListFormat))
	for fn, n := range map[uint8][2]string{1: {"important events", "请求重要事件"},
		2: {"general events", "请求一般事件"}} {
		register(
			&UnitDef{AFN: AFNClass3, Fn: fn, Dir: Down, Name: n[0], Label: n[1], Fields: pointers},
			&UnitDef{AFN: AFNClass3, Fn: fn, Dir: Up, Name: n[0], Label: n[1], Fields: records},
		)
	}

	register(
		&UnitDef{AFN: AFNForward, Fn: 1, Dir: Down, Name: "transparent forward", Label: "透明转发",
			Fields: []Field{
				fld("port", "terminal port 1-31 (终端通信端口号)", bin1),
				fld("control", "port settings (透明转发通信控制字)", forwardControl),
				fld("frame_timeout", "wait for the meter's frame (透明转发接收等待报文超时时间)",
					frameTimeout),
				fldU("byte_timeout", "wait between bytes (透明转发接收等待字节超时时间)", bin1, "10ms"),
				fld("length", "forwarded frame length k", bin2),
				{Name: "frame", Label: "forwarded frame (透明转发内容)", LenFrom: "length"},
			}},
		&UnitDef{AFN: AFNForward, Fn: 1, Dir: Up, Name: "transparent forward", Label: "透明转发",
			Fields: []Field{
				fld("port", "terminal port 1-31", bin1),
				fld("length", "meter reply length k, 0 = no reply", bin2),
				{Name: "frame", Label: "meter reply (透明转发内容)", LenFrom: "length"},
			}},
		&UnitDef{AFN: AFNForward, Fn: 9, Dir: Down, Name: "forward meter read",
			Label: "转发主站直接对电表的抄读数据命令", Fields: append(append([]Field{
				fld("port", "terminal port 1-31", bin1)}, relayRoute...),
				fld("meter", "meter address (转发目标地址)", a12Format),
				fld("di_kind", "D1-D0: 0 DL/T 645-1997, 1 DL/T 645-2007 (转发直接抄读的数据标识类型)", bin1),
				fld("di", "data identifier, 645-1997 uses the low 2 bytes", diFormat),
			)},
		&UnitDef{AFN: AFNForward, Fn: 9, Dir: Up, Name: "forward meter read",
			Label: "转发主站直接对电表的抄读数据命令", Fields: []Field{
				fld("port", "terminal port 1-31", bin1),
				fld("meter", "meter address", a12Format),
				fld("result", forwardResultLabel, bin1),
				fld("length", "DI and data length k+4", bin1),
				{Name: "content", Label: "DI and data", Format: diDataFormat, LenFrom: "length"},
			}},
	)
	// NOTE: the 2009 F10/F11 flag byte is 55H or AAH, but which value means trip (or power
	// on) is not confirmed by the 2009 text. So the decoder shows the byte without a meaning.
	for fn, n := range map[uint8][3]string{
		10: {"forward remote trip or allow close", "转发主站直接对电表的遥控跳闸/允许合闸命令",
			"trip or allow-close flag, 55H or AAH (遥控跳闸/允许合闸标志)"},
		11: {"forward remote power-on", "转发主站直接对电表的遥控送电命令",
			"power-on flag, 55H or AAH (遥控送电标志)"},
	} {
		register(
			&UnitDef{AFN: AFNForward, Fn: fn, Dir: Down, Name: n[0], Label: n[1], Edition: 2009,
				Note: "flag meaning of 55H/AAH unverified", Fields: append(append([]Field{
					fld("port", "terminal port 1-31", bin1)}, relayRoute...),
					fld("meter", "meter address", a12Format),
					fld("flag", n[2], bin1),
					fld("password_length", "password length (密码长度)", bin1),
					Field{Name: "password", Label: "password (密码)", LenFrom: "password_length",
						Secret: true},
				)},
			&UnitDef{AFN: AFNForward, Fn: fn, Dir: Up, Name: n[0], Label: n[1], Edition: 2009,
				Note: "flag meaning of 55H/AAH unverified", Fields: []Field{
					fld("port", "terminal port 1-31", bin1),
					fld("meter", "meter address", a12Format),
					fld("result", forwardResultLabel, bin1),
					fld("flag", n[2], bin1),
				}},
		)
	}
	register(
		&UnitDef{AFN: AFNForward, Fn: 12, Dir: Down, Name: "batch meter task", Edition: 2013,
			Label: "对批量电表下发任务命令", Fields: []Field{
				fld("task_format", "task format (任务格式)", bin2),
				fld("task_type", "0 authentication, 1 clock, 2 tariff prices, 3 step prices", bin1),
				fld("task_length", "task data length Ln", bin2),
				{Name: "task_data", Label: "task data (任务数据)", LenFrom: "task_length",
					Secret: true},
				fld("count", "number of meters n", bin2),
				{Name: "meters", Label: "meters", CountFrom: "count", Items: []Field{
					fld("number", "meter number (表号)", rawFormat(8)),
					{Name: "key", Label: "meter key ciphertext (表的密钥密文)", Format: rawFormat(32),
						Secret: true},
				}},
			}},
		&UnitDef{AFN: AFNForward, Fn: 13, Dir: Down, Name: "batch task status", Edition: 2013,
			Label: "查询对批量电表下发任务的执行状态", Fields: []Field{
				fld("task_type", "task type (任务类型)", bin1),
			}},
		&UnitDef{AFN: AFNForward, Fn: 13, Dir: Up, Name: "batch task status", Edition: 2013,
			Label: "查询对批量电表下发任务的执行状态", Fields: []Field{
				fld("task_type", "task type (任务类型)", bin1),
				fld("total", "meters in the task", bin2),
				fld("succeeded", "meters that succeeded n", bin2),
				{Name: "meters", Label: "meter numbers that succeeded", CountFrom: "succeeded",
					Items: []Field{fld("number", "meter number (表号)", rawFormat(8))}},
			}},
	)
}

// ForwardResult is the result code of an AFN10 F9 to F11 reply (转发结果标志).
type ForwardResult uint8

// Forward results.
const (
	ForwardCannotExecute ForwardResult = 0 // 不能执行转发
	ForwardTimeout       ForwardResult = 1 // 转发接收超时
	ForwardReceiveError  ForwardResult = 2 // 转发接收错误
	ForwardConfirmed     ForwardResult = 3 // 转发接收确认
	ForwardDenied        ForwardResult = 4 // 转发接收否认
	ForwardData          ForwardResult = 5 // 转发接收数据
)

var forwardResultNames = []string{"cannot forward", "meter timed out", "receive error",
	"meter confirmed", "meter denied", "meter returned data"}

const forwardResultLabel = "0 cannot forward, 1 timeout, 2 receive error, 3 confirmed, " +
	"4 denied, 5 data (转发结果标志)"

func (r ForwardResult) String() string {
	if int(r) < len(forwardResultNames) {
		return forwardResultNames[r]
	}
	return "invalid result " + strconv.Itoa(int(r))
}
