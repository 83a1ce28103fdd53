package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/athena-gateway/athena/gateway"
)

func TestContextHandlerAddsRequestIdentity(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewContextHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	ctx := gateway.WithRequestInfo(context.Background(), &gateway.RequestInfo{RequestID: "r1", Client: "demo", KeyID: "k1", UserID: "u1"})
	log.InfoContext(ctx, "hello")
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"request_id": "r1", "client": "demo", "key_id": "k1", "user_id": "u1", "component": "test"} {
		if got[k] != want {
			t.Errorf("%s: got %v, want %q", k, got[k], want)
		}
	}
	if _, ok := got["organization_id"]; ok {
		t.Errorf("empty fields must be left out: %v", got)
	}
	buf.Reset()
	log.Info("no request")
	if bytes.Contains(buf.Bytes(), []byte("request_id")) {
		t.Errorf("request_id outside a request: %s", buf.Bytes())
	}
}
