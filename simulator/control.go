package simulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/feegate/feegate/simulator/meter"
	"github.com/feegate/feegate/simulator/terminal"
)

// FaultRequest is the body of PUT and DELETE /faults.
type FaultRequest struct {
	Target FaultTarget `json:"target" yaml:"target"`
	Fault  string      `json:"fault" yaml:"fault"`
	// Params: "delay" for slow and "offset" for clock_skew (Go durations such as "2s",
	// "-48h", or seconds as a number), "rate" for corrupt (0 < rate ≤ 1).
	Params map[string]any `json:"params,omitempty" yaml:"params,omitempty"`
}

// FaultTarget names one meter (12 digits) or one terminal (A1A2).
type FaultTarget struct {
	Meter    string `json:"meter,omitempty" yaml:"meter,omitempty"`
	Terminal string `json:"terminal,omitempty" yaml:"terminal,omitempty"`
}

// Errors of SetFault, mapped to HTTP status codes by the control API.
var (
	ErrNotFound   = errors.New("simulator: not found")
	ErrBadRequest = errors.New("simulator: invalid request")
)

// SetFault switches a fault on (on=true) or off. Safe from any goroutine.
func (f *Fleet) SetFault(req FaultRequest, on bool) error {
	switch {
	case req.Target.Meter != "" && req.Target.Terminal != "":
		return fmt.Errorf("%w: target names both a meter and a terminal", ErrBadRequest)
	case req.Target.Meter != "":
		m, ok := f.Meter(req.Target.Meter)
		if !ok {
			return fmt.Errorf("%w: meter %q", ErrNotFound, req.Target.Meter)
		}
		param, err := meterParam(req.Params, req.Fault)
		if err != nil {
			return err
		}
		if err := m.SetFault(req.Fault, on, param, time.Now()); err != nil {
			return fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
	case req.Target.Terminal != "":
		t, ok := f.Terminal(req.Target.Terminal)
		if !ok {
			return fmt.Errorf("%w: terminal %q", ErrNotFound, req.Target.Terminal)
		}
		rate, err := rateParam(req.Params, req.Fault)
		if err != nil {
			return err
		}
		if err := t.SetFault(req.Fault, on, rate); err != nil {
			return fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
	default:
		return fmt.Errorf("%w: target needs a meter or a terminal", ErrBadRequest)
	}
	f.log.Info("fault switched", zap.String("fault", req.Fault), zap.Bool("on", on),
		zap.String("meter", req.Target.Meter), zap.String("terminal", req.Target.Terminal))
	return nil
}

// Bounds of the fault parameters. A slow meter must still reply within a test run. The
// clock offset bound only rejects typing mistakes: a DL/T 645 date has a two-digit year,
// so offsets that leave 2000–2099 already show as wrapped dates.
const (
	maxSlowDelay  = 10 * time.Minute
	maxClockSkew  = 50 * 365 * 24 * time.Hour
	paramDelay    = "delay"
	paramOffset   = "offset"
	paramRate     = "rate"
	noParamsFault = ""
)

// paramKey returns the one parameter name fault takes, or noParamsFault.
func paramKey(fault string) string {
	switch fault {
	case meter.FaultSlow:
		return paramDelay
	case meter.FaultClockSkew:
		return paramOffset
	case terminal.FaultCorrupt:
		return paramRate
	}
	return noParamsFault
}

// checkParamKeys rejects parameters that fault does not take, such as a misspelt "dealy",
// so that a caller never believes a parameter was applied when it was ignored.
func checkParamKeys(params map[string]any, fault string) error {
	want := paramKey(fault)
	for k := range params {
		if k != want {
			if want == noParamsFault {
				return fmt.Errorf("%w: fault %q takes no params, got params.%s", ErrBadRequest,
					fault, k)
			}
			return fmt.Errorf("%w: fault %q takes only params.%s, got params.%s", ErrBadRequest,
				fault, want, k)
		}
	}
	return nil
}

// meterParam returns the delay (slow) or offset (clock_skew) parameter of a meter fault, 0
// if absent. A delay must be positive and at most maxSlowDelay, an offset at most
// maxClockSkew either way.
func meterParam(params map[string]any, fault string) (time.Duration, error) {
	if err := checkParamKeys(params, fault); err != nil {
		return 0, err
	}
	key := paramKey(fault)
	v, ok := params[key]
	if !ok || key == noParamsFault {
		return 0, nil
	}
	d, err := durationValue(v, key)
	if err != nil {
		return 0, err
	}
	switch {
	case key == paramDelay && (d <= 0 || d > maxSlowDelay):
		return 0, fmt.Errorf("%w: params.delay %v is out of range; want more than 0 and at most %v",
			ErrBadRequest, d, maxSlowDelay)
	case key == paramOffset && (d < -maxClockSkew || d > maxClockSkew):
		return 0, fmt.Errorf("%w: params.offset %v is out of range; want at most %v either way",
			ErrBadRequest, d, maxClockSkew)
	}
	return d, nil
}

// durationValue converts a Go duration string or a number of seconds to a duration.
// Numbers beyond the duration range are rejected rather than wrapped.
func durationValue(v any, key string) (time.Duration, error) {
	switch x := v.(type) {
	case string:
		d, err := time.ParseDuration(x)
		if err != nil {
			return 0, fmt.Errorf("%w: params.%s %q is not a duration such as 2s", ErrBadRequest,
				key, x)
		}
		return d, nil
	case float64:
		if math.IsNaN(x) || math.Abs(x) > float64(math.MaxInt64/int64(time.Second)) {
			return 0, fmt.Errorf("%w: params.%s %v seconds is out of range", ErrBadRequest, key, x)
		}
		return time.Duration(x * float64(time.Second)), nil
	case int: // from YAML scenarios
		return durationValue(float64(x), key)
	}
	return 0, fmt.Errorf("%w: params.%s must be a duration string or seconds", ErrBadRequest, key)
}

// rateParam returns the rate parameter of a terminal fault, 0 if absent. A rate must be
// a number with 0 < rate ≤ 1.
func rateParam(params map[string]any, fault string) (float64, error) {
	if err := checkParamKeys(params, fault); err != nil {
		return 0, err
	}
	if _, ok := params[paramRate]; !ok {
		return 0, nil
	}
	rate, err := numberParam(params, paramRate)
	if err != nil {
		return 0, err
	}
	if !(rate > 0 && rate <= 1) { // also catches NaN
		return 0, fmt.Errorf("%w: params.rate %v is out of range; want more than 0 and at most 1",
			ErrBadRequest, rate)
	}
	return rate, nil
}

func numberParam(params map[string]any, key string) (float64, error) {
	v, ok := params[key]
	if !ok {
		return 0, nil
	}
	switch x := v.(type) {
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case string:
		n, err := strconv.ParseFloat(x, 64)
		if err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%w: params.%s must be a number", ErrBadRequest, key)
}

// MeterView is a meter's physical state with where it sits in the fleet.
type MeterView struct {
	meter.State
	Terminal string `json:"terminal,omitempty"`
	Point    int    `json:"point,omitempty"`
	Bus      string `json:"bus,omitempty"`
	Unit     int    `json:"modbus_unit,omitempty"`
}

func (f *Fleet) view(sm *simMeter, now time.Time) MeterView {
	v := MeterView{State: sm.m.State(now), Terminal: sm.terminal, Point: int(sm.point),
		Unit: int(sm.unit)}
	if sm.bus != 0 {
		v.Bus = f.buses[sm.bus-1].name
	}
	return v
}

// ForwardTotals sums the forwarding figures of every terminal, for a benchmark's physical
// limit: the mean time a forward spends on the channel, in the meter and on the line.
type ForwardTotals struct {
	Forwards      int64   `json:"forwards"`
	MeanLatencyMs float64 `json:"mean_latency_ms"`
	MeanMeterMs   float64 `json:"mean_meter_ms"`
	MeanBytesMs   float64 `json:"mean_bytes_ms"`
	MeanTotalMs   float64 `json:"mean_total_ms"`
}

// Totals returns the fleet's forwarding totals.
func (f *Fleet) Totals() ForwardTotals {
	var t ForwardTotals
	var lat, met, byt float64
	for _, term := range f.terminals {
		s := term.Stats()
		t.Forwards += s.Forwards
		lat += s.LatencyMs
		met += s.MeterMs
		byt += s.BytesMs
	}
	if t.Forwards > 0 {
		n := float64(t.Forwards)
		t.MeanLatencyMs, t.MeanMeterMs, t.MeanBytesMs = lat/n, met/n, byt/n
		t.MeanTotalMs = (lat + met + byt) / n
	}
	return t
}

// Handler returns the control API:
//
//	GET  /terminals, /terminals/{a1a2}        terminal state
//	POST /terminals/{a1a2}/power {"on": bool} power off or on (ERC14 follows)
//	GET  /meters?terminal=A1A2, /meters/{address} physical meter state
//	POST /meters/{address}/button             press the meter's button
//	PUT, DELETE /faults                       switch a fault on or off (FaultRequest)
//	GET  /stats                               forwarding totals (ForwardTotals)
func (f *Fleet) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /terminals", f.listTerminals)
	mux.HandleFunc("GET /terminals/{a1a2}", f.getTerminal)
	mux.HandleFunc("POST /terminals/{a1a2}/power", f.powerTerminal)
	mux.HandleFunc("GET /meters", f.listMeters)
	mux.HandleFunc("GET /meters/{address}", f.getMeter)
	mux.HandleFunc("POST /meters/{address}/button", f.pressButton)
	mux.HandleFunc("PUT /faults", f.faultHandler(true))
	mux.HandleFunc("DELETE /faults", f.faultHandler(false))
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, f.Totals())
	})
	return mux
}

func (f *Fleet) listTerminals(w http.ResponseWriter, r *http.Request) {
	out := make([]terminal.State, 0, len(f.terminals))
	for _, t := range f.terminals {
		out = append(out, t.State())
	}
	writeJSON(w, http.StatusOK, out)
}

func (f *Fleet) getTerminal(w http.ResponseWriter, r *http.Request) {
	t, ok := f.Terminal(r.PathValue("a1a2"))
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no such terminal", "a1a2")
		return
	}
	writeJSON(w, http.StatusOK, t.State())
}

func (f *Fleet) powerTerminal(w http.ResponseWriter, r *http.Request) {
	t, ok := f.Terminal(r.PathValue("a1a2"))
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no such terminal", "a1a2")
		return
	}
	var body struct {
		On *bool `json:"on"`
	}
	if err := decodeBody(w, r, &body); err != nil || body.On == nil {
		writeError(w, http.StatusBadRequest, "invalid", `body must be {"on": true|false}`, "on")
		return
	}
	t.SetPower(*body.On)
	f.log.Info("terminal power switched", zap.String("terminal", t.Address().String()),
		zap.Bool("on", *body.On))
	writeJSON(w, http.StatusOK, t.State())
}

func (f *Fleet) listMeters(w http.ResponseWriter, r *http.Request) {
	term := r.URL.Query().Get("terminal")
	now := time.Now()
	out := []MeterView{}
	for _, sm := range f.order {
		if term == "" || sm.terminal == term {
			out = append(out, f.view(sm, now))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (f *Fleet) getMeter(w http.ResponseWriter, r *http.Request) {
	sm, ok := f.meters[r.PathValue("address")]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no such meter", "address")
		return
	}
	writeJSON(w, http.StatusOK, f.view(sm, time.Now()))
}

func (f *Fleet) pressButton(w http.ResponseWriter, r *http.Request) {
	sm, ok := f.meters[r.PathValue("address")]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no such meter", "address")
		return
	}
	now := time.Now()
	closed := sm.m.PressButton(now)
	f.log.Info("meter button pressed", zap.String("meter", r.PathValue("address")),
		zap.Bool("closed", closed))
	writeJSON(w, http.StatusOK, map[string]any{"closed": closed, "meter": f.view(sm, now)})
}

// faultHandler returns the handler of PUT (on) or DELETE (off) /faults.
func (f *Fleet) faultHandler(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req FaultRequest
		if err := decodeBody(w, r, &req); err != nil {
			writeError(w, http.StatusBadRequest, "invalid", "invalid JSON: "+err.Error(), "")
			return
		}
		if err := f.SetFault(req, on); err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, ErrNotFound) {
				status = http.StatusNotFound
			}
			f.log.Info("fault request rejected", zap.Error(err))
			writeError(w, status, "invalid", err.Error(), "target")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"fault": req.Fault, "on": on,
			"target": req.Target})
	}
}

// maxControlBody bounds a control API request body; the largest valid one, a fault with
// its parameters, is a few hundred bytes.
const maxControlBody = 64 << 10

// decodeBody decodes one JSON value of at most maxControlBody bytes from the request body.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	return json.NewDecoder(http.MaxBytesReader(w, r.Body, maxControlBody)).Decode(v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message, field string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{
		"code": code, "message": message, "field": field}})
}
