package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/goburrow/modbus"
	"go.uber.org/zap"

	"github.com/feegate/feegate/protocol"
)

// Modbus RTU frame sizes: unit, function, CRC; an exception reply adds its code.
const (
	rtuMinLen       = 4
	rtuExceptionLen = 5
	rtuMaxLen       = 256
)

// ModbusRTUConfig sets one Modbus RTU unit on a bus.
type ModbusRTUConfig struct {
	// Unit is the slave address, 1–247.
	Unit byte
	// Baud switches the line for this unit's requests when it differs from the bus; 0 keeps
	// the bus speed.
	Baud int
	// Timeout is the wait for the first reply byte; 0 keeps the bus default.
	Timeout time.Duration
	// Attempts overrides the bus default when non-zero; 1 means no retry.
	Attempts int
}

// NewModbusRTUClient returns a goburrow/modbus client for one unit whose requests go
// through bus, so that Modbus RTU and DL/T 645 meters share one line and one owner. The
// library's RTU packager builds and checks frames; the transporter here cuts replies by
// their function code and returns exception replies as *ModbusError. The client is safe for
// concurrent use: its requests queue on the bus.
func NewModbusRTUClient(bus *Bus, cfg ModbusRTUConfig) modbus.Client {
	packager := modbus.NewRTUClientHandler("")
	packager.SlaveId = cfg.Unit
	return modbus.NewClient2(packager, &rtuTransporter{bus: bus, cfg: cfg})
}

// rtuTransporter implements modbus.Transporter on a Bus.
type rtuTransporter struct {
	bus *Bus
	cfg ModbusRTUConfig
}

// Send writes one RTU request and returns the reply ADU. The goburrow v0.1.0 RTU
// transporter tests the request's function byte with 0x80 to spot an exception, but that
// bit is never set in a request, so it reads exception replies short. This one tests the
// reply's function byte.
func (t *rtuTransporter) Send(adu []byte) ([]byte, error) {
	if len(adu) < rtuMinLen {
		return nil, &BusError{Kind: ErrInvalidRequest, Bus: t.bus.cfg.Name,
			Err: errors.New("modbus RTU request shorter than 4 bytes")}
	}
	unit, function := adu[0], adu[1]
	spec := RTUReplySpec(unit, function)
	reply, err := t.bus.Do(context.Background(), Exchange{
		Frame:            adu,
		Baud:             t.cfg.Baud,
		Spec:             &spec,
		Broadcast:        unit == 0,
		FirstByteTimeout: t.cfg.Timeout,
		Attempts:         t.cfg.Attempts,
		Protocol:         "modbus",
		Kind:             modbusKind(function),
	})
	if err != nil {
		return nil, err
	}
	if unit == 0 {
		// No unit replies to a broadcast, and the library needs a whole ADU to decode.
		return nil, &BusError{Kind: ErrInvalidRequest, Bus: t.bus.cfg.Name,
			Err: errors.New("modbus broadcast sent; no reply to decode")}
	}
	f := reply.Frame
	if f[1] == function|0x80 {
		return nil, &ModbusError{Unit: unit, Function: function, Exception: f[2]}
	}
	if err := checkReadCount(adu[1:len(adu)-2], f[1:len(f)-2]); err != nil {
		return nil, &BusError{Kind: ErrNoReply, Bus: t.bus.cfg.Name, Attempts: reply.Attempts,
			Err: err}
	}
	return f, nil
}

// checkReadCount checks that the byte count of a read reply PDU matches the quantity its
// request PDU asked for. The goburrow v0.1.0 client checks the count only against the
// bytes that follow it, so a well-formed reply with fewer registers or coils than asked
// would reach the caller as shorter data, and an empty coil read as an open contact.
func checkReadCount(req, reply []byte) error {
	if len(req) < 5 || len(reply) < 1 {
		return nil
	}
	quantity := int(binary.BigEndian.Uint16(req[3:5]))
	var want int
	switch req[0] {
	case modbus.FuncCodeReadCoils, modbus.FuncCodeReadDiscreteInputs:
		want = (quantity + 7) / 8
	case modbus.FuncCodeReadHoldingRegisters, modbus.FuncCodeReadInputRegisters,
		modbus.FuncCodeReadWriteMultipleRegisters:
		want = 2 * quantity
	default:
		return nil
	}
	got := -1
	if len(reply) >= 2 {
		got = int(reply[1])
	}
	if got != want || len(reply)-2 != want {
		return protocol.Mismatch(protocol.ErrBadLength, 2, int64(got), int64(want),
			"modbus read reply byte count for the requested quantity")
	}
	return nil
}

// RTUReplySpec returns the stream-framer description of the reply to a request with the
// given unit and function. The reply starts with the unit byte and ends with a valid CRC.
// Its length follows from the function, or from the byte count of read replies, and an
// exception reply (function | 0x80) is 5 bytes long.
func RTUReplySpec(unit, function byte) protocol.FrameSpec {
	return protocol.FrameSpec{
		Start: unit,
		Check: func(b []byte) (int, error) { return checkRTUReply(b, function) },
	}
}

// NOTE: replies are delimited by their length and CRC, not by the 3.5-character silence of
// Modbus RTU, so a reply glued to trailing noise is still found.
func checkRTUReply(b []byte, function byte) (int, error) {
	if len(b) < 2 {
		return 0, nil
	}
	var n int
	switch b[1] {
	case function | 0x80:
		n = rtuExceptionLen
	case function:
		switch function {
		case modbus.FuncCodeReadCoils, modbus.FuncCodeReadDiscreteInputs,
			modbus.FuncCodeReadHoldingRegisters, modbus.FuncCodeReadInputRegisters,
			modbus.FuncCodeReadWriteMultipleRegisters:
			if len(b) < 3 {
				return 0, nil
			}
			n = 3 + int(b[2]) + 2
		case modbus.FuncCodeWriteSingleCoil, modbus.FuncCodeWriteSingleRegister,
			modbus.FuncCodeWriteMultipleCoils, modbus.FuncCodeWriteMultipleRegisters:
			n = 8
		case modbus.FuncCodeMaskWriteRegister:
			n = 10
		case modbus.FuncCodeReadFIFOQueue:
			if len(b) < 4 {
				return 0, nil
			}
			n = 4 + int(binary.BigEndian.Uint16(b[2:])) + 2
		default:
			return 0, protocol.Errorf(protocol.ErrUnknownFunction, 1, int64(function),
				"modbus function without a known reply length")
		}
	default:
		return 0, protocol.Mismatch(protocol.ErrUnknownFunction, 1, int64(b[1]),
			int64(function), "modbus reply function")
	}
	if n > rtuMaxLen {
		return 0, protocol.Errorf(protocol.ErrBadLength, 2, int64(n), "modbus RTU reply length")
	}
	if len(b) < n {
		return 0, nil
	}
	want := modbusCRC(b[:n-2])
	got := uint16(b[n-2]) | uint16(b[n-1])<<8
	if got != want {
		return 0, protocol.Mismatch(protocol.ErrBadChecksum, n-2, int64(got), int64(want),
			"modbus RTU CRC")
	}
	return n, nil
}

// modbusCRC returns the CRC-16/MODBUS of b (polynomial 0xA001 reflected, initial 0xFFFF),
// sent low byte first.
func modbusCRC(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc = crc>>8 ^ crcTable[byte(crc)^c]
	}
	return crc
}

// crcTable holds the CRC-16/MODBUS remainder of every byte value, one row per byte.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
		t[i] = crc
	}
	return t
}()

// modbusKinds names the function codes for the request metrics.
var modbusKinds = map[byte]string{
	modbus.FuncCodeReadCoils:                  "read_coils",
	modbus.FuncCodeReadDiscreteInputs:         "read_discrete_inputs",
	modbus.FuncCodeReadHoldingRegisters:       "read_holding_registers",
	modbus.FuncCodeReadInputRegisters:         "read_input_registers",
	modbus.FuncCodeWriteSingleCoil:            "write_single_coil",
	modbus.FuncCodeWriteSingleRegister:        "write_single_register",
	modbus.FuncCodeWriteMultipleCoils:         "write_multiple_coils",
	modbus.FuncCodeWriteMultipleRegisters:     "write_multiple_registers",
	modbus.FuncCodeReadWriteMultipleRegisters: "read_write_multiple_registers",
	modbus.FuncCodeMaskWriteRegister:          "mask_write_register",
	modbus.FuncCodeReadFIFOQueue:              "read_fifo_queue",
}

func modbusKind(function byte) string {
	if k, ok := modbusKinds[function]; ok {
		return k
	}
	return "other"
}

// ModbusTCPConfig sets a Modbus TCP endpoint.
type ModbusTCPConfig struct {
	// Address is host:port of the Modbus TCP server.
	Address string
	// Unit is the unit identifier the server routes to.
	Unit byte
	// Timeout bounds each request, connect included; 0 means 5 s.
	Timeout time.Duration
	// Logger receives one line per reconnect and per failed request; nil means none.
	Logger *zap.Logger
	// Metrics receives request counts and latencies; nil means none.
	Metrics *Metrics
}

// ModbusTCPLink is a Modbus TCP client for one unit, built on the goburrow TCP packager and
// transporter. Exception replies are returned as *ModbusError. After any failed request
// the connection is dropped, so a late reply is never read as the next request's, and the
// next request reconnects. Its client is safe for concurrent use and runs one request at
// a time.
type ModbusTCPLink struct {
	handler *modbus.TCPClientHandler
	client  modbus.Client
}

// NewModbusTCPLink returns a link that connects on its first request.
func NewModbusTCPLink(cfg ModbusTCPConfig) *ModbusTCPLink {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	h := modbus.NewTCPClientHandler(cfg.Address)
	h.SlaveId = cfg.Unit
	h.Timeout = cfg.Timeout
	t := &tcpTransporter{handler: h, cfg: cfg, log: cfg.Logger, metrics: cfg.Metrics}
	if t.log == nil {
		t.log = zap.NewNop()
	}
	if t.metrics == nil {
		t.metrics = discardMetrics()
	}
	return &ModbusTCPLink{handler: h, client: modbus.NewClient2(h, t)}
}

// Client returns the goburrow/modbus client of the link.
func (l *ModbusTCPLink) Client() modbus.Client { return l.client }

// Close closes the connection; a later request reconnects. It is safe for concurrent use.
func (l *ModbusTCPLink) Close() error { return l.handler.Close() }

type tcpTransporter struct {
	mu      sync.Mutex
	handler *modbus.TCPClientHandler
	cfg     ModbusTCPConfig
	log     *zap.Logger
	metrics *Metrics
}

func (t *tcpTransporter) Send(adu []byte) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()

	const mbapLen = 7
	function := byte(0)
	if len(adu) > mbapLen {
		function = adu[mbapLen]
	}
	kind := "modbus_" + modbusKind(function)
	start := time.Now()
	reply, err := t.handler.Send(adu)
	t.metrics.requestSeconds.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	if err != nil {
		t.metrics.requests.WithLabelValues(kind, resultError).Inc()
		t.log.Warn("modbus TCP request failed; dropping the connection",
			zap.String("endpoint", t.cfg.Address), zap.Uint8("unit", t.cfg.Unit), zap.Error(err))
		_ = t.handler.Close()
		kind := ErrDisconnected
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			kind = ErrTimeout
		}
		return nil, &BusError{Kind: kind, Bus: t.cfg.Address, Attempts: 1, Err: err}
	}
	if len(reply) > mbapLen+1 && reply[mbapLen] == function|0x80 {
		t.metrics.requests.WithLabelValues(kind, "exception").Inc()
		return nil, &ModbusError{Unit: t.cfg.Unit, Function: function, Exception: reply[mbapLen+1]}
	}
	if len(adu) > mbapLen && len(reply) > mbapLen {
		if err := checkReadCount(adu[mbapLen:], reply[mbapLen:]); err != nil {
			t.metrics.requests.WithLabelValues(kind, resultError).Inc()
			t.log.Warn("modbus TCP read reply shorter than requested",
				zap.String("endpoint", t.cfg.Address), zap.Uint8("unit", t.cfg.Unit),
				zap.Error(err))
			return nil, &BusError{Kind: ErrNoReply, Bus: t.cfg.Address, Attempts: 1, Err: err}
		}
	}
	t.metrics.requests.WithLabelValues(kind, resultOK).Inc()
	return reply, nil
}
