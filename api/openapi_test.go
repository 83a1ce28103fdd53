package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	vErrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"gopkg.in/yaml.v3"
)

// The contract checks: api/openapi.yaml is valid OpenAPI 3.1, its paths and
// methods are exactly the route table's, docs/api.md covers each of them, and
// every request and response of the API tests is checked against it (serve,
// wired into the harness's do and the other request helpers).

// contract is the parsed api/openapi.yaml and its validator, built once per
// test binary (building compiles every schema).
var contract = sync.OnceValues(func() (*contractDoc, error) {
	doc, err := libopenapi.NewDocument(openAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("parse openapi.yaml: %w", err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("build the OpenAPI 3 model: %w", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return nil, fmt.Errorf("build the validator: %v", errs)
	}
	return &contractDoc{doc: doc, model: &model.Model, v: v}, nil
})

type contractDoc struct {
	doc   libopenapi.Document
	model *v3.Document
	// mu serialises the validator: its caches are shared, and API tests
	// call serve from many goroutines.
	mu sync.Mutex
	v  validator.Validator
}

func mustContract(t testing.TB) *contractDoc {
	t.Helper()
	c, err := contract()
	if err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	return c
}

// operations lists "METHOD /path" for every operation of the document.
func (c *contractDoc) operations() []string {
	var out []string
	for path, item := range c.model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIDocumentIsValid validates api/openapi.yaml against the OpenAPI
// 3.1 schema (libopenapi-validator) and checks that every $ref resolves.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	c := mustContract(t)
	if v := c.doc.GetVersion(); v != "3.1.0" {
		t.Errorf("openapi version: got %q, want 3.1.0", v)
	}
	c.mu.Lock()
	ok, errs := c.v.ValidateDocument()
	c.mu.Unlock()
	if !ok {
		for _, e := range errs {
			t.Errorf("openapi.yaml is not valid OpenAPI 3.1: %s", describe(e))
		}
	}
	for _, e := range c.doc.GetRolodex().GetRootIndex().GetReferenceIndexErrors() {
		t.Errorf("openapi.yaml: %v", e)
	}
}

// TestOpenAPIServed: GET /openapi.yaml is the embedded file byte for byte,
// and GET /openapi.json is the same document as JSON.
func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t)
	y := h.do("GET", "/openapi.yaml", "", "").want(t, 200)
	if !bytes.Equal(y.Body, openAPIYAML) {
		t.Error("/openapi.yaml is not the embedded document")
	}
	if ct := y.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/yaml") {
		t.Errorf("/openapi.yaml Content-Type: got %q, want application/yaml", ct)
	}
	j := h.do("GET", "/openapi.json", "", "").want(t, 200)
	var got, fromYAML, want any
	if err := json.Unmarshal(j.Body, &got); err != nil {
		t.Fatalf("/openapi.json: %v", err)
	}
	if err := yaml.Unmarshal(openAPIYAML, &fromYAML); err != nil {
		t.Fatal(err)
	}
	// Through JSON once, so both sides have JSON's types.
	b, err := json.Marshal(fromYAML)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Error("/openapi.json is not openapi.yaml as JSON")
	}
	if v := got.(map[string]any)["openapi"]; v != "3.1.0" {
		t.Errorf("/openapi.json: openapi %v, want 3.1.0", v)
	}
}

// TestYAMLToJSONKeepsOrderAndTypes: the conversion keeps key order, scalar
// types, and follows anchors.
func TestYAMLToJSONKeepsOrderAndTypes(t *testing.T) {
	give := "b: 1\na: [true, null, 2.5, 'x', \"010\"]\nc: &x {z: q}\nd: *x\n'200': ok\n"
	got, err := yamlToJSON([]byte(give))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"b":1,"a":[true,null,2.5,"x","010"],"c":{"z":"q"},"d":{"z":"q"},"200":"ok"}`
	if string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// ginParam matches a gin path parameter.
var ginParam = regexp.MustCompile(`:([A-Za-z_][A-Za-z0-9_]*)`)

// TestOpenAPIMatchesRouteTable: the document's paths and methods are
// exactly the route table's (gin :param written {param}), aliases and /db
// included. The failure lists each difference.
func TestOpenAPIMatchesRouteTable(t *testing.T) {
	c := mustContract(t)
	_, s := routeHarness(t)
	var table []string
	for _, r := range s.routes {
		for _, m := range r.Methods {
			table = append(table, m+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
		}
	}
	sort.Strings(table)
	doc := c.operations()
	var onlyTable, onlyDoc []string
	for _, op := range table {
		if !slices.Contains(doc, op) {
			onlyTable = append(onlyTable, op)
		}
	}
	for _, op := range doc {
		if !slices.Contains(table, op) {
			onlyDoc = append(onlyDoc, op)
		}
	}
	if len(onlyTable) > 0 {
		t.Errorf("%d routes are in api/routes.go but not in api/openapi.yaml:\n  %s", len(onlyTable), strings.Join(onlyTable, "\n  "))
	}
	if len(onlyDoc) > 0 {
		t.Errorf("%d operations are in api/openapi.yaml but not in api/routes.go:\n  %s", len(onlyDoc), strings.Join(onlyDoc, "\n  "))
	}
}

// TestDocsCoverOpenAPI: docs/api.md names every path and method of the
// document as "METHOD /path" (a /db path is covered by its plain path, as
// the document says every route is also served under /db).
func TestDocsCoverOpenAPI(t *testing.T) {
	c := mustContract(t)
	md, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatalf("docs/api.md: %v", err)
	}
	text := string(md)
	if !strings.Contains(text, "/db") {
		t.Error("docs/api.md does not mention the /db prefix")
	}
	// "GET|POST /x" in the docs names both methods.
	named := map[string]bool{}
	for _, m := range regexp.MustCompile("`((?:GET|POST|PUT|PATCH|DELETE)(?:\\|(?:GET|POST|PUT|PATCH|DELETE))*) (/[^`\\s?]*)").FindAllStringSubmatch(text, -1) {
		for _, method := range strings.Split(m[1], "|") {
			named[method+" "+m[2]] = true
		}
	}
	for _, op := range c.operations() {
		method, path, _ := strings.Cut(op, " ")
		if rest, ok := strings.CutPrefix(path, "/db/"); ok {
			path = "/" + rest
		}
		if !named[method+" "+path] {
			t.Errorf("docs/api.md does not describe `%s %s`", method, path)
		}
	}
}

// serve runs req through h and checks both against api/openapi.yaml: every
// API test that sends its requests through the harness (do, doHost, call)
// checks the contract as a side effect. The rules:
//
//   - a path and method the document does not describe is not checked here
//     (test-only routes such as /probe, and 404/405 answers);
//     TestOpenAPIMatchesRouteTable keeps the real routes all described;
//   - every response must match the document (status, headers, body);
//   - a request the document rejects must not succeed: when the server
//     answers 2xx or 3xx to it, the document is narrower than the server.
//
// Failures are t.Errorf, so serve is safe from many goroutines.
func serve(t testing.TB, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	check := req.Clone(req.Context())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	c, err := contract()
	if err != nil { // Errorf, not Fatalf: serve runs on many goroutines
		t.Errorf("api/openapi.yaml: %v", err)
		return rec
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	check.Body = io.NopCloser(bytes.NewReader(body))
	reqOK, reqErrs := c.v.ValidateHttpRequestSync(check)
	if !reqOK && unknownRoute(reqErrs) {
		return rec
	}
	res := rec.Result()
	res.Body = io.NopCloser(bytes.NewReader(rec.Body.Bytes()))
	check.Body = io.NopCloser(bytes.NewReader(body))
	if ok, errs := c.v.ValidateHttpResponse(check, res); !ok {
		for _, e := range errs {
			t.Errorf("openapi: %s %s answered %d, which api/openapi.yaml does not allow: %s\nbody: %.600s", req.Method, req.URL, rec.Code, describe(e), rec.Body.Bytes())
		}
	}
	if !reqOK && rec.Code < 400 {
		for _, e := range reqErrs {
			t.Errorf("openapi: %s %s succeeded (%d) but api/openapi.yaml rejects the request: %s\nrequest body: %.600s", req.Method, req.URL, rec.Code, describe(e), body)
		}
	}
	return rec
}

// unknownRoute reports whether the request failed only for lack of a path
// or method in the document.
func unknownRoute(errs []*vErrors.ValidationError) bool {
	for _, e := range errs {
		if e.ValidationType == helpers.PathValidation && (e.ValidationSubType == helpers.ValidationMissing || e.ValidationSubType == helpers.ValidationMissingOperation) {
			return true
		}
	}
	return false
}

// describe words a validation error with its schema failures.
func describe(e *vErrors.ValidationError) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Message, e.Reason)
	for _, f := range e.SchemaValidationErrors {
		fmt.Fprintf(&b, "\n    at %s: %s", f.FieldPath, f.Reason)
	}
	return b.String()
}

// recordTB is a testing.TB that keeps what serve reports.
type recordTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordTB) Helper() {}

func (r *recordTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestServeChecksTheContract: serve reports a response the document does
// not allow and a request it rejects that the server accepted, and stays
// quiet for a conforming exchange and for paths it does not describe.
func TestServeChecksTheContract(t *testing.T) {
	answer := func(status int, body string, headers ...string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Request-Id", "r1")
			for i := 0; i+1 < len(headers); i += 2 {
				w.Header().Set(headers[i], headers[i+1])
			}
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		})
	}
	cached := []string{"X-Athena-Cached", "false", "X-Athena-Cache-Outcome", "miss"}
	fetchOK := `{"status":"success","message":"Fetched 0 rows","data":[],"cache_key":"ab"}`
	for _, tt := range []struct {
		name    string
		h       http.Handler
		method  string
		path    string
		body    string
		wantErr string
	}{
		{"conforming fetch", answer(200, fetchOK, cached...), "POST", "/gateway/fetch", `{"table_name":"users"}`, ""},
		{"conforming error", answer(400, `{"status":"error","message":"m","error":"e","code":"invalid_json","data":{"operation":"fetch","details":{}}}`), "POST", "/gateway/fetch", `{`, ""},
		{"data not rows", answer(200, `{"status":"success","message":"m","data":{}}`, cached...), "POST", "/gateway/fetch", `{"table_name":"users"}`, "does not allow"},
		{"missing cache header", answer(200, fetchOK), "POST", "/gateway/fetch", `{"table_name":"users"}`, "X-Athena-Cached"},
		{"error without code", answer(404, `{"status":"error","message":"m","error":"e","data":{"operation":"fetch","details":{}}}`), "POST", "/gateway/fetch", `{"table_name":"users"}`, "does not allow"},
		{"rejected request accepted", answer(201, `{"status":"success","message":"m","data":[],"count":0}`), "PUT", "/gateway/insert", `{"insert_body":{"a":1}}`, "rejects the request"},
		{"unknown path", answer(200, `nonsense`), "POST", "/probe", `{}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordTB{TB: t}
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			serve(rec, tt.h, req)
			got := strings.Join(rec.errs, "\n")
			switch {
			case tt.wantErr == "" && got != "":
				t.Errorf("reported:\n%s", got)
			case tt.wantErr != "" && !strings.Contains(got, tt.wantErr):
				t.Errorf("reported %q, want a report containing %q", got, tt.wantErr)
			}
		})
	}
}
