package config

import (
	"os"
	"testing"
)

// TestExampleConfigLoads keeps config.example.yaml in step with the code:
// unknown keys are errors, so a renamed field breaks this test.
func TestExampleConfigLoads(t *testing.T) {
	if _, err := os.Stat("../config.example.yaml"); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load("../config.example.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	if cfg.API.Port != 4052 || cfg.Clients["demo"].URI == "" {
		t.Errorf("got %+v", cfg)
	}
	if cfg.Telemetry != Default().Telemetry {
		t.Errorf("telemetry: got %+v, want the defaults %+v", cfg.Telemetry, Default().Telemetry)
	}
}
