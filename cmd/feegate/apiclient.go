package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// defaultAPI is the API address of feegate serve when neither --api nor FEEGATE_API is set.
const defaultAPI = "http://127.0.0.1:8080"

// apiOptions are the flags every API client command takes.
type apiOptions struct {
	api     string
	token   string
	asJSON  bool
	timeout time.Duration
}

// addAPIFlags registers --api, --token, --json and --http-timeout on cmd.
func addAPIFlags(cmd *cobra.Command, o *apiOptions) {
	f := cmd.Flags()
	f.StringVar(&o.api, "api", "", "API base `URL` of feegate serve (default: FEEGATE_API, "+
		"else "+defaultAPI+")")
	f.StringVar(&o.token, "token", "", "bearer token for /v1 (default: FEEGATE_TOKEN)")
	f.BoolVar(&o.asJSON, "json", false, "print JSON objects, one per line")
	f.DurationVar(&o.timeout, "http-timeout", 30*time.Second, "timeout of each API request")
}

// apiClient calls the feegate HTTP API. It is safe for concurrent use, as http.Client is.
type apiClient struct {
	base  *url.URL
	token string
	http  *http.Client
}

// client builds the API client from the flags, then the environment, then the default.
func (o *apiOptions) client() (*apiClient, error) {
	raw := o.api
	if raw == "" {
		raw = os.Getenv("FEEGATE_API")
	}
	if raw == "" {
		raw = defaultAPI
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid API URL %q: use http://HOST:PORT", raw)
	}
	token := o.token
	if token == "" {
		token = os.Getenv("FEEGATE_TOKEN")
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	return &apiClient{base: u, token: token,
		http: &http.Client{Timeout: o.timeout, Transport: transport}}, nil
}

// close releases the idle connections of the client.
func (c *apiClient) close() { c.http.CloseIdleConnections() }

// apiError is an error response of the API: {"error": {"code", "message", "field"}}.
type apiError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("API returned %d %s: %s", e.Status, e.Code, e.Message)
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	if e.Status == http.StatusUnauthorized {
		msg += "; check --token or FEEGATE_TOKEN"
	}
	return msg
}

func (c *apiClient) url(path string, query url.Values) string {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query.Encode()
	return u.String()
}

// newRequest builds an authenticated request.
func (c *apiClient) newRequest(ctx context.Context, method, path string, query url.Values,
	body io.Reader, contentType string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, query), body)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// do sends one request and decodes a 2xx JSON body into out (a *json.RawMessage keeps it
// as sent). Other statuses return *apiError.
func (c *apiClient) do(ctx context.Context, method, path string, query url.Values,
	body io.Reader, contentType string, out any) (int, error) {
	req, err := c.newRequest(ctx, method, path, query, body, contentType)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s failed: %w (check --api and that feegate serve is "+
			"running)", method, c.url(path, nil), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read the response of %s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &apiError{Status: resp.StatusCode}
		var wrapper struct {
			Error *apiError `json:"error"`
		}
		wrapper.Error = e
		if json.Unmarshal(data, &wrapper) != nil || e.Code == "" {
			e.Code = "http_" + fmt.Sprint(resp.StatusCode)
			e.Message = strings.TrimSpace(string(data))
		}
		e.Status = resp.StatusCode
		return resp.StatusCode, e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode the response of %s %s: %w", method,
				path, err)
		}
	}
	return resp.StatusCode, nil
}

// doJSON sends in as a JSON body.
func (c *apiClient) doJSON(ctx context.Context, method, path string, in, out any) (int, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return 0, err
	}
	return c.do(ctx, method, path, nil, bytes.NewReader(body), "application/json", out)
}

// listPage is one page of a list route: {"items": [...], "next": CURSOR}.
type listPage struct {
	Items []json.RawMessage `json:"items"`
	Next  string            `json:"next"`
}

// list follows the cursors of a list route and calls fn with each item. It stops after
// max items when max > 0.
func (c *apiClient) list(ctx context.Context, path string, query url.Values, max int,
	fn func(json.RawMessage) error) error {
	seen := 0
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	for {
		var page listPage
		if _, err := c.do(ctx, http.MethodGet, path, q, nil, "", &page); err != nil {
			return err
		}
		for _, it := range page.Items {
			if err := fn(it); err != nil {
				return err
			}
			seen++
			if max > 0 && seen >= max {
				return nil
			}
		}
		if page.Next == "" || len(page.Items) == 0 {
			return nil
		}
		q.Set("cursor", page.Next)
	}
}

// sseEvent is one server-sent event.
type sseEvent struct {
	ID   string
	Type string
	Data []byte
}

// events opens /v1/events and calls fn with each event until fn returns done, ctx ends
// or the stream ends. It returns errStreamEnded when the server closes the stream.
// onOpen, when set, runs once the server has accepted the stream.
func (c *apiClient) events(ctx context.Context, lastID string, onOpen func(),
	fn func(sseEvent) (done bool, err error)) error {
	req, err := c.newRequest(ctx, http.MethodGet, "/v1/events", nil, nil, "")
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	// The stream stays open, so only the connection setup is bounded by the timeout.
	stream := &http.Client{Transport: c.http.Transport}
	resp, err := stream.Do(req)
	if err != nil {
		return fmt.Errorf("open the event stream failed: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &apiError{Status: resp.StatusCode, Code: "http_" + fmt.Sprint(resp.StatusCode),
			Message: "event stream unavailable"}
	}
	if onOpen != nil {
		onOpen()
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var ev sseEvent
	var data [][]byte
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if len(data) > 0 || ev.Type != "" {
				ev.Data = bytes.Join(data, []byte("\n"))
				done, err := fn(ev)
				if err != nil || done {
					return err
				}
			}
			ev, data = sseEvent{}, nil
			continue
		}
		if line[0] == ':' {
			continue
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(name) {
		case "id":
			ev.ID = string(value)
		case "event":
			ev.Type = string(value)
		case "data":
			data = append(data, append([]byte(nil), value...))
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("read the event stream: %w", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return errStreamEnded
}

// errStreamEnded means the server closed the event stream.
var errStreamEnded = errors.New("the API closed the event stream")

// printJSONLine writes raw JSON compacted on one line.
func printJSONLine(out io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := out.Write(buf.Bytes())
	return err
}
