package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
)

// adminBodyLimit bounds admin request bodies; they are a few fields.
const adminBodyLimit = 64 << 10

// decodeAdminBody decodes the JSON object of an admin request into v,
// refusing unknown fields (a misspelt field in an admin call must be an
// error, not silently nothing) and anything after the object. The body is
// bounded by adminBodyLimit (413 beyond). emptyOK accepts an empty body,
// leaving v as it is (routes whose fields are all optional).
func decodeAdminBody(c *gin.Context, v any, emptyOK bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, adminBodyLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(adminBodyLimit)
		}
		return gateway.Errorf(gateway.CodeInvalidJSON, "request body could not be read")
	}
	if emptyOK && len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			if field, qerr := strconv.Unquote(name); qerr == nil {
				// Named with a suggestion, as the gateway bodies are.
				return gateway.UnknownFields(gateway.CodeInvalidJSON, []string{field}, jsonFieldNames(v))
			}
		}
		return gateway.Errorf(gateway.CodeInvalidJSON, "invalid JSON body: %v", err)
	}
	if dec.More() {
		return gateway.Errorf(gateway.CodeInvalidJSON, "invalid JSON body: more than one value")
	}
	return nil
}

// jsonFieldNames lists the JSON names of the fields of the struct v points
// to: the candidates for a misspelt admin field.
func jsonFieldNames(v any) []string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}
