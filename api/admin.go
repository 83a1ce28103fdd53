package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

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
		return gateway.Errorf(gateway.CodeInvalidJSON, "invalid JSON body: %v", err)
	}
	if dec.More() {
		return gateway.Errorf(gateway.CodeInvalidJSON, "invalid JSON body: more than one value")
	}
	return nil
}
