package dlt645

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors for the meaning of an abnormal reply. A *MeterError matches every sentinel
// whose bit is set in its error byte or word, so a caller maps a rejection to a reason with
// errors.Is and reads the raw value with errors.As.
var (
	// ErrAbnormalReply matches every *MeterError.
	ErrAbnormalReply = errors.New("dlt645: abnormal reply")
	// ErrNoData means the meter has no data for the requested identifier (2007 ERR bit 1,
	// 1997 ERR bit 1).
	ErrNoData = errors.New("dlt645: no requested data")
	// ErrPasswordRejected means a wrong password or an unauthorized request (ERR bit 2,
	// 0x1C error word bit 2).
	ErrPasswordRejected = errors.New("dlt645: password rejected")
	// ErrSecurity means a MAC, ESAM or identity-authentication failure (SERR bits 2 and 3,
	// 0x1C error word bits 1 and 3).
	ErrSecurity = errors.New("dlt645: security check failed")
	// ErrGuaranteeActive means a trip refused because power guarantee (保电) is on.
	ErrGuaranteeActive = errors.New("dlt645: power guarantee active")
	// ErrDeadlineInvalid means the command's validity deadline is invalid or has passed.
	ErrDeadlineInvalid = errors.New("dlt645: execution deadline invalid")
	// ErrMeterSuspended means the meter suspended (挂起) secured commands after too many
	// failures.
	ErrMeterSuspended = errors.New("dlt645: meter suspended")
	// ErrUnexpectedReply means a frame that is not the reply to the request: another
	// function, a request instead of a reply, or a layout the function does not have.
	ErrUnexpectedReply = errors.New("dlt645: unexpected reply")
)

// ErrorKind names the error table an abnormal reply's error value follows.
type ErrorKind int

// The error tables of DL/T 645 and its SGCC extensions.
const (
	// KindERR2007 is the 1-byte ERR of DL/T 645-2007 abnormal replies.
	KindERR2007 ErrorKind = iota
	// KindERR1997 is the 1-byte ERR of DL/T 645-1997 abnormal replies.
	KindERR1997
	// KindSERR is the 2-byte SERR of the SGCC security command 0x03.
	KindSERR
	// KindRelayError is the 2-byte error word of a 0xDC reply with L=2.
	KindRelayError
)

// errorBit names one bit of an error value and the sentinel it matches, if any.
type errorBit struct {
	bit      uint
	name     string
	chinese  string
	sentinel error
}

var errorTables = map[ErrorKind][]errorBit{
	KindERR2007: {
		{0, "other_error", "其他错误", nil},
		{1, "no_requested_data", "无请求数据", ErrNoData},
		{2, "password_rejected", "密码错/未授权", ErrPasswordRejected},
		{3, "baud_rate_unchangeable", "通信速率不能更改", nil},
		{4, "too_many_year_zones", "年时区数超", nil},
		{5, "too_many_day_slots", "日时段数超", nil},
		{6, "too_many_tariffs", "费率数超", nil},
		{7, "reserved_bit_7", "保留", nil},
	},
	// NOTE: bits 3 and 7 of the 1997 ERR byte are undefined in the one client table found,
	// so they are named as reserved until the standard text confirms them.
	KindERR1997: {
		{0, "illegal_data", "非法数据", nil},
		{1, "wrong_identifier", "数据标识错", ErrNoData},
		{2, "password_rejected", "密码错", ErrPasswordRejected},
		{3, "reserved_bit_3", "保留", nil},
		{4, "too_many_year_zones", "年时区数超", nil},
		{5, "too_many_day_slots", "日时段数超", nil},
		{6, "too_many_tariffs", "费率数超", nil},
		{7, "reserved_bit_7", "保留", nil},
	},
	KindSERR: {
		{0, "other_error", "其他错误", nil},
		{1, "duplicate_recharge", "重复充值", nil},
		{2, "esam_verification_failed", "ESAM验证失败", ErrSecurity},
		{3, "identity_authentication_failed", "身份认证失败", ErrSecurity},
		{4, "customer_number_mismatch", "客户编号不匹配", nil},
		{5, "wrong_recharge_count", "充值次数错", nil},
		{6, "purchase_exceeds_hoarding_limit", "购电超囤积", nil},
		{7, "address_error", "地址异常", nil},
		{8, "meter_suspended", "电表挂起", ErrMeterSuspended},
	},
	KindRelayError: {
		{0, "meter_suspended", "电表挂起", ErrMeterSuspended},
		{1, "mac_error", "MAC错误", ErrSecurity},
		{2, "password_rejected", "密码错/未授权", ErrPasswordRejected},
		{3, "identity_authentication_timeout", "身份认证超时", ErrSecurity},
		{4, "deadline_invalid", "执行时间无效", ErrDeadlineInvalid},
		{5, "trip_failed_guarantee", "跳闸失败(保电)", ErrGuaranteeActive},
		{6, "auto_restore_failed_guarantee", "跳闸自动恢复失败(保电)", ErrGuaranteeActive},
		{7, "auto_restore_duration_invalid", "跳闸自动恢复持续时间无效", nil},
		{8, "auto_restore_failed_tripped", "跳闸自动恢复失败(已跳闸)", nil},
	},
}

// MeterError is an abnormal reply: the meter's error byte or word, decoded bit by bit.
type MeterError struct {
	Edition  Edition
	Function Function
	Kind     ErrorKind
	// Value is the error byte, or the 2-byte word read low byte first.
	Value uint16
}

// Bits returns the names of the set bits, low bit first. A set bit the table does not
// name is returned as "bit_N".
func (e *MeterError) Bits() []string {
	var out []string
	e.eachBit(func(b errorBit) { out = append(out, b.name) })
	return out
}

// ChineseBits returns the Chinese names of the set bits, in the order of Bits.
func (e *MeterError) ChineseBits() []string {
	var out []string
	e.eachBit(func(b errorBit) { out = append(out, b.chinese) })
	return out
}

func (e *MeterError) eachBit(fn func(errorBit)) {
	table := errorTables[e.Kind]
	for bit := uint(0); bit < 16; bit++ {
		if e.Value&(1<<bit) == 0 {
			continue
		}
		found := false
		for _, b := range table {
			if b.bit == bit {
				fn(b)
				found = true
				break
			}
		}
		if !found {
			fn(errorBit{bit: bit, name: fmt.Sprintf("bit_%d", bit), chinese: "未定义"})
		}
	}
}

// Code returns the stable snake-case code of the error table, for JSON output.
func (e *MeterError) Code() string {
	switch e.Kind {
	case KindSERR:
		return "meter_security_error"
	case KindRelayError:
		return "meter_relay_error"
	}
	return "meter_error"
}

func (e *MeterError) Error() string {
	width := 2
	if e.Kind == KindERR2007 || e.Kind == KindERR1997 {
		width = 1
	}
	bits := e.Bits()
	if len(bits) == 0 {
		bits = []string{"no bit set"}
	}
	return fmt.Sprintf("dlt645: meter rejected %s (0x%02X): error 0x%0*X: %s",
		e.Function.Name(e.Edition), byte(e.Function), 2*width, e.Value,
		strings.Join(bits, ", "))
}

// Is matches ErrAbnormalReply and the sentinel of every set bit.
func (e *MeterError) Is(target error) bool {
	if target == ErrAbnormalReply {
		return true
	}
	match := false
	e.eachBit(func(b errorBit) {
		if b.sentinel != nil && b.sentinel == target {
			match = true
		}
	})
	return match
}

// abnormalError decodes the data of an abnormal reply f of edition ed.
func abnormalError(ed Edition, f *Frame) error {
	fn := f.Function()
	me := &MeterError{Edition: ed, Function: fn, Kind: KindERR2007}
	if ed == Edition1997 {
		me.Kind = KindERR1997
	}
	switch {
	case len(f.Data) == 1:
		me.Value = uint16(f.Data[0])
	case len(f.Data) == 2 && ed == Edition2007 && fn == FuncSecurity:
		me.Kind = KindSERR
		me.Value = uint16(f.Data[0]) | uint16(f.Data[1])<<8
	case len(f.Data) == 2 && ed == Edition2007 && fn == FuncRelayControl:
		me.Kind = KindRelayError
		me.Value = uint16(f.Data[0]) | uint16(f.Data[1])<<8
	default:
		return unexpected(f, "abnormal reply with %d data bytes", len(f.Data))
	}
	return me
}

// UnexpectedError is an ErrUnexpectedReply with the offending control code.
type UnexpectedError struct {
	Control Control
	Detail  string
}

func (e *UnexpectedError) Error() string {
	return fmt.Sprintf("dlt645: unexpected reply (C=0x%02X): %s", byte(e.Control), e.Detail)
}

// Unwrap returns ErrUnexpectedReply.
func (e *UnexpectedError) Unwrap() error { return ErrUnexpectedReply }

func unexpected(f *Frame, format string, args ...any) error {
	return &UnexpectedError{Control: f.Control, Detail: fmt.Sprintf(format, args...)}
}

// checkReply verifies that f is a reply to function fn of edition ed. An abnormal reply
// returns its *MeterError.
func checkReply(ed Edition, fn Function, f *Frame) error {
	if !f.Control.IsReply() {
		return unexpected(f, "a request frame, not a reply")
	}
	if f.Function() != fn {
		return unexpected(f, "function 0x%02X, want 0x%02X", byte(f.Function()), byte(fn))
	}
	if f.Control.IsAbnormal() {
		return abnormalError(ed, f)
	}
	return nil
}

// ReplyError returns the *MeterError of an abnormal reply f, or nil when f is not abnormal.
func ReplyError(ed Edition, f *Frame) error {
	if !f.Control.IsReply() || !f.Control.IsAbnormal() {
		return nil
	}
	return abnormalError(ed, f)
}
