package app

import (
	"io"
	"log/slog"
	"testing"

	"go.uber.org/fx"

	"github.com/athena-gateway/athena/config"
)

func TestServeRoleValidates(t *testing.T) {
	p := Params{Config: config.Default(), Version: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := fx.ValidateApp(Serve(p)); err != nil {
		t.Fatalf("serve role does not validate: %v", err)
	}
}
