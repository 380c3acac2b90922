package api

import (
	"net/http"
	"strconv"
	"strings"
)

// openAPIDocument builds the OpenAPI 3.1 document from the route table, so the document
// lists exactly the routes the server registers.
func (s *Server) openAPIDocument() map[string]any {
	paths := map[string]any{}
	for _, rt := range s.routes {
		op := map[string]any{"summary": rt.summary,
			"operationId": operationID(rt.method, rt.path)}
		var params []any
		for _, seg := range strings.Split(rt.path, "/") {
			if strings.HasPrefix(seg, "{") {
				params = append(params, map[string]any{"name": strings.Trim(seg, "{}"),
					"in": "path", "required": true, "schema": map[string]string{"type": "string"}})
			}
		}
		for _, q := range rt.params {
			params = append(params, map[string]any{"name": q, "in": "query",
				"schema": map[string]string{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.body != "" {
			content := map[string]any{}
			for _, ct := range strings.Split(rt.body, ",") {
				content[ct] = map[string]any{"schema": map[string]string{"type": "object"}}
			}
			op["requestBody"] = map[string]any{"required": true, "content": content}
		}
		responses := map[string]any{}
		for _, code := range rt.responses {
			resp := map[string]any{"description": http.StatusText(code)}
			if code >= 400 {
				resp["content"] = map[string]any{"application/json": map[string]any{
					"schema": map[string]string{"$ref": "#/components/schemas/Error"}}}
			}
			responses[strconv.Itoa(code)] = resp
		}
		op["responses"] = responses
		if rt.auth {
			op["security"] = []any{map[string]any{"bearer": []string{}}}
		}
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "feegate API", "version": "1",
			"description": "Remote fee-control commands, batches, terminals, meters, " +
				"archive and events. docs/api.md describes every shape."},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]string{
				"type": "http", "scheme": "bearer"}},
			"schemas": map[string]any{"Error": map[string]any{
				"type": "object", "required": []string{"error"},
				"properties": map[string]any{"error": map[string]any{
					"type":     "object",
					"required": []string{"code", "message", "field"},
					"properties": map[string]any{
						"code":    map[string]string{"type": "string"},
						"message": map[string]string{"type": "string"},
						"field":   map[string]string{"type": "string"},
					}}}}},
		},
	}
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, seg := range strings.Split(path, "/") {
		seg = strings.Trim(seg, "{}")
		seg = strings.TrimSuffix(seg, ".json")
		if seg == "" || seg == "v1" {
			continue
		}
		b.WriteString(strings.ToUpper(seg[:1]) + seg[1:])
	}
	return b.String()
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.openAPIDocument())
}
