package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/protocol"
)

// commandBody is the wire form of a command request; the deadline is parsed here so a
// bad one is reported with its field.
type commandBody struct {
	Target         gateway.Target `json:"target"`
	Action         gateway.Action `json:"action"`
	Items          []string       `json:"items"`
	Deadline       string         `json:"deadline"`
	Operator       string         `json:"operator"`
	Force          bool           `json:"force"`
	IdempotencyKey string         `json:"idempotency_key"`
}

type batchBody struct {
	Action         gateway.Action `json:"action"`
	Meters         []string       `json:"meters"`
	Items          []string       `json:"items"`
	Deadline       string         `json:"deadline"`
	Operator       string         `json:"operator"`
	Force          bool           `json:"force"`
	IdempotencyKey string         `json:"idempotency_key"`
}

// decodeBody reads one JSON object of at most limit bytes into v, rejecting unknown
// fields. It writes the error response itself and returns false on any problem.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
				"Content-Type", "send application/json, not %q", ct)
			return false
		}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var dec *json.Decoder
	if err == nil {
		dec = json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		err = dec.Decode(v)
	}
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON object")
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "",
			"request body is larger than %d bytes", limit)
	case errors.As(err, &typeErr):
		writeError(w, http.StatusBadRequest, "invalid_request", typeErr.Field,
			"%s must be a JSON %s, not %s", typeErr.Field, typeErr.Type, typeErr.Value)
	case errors.As(err, &syntaxErr):
		writeError(w, http.StatusBadRequest, "invalid_json", "",
			"invalid JSON at byte %d: %v", syntaxErr.Offset, err)
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, "invalid_json", "", "empty request body")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		field, ok := unknownFieldPath(data, reflect.TypeOf(v).Elem(), name)
		if !ok {
			field = name
		}
		writeError(w, http.StatusBadRequest, "invalid_request", field, "unknown field %q",
			field)
	default:
		writeError(w, http.StatusBadRequest, "invalid_json", "", "%v", err)
	}
	return false
}

// unknownFieldPath returns the JSON path (target.colour) of a key named name in data that
// struct type t has no field for, because encoding/json reports only the key itself.
func unknownFieldPath(data []byte, t reflect.Type, name string) (string, bool) {
	var obj map[string]json.RawMessage
	if t.Kind() != reflect.Struct || json.Unmarshal(data, &obj) != nil {
		return "", false
	}
	for key, raw := range obj {
		f, known := jsonField(t, key)
		if !known {
			if key == name {
				return key, true
			}
			continue
		}
		if path, ok := unknownFieldPath(raw, f.Type, name); ok {
			return key + "." + path, true
		}
	}
	return "", false
}

// jsonField returns the field of t that encoding/json fills from key, which it matches
// without regard to case.
func jsonField(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "" {
			tag = f.Name
		}
		if strings.EqualFold(tag, key) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func parseDeadline(w http.ResponseWriter, s string) (*time.Time, bool) {
	if s == "" {
		return nil, true
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "deadline",
			"deadline %q is not an RFC 3339 time such as 2026-12-04T18:00:00+08:00", s)
		return nil, false
	}
	return &t, true
}

func (s *Server) submitCommand(w http.ResponseWriter, r *http.Request) {
	var body commandBody
	if !decodeBody(w, r, maxCommandBody, &body) {
		return
	}
	deadline, ok := parseDeadline(w, body.Deadline)
	if !ok {
		return
	}
	cmd, existing, err := s.engine.Submit(gateway.Request{Target: body.Target,
		Action: body.Action, Items: body.Items, Deadline: deadline, Operator: body.Operator,
		Force: body.Force, IdempotencyKey: body.IdempotencyKey})
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeSubmitted(w, "/v1/commands/"+cmd.ID, existing, cmd)
}

func (s *Server) getCommand(w http.ResponseWriter, r *http.Request) {
	cmd, err := s.engine.Get(r.PathValue("id"))
	s.writeResult(w, r, cmd, err)
}

func (s *Server) cancelCommand(w http.ResponseWriter, r *http.Request) {
	cmd, err := s.engine.Cancel(r.PathValue("id"))
	s.writeResult(w, r, cmd, err)
}

// listPage is the shape of every list.
type listPage[T any] struct {
	Items []T     `json:"items"`
	Next  *string `json:"next"`
}

func parseLimit(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 100, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		writeError(w, http.StatusBadRequest, "invalid_request", "limit",
			"limit %q must be a whole number from 1 to 1000", v)
		return 0, false
	}
	return n, true
}

func nextCursor(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (s *Server) listCommands(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := parseLimit(w, r)
	if !ok {
		return
	}
	f := gateway.Filter{State: gateway.State(q.Get("state")), Meter: q.Get("meter"),
		Batch: q.Get("batch"), Limit: limit, Cursor: q.Get("cursor")}
	if f.State != "" && !f.State.Valid() {
		writeError(w, http.StatusBadRequest, "invalid_request", "state",
			"unknown state %q", f.State)
		return
	}
	if f.Meter != "" && !isDigits(f.Meter, 12) {
		writeError(w, http.StatusBadRequest, "invalid_request", "meter",
			"meter %q must be 12 digits", f.Meter)
		return
	}
	if f.Cursor != "" && !validID(f.Cursor, 'c') {
		writeError(w, http.StatusBadRequest, "invalid_request", "cursor",
			"cursor %q is not a cursor returned by this list", f.Cursor)
		return
	}
	cmds, next, err := s.engine.List(f)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if cmds == nil {
		cmds = []*gateway.Command{}
	}
	writeJSON(w, http.StatusOK, listPage[*gateway.Command]{Items: cmds, Next: nextCursor(next)})
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func validID(s string, prefix byte) bool {
	if len(s) != 17 || s[0] != prefix {
		return false
	}
	_, err := strconv.ParseUint(s[1:], 16, 64)
	return err == nil
}

func (s *Server) submitBatch(w http.ResponseWriter, r *http.Request) {
	var body batchBody
	if !decodeBody(w, r, maxBatchBody, &body) {
		return
	}
	deadline, ok := parseDeadline(w, body.Deadline)
	if !ok {
		return
	}
	b, existing, err := s.engine.SubmitBatch(gateway.BatchRequest{Action: body.Action,
		Meters: body.Meters, Items: body.Items, Deadline: deadline, Operator: body.Operator,
		Force: body.Force, IdempotencyKey: body.IdempotencyKey})
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeSubmitted(w, "/v1/batches/"+b.ID, existing, b)
}

// writeSubmitted writes the response to a submission: 202 with the new resource, or 200
// with the one an idempotency key already created.
func writeSubmitted(w http.ResponseWriter, location string, existing bool, v any) {
	status := http.StatusAccepted
	if existing {
		status = http.StatusOK
	}
	w.Header().Set("Location", location)
	writeJSON(w, status, v)
}

// writeResult writes v with 200, or the error response of err.
func (s *Server) writeResult(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) getBatch(w http.ResponseWriter, r *http.Request) {
	b, err := s.engine.Batch(r.PathValue("id"))
	s.writeResult(w, r, b, err)
}

func (s *Server) cancelBatch(w http.ResponseWriter, r *http.Request) {
	b, err := s.engine.CancelBatch(r.PathValue("id"))
	s.writeResult(w, r, b, err)
}

func (s *Server) listTerminals(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := parseLimit(w, r)
	if !ok {
		return
	}
	var online *bool
	if v := q.Get("online"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", "online",
				"online %q must be true or false", v)
			return
		}
		online = &b
	}
	cursor := q.Get("cursor")
	all := s.engine.Terminals(online)
	items := make([]gateway.TerminalInfo, 0, limit)
	next := ""
	for _, t := range all {
		if cursor != "" && t.Address <= cursor {
			continue
		}
		if len(items) == limit {
			next = items[len(items)-1].Address
			break
		}
		items = append(items, t)
	}
	writeJSON(w, http.StatusOK, listPage[gateway.TerminalInfo]{Items: items,
		Next: nextCursor(next)})
}

func (s *Server) getTerminal(w http.ResponseWriter, r *http.Request) {
	addr := r.PathValue("a1a2")
	parsed, err := protocol.ParseTerminalAddress(addr)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "a1a2",
			"terminal address %q must be A1 (4 digits) and A2 (4 hex digits, not 0000)",
			addr)
		return
	}
	t, err := s.engine.Terminal(parsed.String())
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) getMeter(w http.ResponseWriter, r *http.Request) {
	addr := r.PathValue("address")
	if !isDigits(addr, 12) {
		writeError(w, http.StatusBadRequest, "invalid_request", "address",
			"meter address %q must be 12 digits", addr)
		return
	}
	m, err := s.engine.Meter(addr)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (s *Server) putArchive(w http.ResponseWriter, r *http.Request) {
	mode := r.URL.Query().Get("mode")
	if mode != "" && mode != "merge" && mode != "replace" {
		writeError(w, http.StatusBadRequest, "invalid_request", "mode",
			"mode %q must be merge or replace", mode)
		return
	}
	mt := "application/json"
	if ct := r.Header.Get("Content-Type"); ct != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			mt = ct
		}
	}
	body := http.MaxBytesReader(w, r.Body, archive.MaxImportBytes)
	data, err := io.ReadAll(body)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "",
			"archive is larger than %d bytes", archive.MaxImportBytes)
		return
	}
	var a *archive.Archive
	switch mt {
	case "application/json":
		a, err = archive.DecodeJSON(bytes.NewReader(data))
	case "text/csv":
		a, err = archive.DecodeCSV(bytes.NewReader(data))
	default:
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Content-Type", "send application/json or text/csv, not %q", mt)
		return
	}
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	next, err := s.engine.ImportArchive(a, mode == "merge")
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"terminals": len(next.Terminals),
		"buses": len(next.Buses), "links": len(next.Links),
		"modbus_models": len(next.ModbusModels), "meters": len(next.Meters)})
}

func (s *Server) getArchive(w http.ResponseWriter, r *http.Request) {
	a := s.engine.Archive()
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		w.Header().Set("Content-Type", "application/json")
		_ = archive.EncodeJSON(w, a)
	case "csv":
		w.Header().Set("Content-Type", "text/csv")
		_ = archive.EncodeCSV(w, a.Meters)
	default:
		writeError(w, http.StatusBadRequest, "invalid_request", "format",
			"format %q must be json or csv", f)
	}
}
