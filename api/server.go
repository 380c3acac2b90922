package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/feegate/feegate/gateway"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Request body limits. A batch of 100,000 meter addresses is about 1.6 MB of JSON.
const (
	maxCommandBody = 64 << 10
	maxBatchBody   = 8 << 20
)

// Options configure a Server.
type Options struct {
	Engine *gateway.Engine
	// Tokens are the accepted bearer tokens for /v1; empty accepts none, so every /v1
	// request gets 401.
	Tokens []string
	Logger *zap.Logger
	// Gatherer serves /metrics; nil serves the default registry.
	Gatherer prometheus.Gatherer
	// Ready reports whether the node is ready for traffic (/readyz); nil means always.
	Ready func() bool
}

// Server is the HTTP/JSON API. It is an http.Handler safe for concurrent use.
type Server struct {
	engine *gateway.Engine
	// tokens holds the SHA-256 digests of the accepted tokens, so that every comparison
	// runs over 32 bytes whatever the length of the presented token.
	tokens [][sha256.Size]byte
	log    *zap.Logger
	ready  func() bool
	mux    *http.ServeMux
	routes []route
}

// route is one row of the route table, which drives both the mux and the OpenAPI document.
type route struct {
	method  string
	path    string // OpenAPI form: /v1/commands/{id}
	auth    bool
	summary string
	handler http.HandlerFunc
	// params lists query parameters for the OpenAPI document.
	params []string
	// responses lists the status codes the route returns, for the OpenAPI document.
	responses []int
	body      string // request content types, comma separated; "" for none
}

// New builds the API server.
func New(opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{engine: opts.Engine, log: log, ready: opts.Ready, mux: http.NewServeMux()}
	for _, t := range opts.Tokens {
		if t != "" {
			s.tokens = append(s.tokens, sha256.Sum256([]byte(t)))
		}
	}
	gatherer := opts.Gatherer
	if gatherer == nil {
		gatherer = prometheus.DefaultGatherer
	}
	s.routes = s.routeTable(promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	for _, rt := range s.routes {
		h := rt.handler
		if rt.auth {
			h = s.authenticate(h)
		}
		s.mux.HandleFunc(rt.method+" "+rt.path, h)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "", "no route for %s %s; see "+
			"/openapi.json", r.Method, r.URL.Path)
	})
	return s
}

func (s *Server) routeTable(metrics http.Handler) []route {
	ok, created, bad, unauth := 200, 202, 400, 401
	notFound, conflict, unproc, tooLarge := 404, 409, 422, 413
	return []route{
		{"POST", "/v1/commands", true, "Submit a command", s.submitCommand, nil,
			[]int{ok, created, bad, unauth, conflict, tooLarge, unproc}, "application/json"},
		{"GET", "/v1/commands", true, "List commands", s.listCommands,
			[]string{"state", "meter", "batch", "limit", "cursor"}, []int{ok, bad, unauth}, ""},
		{"GET", "/v1/commands/{id}", true, "Read a command", s.getCommand, nil,
			[]int{ok, unauth, notFound}, ""},
		{"POST", "/v1/commands/{id}/cancel", true, "Cancel a command not yet sent",
			s.cancelCommand, nil, []int{ok, unauth, notFound, conflict}, ""},
		{"POST", "/v1/batches", true, "Submit a batch", s.submitBatch, nil,
			[]int{ok, created, bad, unauth, conflict, tooLarge, unproc}, "application/json"},
		{"GET", "/v1/batches/{id}", true, "Read a batch and its counts", s.getBatch, nil,
			[]int{ok, unauth, notFound}, ""},
		{"POST", "/v1/batches/{id}/cancel", true, "Cancel a batch's unsent commands",
			s.cancelBatch, nil, []int{ok, unauth, notFound}, ""},
		{"GET", "/v1/terminals", true, "List terminals with diagnostics", s.listTerminals,
			[]string{"online", "limit", "cursor"}, []int{ok, bad, unauth}, ""},
		{"GET", "/v1/terminals/{a1a2}", true, "Diagnose one terminal", s.getTerminal, nil,
			[]int{ok, bad, unauth, notFound}, ""},
		{"GET", "/v1/meters/{address}", true, "Read a meter's archive entry and last state",
			s.getMeter, nil, []int{ok, bad, unauth, notFound}, ""},
		{"PUT", "/v1/archive", true, "Import an archive (JSON or meters CSV)", s.putArchive,
			[]string{"mode"}, []int{ok, bad, unauth, tooLarge}, "application/json,text/csv"},
		{"GET", "/v1/archive", true, "Export the archive without passwords", s.getArchive,
			[]string{"format"}, []int{ok, unauth}, ""},
		{"GET", "/v1/events", true, "Server-sent events with Last-Event-ID resume", s.events,
			[]string{"last_event_id"}, []int{ok, unauth}, ""},
		{"GET", "/openapi.json", false, "This OpenAPI document", s.openAPI, nil, []int{ok}, ""},
		{"GET", "/metrics", false, "Prometheus metrics", metrics.ServeHTTP, nil, []int{ok}, ""},
		{"GET", "/healthz", false, "Liveness", s.healthz, nil, []int{ok}, ""},
		{"GET", "/readyz", false, "Readiness", s.readyz, nil, []int{ok, 503}, ""},
	}
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// authenticate checks the bearer token against every configured token in time that
// depends on neither the tokens nor their lengths.
func (s *Server) authenticate(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		// The scheme name is case-insensitive (RFC 7235, section 2.1).
		found := len(h) > len("Bearer ") && strings.EqualFold(h[:len("Bearer ")], "Bearer ")
		token := ""
		if found {
			token = h[len("Bearer "):]
		}
		// subtle.ConstantTimeCompare returns at once on a length mismatch, which would
		// reveal the token length, so digests are compared instead.
		digest := sha256.Sum256([]byte(token))
		match := 0
		for _, t := range s.tokens {
			match |= subtle.ConstantTimeCompare(digest[:], t[:])
		}
		if !found {
			match = 0
		}
		if match != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="feegate"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "Authorization",
				"missing or invalid bearer token")
			return
		}
		next(w, r)
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.ready != nil && !s.ready() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
