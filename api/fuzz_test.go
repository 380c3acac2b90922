package api_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feegate/feegate/api"
	"github.com/feegate/feegate/archive"
	"github.com/feegate/feegate/gateway"
	"github.com/feegate/feegate/gateway/gatewaytest"
)

// FuzzSubmitCommandBody posts arbitrary bodies to POST /v1/commands. Every response has one
// of the documented statuses with the JSON error shape, never a 500.
func FuzzSubmitCommandBody(f *testing.F) {
	store, err := gateway.OpenStore(filepath.Join(f.TempDir(), "fuzz.db"), time.Millisecond)
	if err != nil {
		f.Fatal(err)
	}
	fake := gatewaytest.New()
	e, err := gateway.Open(gateway.Options{Config: gateway.DefaultConfig(), Store: store,
		Drivers: map[string]gateway.Driver{gateway.RouteTerminal: fake}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		e.Close(ctx)
		store.Close()
	})
	a, err := archive.DecodeJSON(strings.NewReader(archiveJSON))
	if err != nil {
		f.Fatal(err)
	}
	if _, err := e.ImportArchive(a, false); err != nil {
		f.Fatal(err)
	}
	h := api.New(api.Options{Engine: e, Tokens: []string{token}})
	f.Add(`{"target": {"meter": "000000000001"}, "action": "ping"}`)
	f.Add(`{"target": {"terminal": "44010001", "turn": 1}, "action": "trip", "force": true}`)
	f.Add(`{"target": {"meter": "000000000004"}, "action": "read", "items": ["power"],
		"deadline": "2099-01-01T00:00:00Z", "idempotency_key": "k"}`)
	f.Add(`{"target": {}, "action": 5}`)
	allowed := map[int]bool{200: true, 202: true, 400: true, 409: true, 413: true, 422: true}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/v1/commands", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !allowed[rec.Code] {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
		if rec.Code >= 400 {
			var er struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &er); err != nil ||
				er.Error.Code == "" {
				t.Fatalf("error body %q for %q", rec.Body.String(), body)
			}
		}
	})
}
