package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/gateway"
	"go.uber.org/zap"
)

// errorBody is the JSON error shape of every endpoint.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
	// Problems lists every problem of a rejected archive import.
	Problems []problem `json:"problems,omitempty"`
}

type problem struct {
	Section string `json:"section"`
	Row     int    `json:"row,omitempty"`
	Key     string `json:"key,omitempty"`
	Field   string `json:"field,omitempty"`
	Value   string `json:"value,omitempty"`
	Reason  string `json:"reason"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, field, format string, args ...any) {
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Field: field,
		Message: fmt.Sprintf(format, args...)}})
}

// statusOf maps an engine or archive error to its HTTP status and error body.
func (s *Server) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var re *gateway.RequestError
	var ve *archive.ValidationError
	var fe *archive.FieldError
	switch {
	case errors.As(err, &re):
		status := http.StatusBadRequest
		switch {
		case errors.Is(err, gateway.ErrUnprocessable):
			status = http.StatusUnprocessableEntity
		case errors.Is(err, gateway.ErrConflict), errors.Is(err, gateway.ErrNotCancellable):
			status = http.StatusConflict
		case errors.Is(err, gateway.ErrNotFound):
			status = http.StatusNotFound
		}
		writeJSON(w, status, errorBody{Error: errorDetail{Code: re.Code, Field: re.Field,
			Message: re.Error()}})
	case errors.As(err, &ve):
		body := errorBody{Error: errorDetail{Code: "invalid_archive", Message: ve.Error()}}
		for _, p := range ve.Problems {
			body.Error.Problems = append(body.Error.Problems, problem{Section: p.Section,
				Row: p.Row, Key: p.Key, Field: p.Field, Value: p.Value, Reason: p.Reason})
		}
		if len(ve.Problems) > 0 {
			body.Error.Field = ve.Problems[0].Section + "." + ve.Problems[0].Field
		}
		writeJSON(w, http.StatusBadRequest, body)
	case errors.As(err, &fe):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: errorDetail{
			Code: "invalid_archive", Field: fe.Section + "." + fe.Field, Message: fe.Error()}})
	case errors.Is(err, gateway.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "unavailable", "",
			"the gateway is shutting down; retry on another node or later")
	default:
		s.log.Error("request failed", zap.String("path", r.URL.Path), zap.Error(err))
		writeError(w, http.StatusInternalServerError, "internal", "",
			"internal error; the gateway log has the details")
	}
}
