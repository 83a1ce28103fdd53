package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestWorkerCommandFlags(t *testing.T) {
	var stderr bytes.Buffer
	if got := run([]string{"worker", "-h"}, io.Discard, &stderr); got != 0 {
		t.Errorf("worker -h: got exit code %d, want 0", got)
	}
	if !strings.Contains(stderr.String(), "-config") {
		t.Errorf("worker -h: got %q, want the flag list", stderr.String())
	}
	if got := run([]string{"worker", "extra"}, io.Discard, io.Discard); got != exitUsage {
		t.Errorf("worker extra: got exit code %d, want %d", got, exitUsage)
	}
}

func TestDevCommandHasTemporalFlags(t *testing.T) {
	var stderr bytes.Buffer
	run([]string{"dev", "-h"}, io.Discard, &stderr)
	for _, flag := range []string{"-persist", "-temporal-port", "-ui-port"} {
		if !strings.Contains(stderr.String(), flag) {
			t.Errorf("dev -h: no %s in %q", flag, stderr.String())
		}
	}
}
