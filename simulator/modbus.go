package simulator

import (
	"fmt"
	"io"
	"log"
	"net"
	"time"

	"github.com/simonvetter/modbus"
	"go.uber.org/zap"

	"github.com/feegate/feegate/archive"
)

// modbusServer serves the fleet's Modbus meters on one Modbus TCP server
// (github.com/simonvetter/modbus), one unit id each, with the default register map.
type modbusServer struct {
	srv    *modbus.ModbusServer
	addr   string
	units  map[uint8]*simMeter
	model  archive.RegisterMap
	logger *zap.Logger
}

func startModbus(meters []*simMeter, logger *zap.Logger) (*modbusServer, error) {
	// The library listens on the URL it is given and does not report the port it bound, so
	// a free loopback port is chosen first. Another process could take it in between.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("simulator: modbus port: %w", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	h := &modbusServer{addr: addr, units: map[uint8]*simMeter{},
		model: archive.DefaultModbusModel().Registers, logger: logger}
	for _, sm := range meters {
		h.units[sm.unit] = sm
	}
	srv, err := modbus.NewServer(&modbus.ServerConfiguration{
		URL: "tcp://" + addr, Timeout: 5 * time.Minute, MaxClients: 64,
		Logger: log.New(io.Discard, "", 0),
	}, h)
	if err != nil {
		return nil, fmt.Errorf("simulator: modbus server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("simulator: modbus server on %s: %w", addr, err)
	}
	h.srv = srv
	return h, nil
}

func (h *modbusServer) stop() { _ = h.srv.Stop() }

// unit returns the meter of a unit id after applying its silent and slow faults.
func (h *modbusServer) unit(id uint8) (*simMeter, error) {
	sm, ok := h.units[id]
	if !ok {
		return nil, modbus.ErrGWTargetFailedToRespond
	}
	silent, delay := sm.m.Access(time.Now())
	if silent {
		return nil, modbus.ErrGWTargetFailedToRespond
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	return sm, nil
}

// HandleCoils reads the relay coil, or writes it: OFF trips, ON closes (the default map).
func (h *modbusServer) HandleCoils(req *modbus.CoilsRequest) ([]bool, error) {
	sm, err := h.unit(req.UnitId)
	if err != nil {
		return nil, err
	}
	coil := h.model.RelayCoil
	if req.Addr != coil.Address || req.Quantity != 1 {
		return nil, modbus.ErrIllegalDataAddress
	}
	now := time.Now()
	if req.IsWrite {
		sm.m.WriteRelay(coil.Open(req.Args[0]), now)
		return nil, nil
	}
	open := sm.m.State(now).CommandState == "open"
	return []bool{coil.ValueFor(open)}, nil
}

// HandleDiscreteInputs reads the actual relay state.
func (h *modbusServer) HandleDiscreteInputs(req *modbus.DiscreteInputsRequest) ([]bool, error) {
	sm, err := h.unit(req.UnitId)
	if err != nil {
		return nil, err
	}
	status := h.model.RelayStatus
	if req.Addr != status.Address || req.Quantity != 1 {
		return nil, modbus.ErrIllegalDataAddress
	}
	open := sm.m.Readings(time.Now()).Open
	return []bool{status.ValueFor(open)}, nil
}

// HandleHoldingRegisters reads energy, voltage and power; the registers are read-only.
func (h *modbusServer) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	sm, err := h.unit(req.UnitId)
	if err != nil {
		return nil, err
	}
	if req.IsWrite {
		return nil, modbus.ErrIllegalFunction
	}
	now := time.Now()
	r := sm.m.Readings(now)
	// The register space of the default map: energy 0–1, voltage 2, power 3–4.
	space := make([]uint16, 0, 5)
	space = append(space, h.model.Energy.Encode(r.Forward[0]+r.Forward[1]+r.Forward[2]+r.Forward[3], false)...)
	space = append(space, h.model.Voltage.Encode(r.Volts, false)...)
	space = append(space, h.model.Power.Encode(r.PowerKW, false)...)
	end := int(req.Addr) + int(req.Quantity)
	if end > len(space) {
		return nil, modbus.ErrIllegalDataAddress
	}
	return space[req.Addr:end], nil
}

// HandleInputRegisters: the default map has no input registers.
func (h *modbusServer) HandleInputRegisters(req *modbus.InputRegistersRequest) ([]uint16, error) {
	return nil, modbus.ErrIllegalDataAddress
}
