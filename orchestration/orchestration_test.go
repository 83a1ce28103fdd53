package orchestration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/athena-gateway/athena/activities"
	"github.com/athena-gateway/athena/config"
)

func TestClientOptions(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	tests := []struct {
		name    string
		give    config.Temporal
		wantTLS bool
		wantErr string
	}{
		{"plaintext", config.Temporal{Address: "h:7233", Namespace: "ns"}, false, ""},
		{"mtls", config.Temporal{Address: "h:7233", Namespace: "ns", TLSCertFile: cert, TLSKeyFile: key, TLSCAFile: cert}, true, ""},
		{"ca only", config.Temporal{Address: "h:7233", Namespace: "ns", TLSCAFile: cert}, true, ""},
		{"missing cert", config.Temporal{Address: "h:7233", Namespace: "ns", TLSCertFile: filepath.Join(dir, "no.pem"), TLSKeyFile: key}, false, "client certificate"},
		{"ca without certificates", config.Temporal{Address: "h:7233", Namespace: "ns", TLSCAFile: key}, false, "no certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := ClientOptions(tt.give, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if opts.HostPort != tt.give.Address || opts.Namespace != tt.give.Namespace {
				t.Errorf("got %s/%s, want %s/%s", opts.HostPort, opts.Namespace, tt.give.Address, tt.give.Namespace)
			}
			if got := opts.ConnectionOptions.TLS != nil; got != tt.wantTLS {
				t.Errorf("TLS: got %v, want %v", got, tt.wantTLS)
			}
		})
	}
	opts, err := ClientOptions(config.Temporal{Address: "x.tmprl.cloud:7233", Namespace: "ns", APIKey: "secret"}, nil)
	if err != nil || opts.Credentials == nil {
		t.Errorf("api key: got credentials %v, err %v; want credentials", opts.Credentials, err)
	}
}

// deadAddress returns a loopback address nothing listens on.
func deadAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestLazyClientAndHealthWhenServerIsDown(t *testing.T) {
	c, err := NewClient(config.Temporal{Address: deadAddress(t), Namespace: "default"}, nil)
	if err != nil {
		t.Fatalf("lazy client must not connect: %v", err)
	}
	defer c.Close()
	start := time.Now()
	err = CheckHealth(context.Background(), c)
	if !errors.Is(err, ErrUnhealthy) {
		t.Fatalf("got %v, want ErrUnhealthy", err)
	}
	if d := time.Since(start); d > HealthTimeout+2*time.Second {
		t.Errorf("health check took %s, want at most about %s", d, HealthTimeout)
	}
}

// lockedBuffer collects log output written from the worker's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestWorkerRetriesWhileServerIsDownAndStops(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c, err := NewClient(config.Temporal{Address: deadAddress(t), Namespace: "default"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var logs lockedBuffer
	w := NewWorker(c, activities.New("test", nil), WorkerOptions{
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 20 * time.Millisecond,
		Log:        slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err == nil {
		t.Error("second Start: got nil error, want one")
	}
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(logs.String(), "retrying") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling the log, not synchronising with it
	}
	if n := strings.Count(logs.String(), "retrying"); n < 2 {
		t.Fatalf("got %d retry lines, want at least 2; log:\n%s", n, logs.String())
	}
	select {
	case <-w.Ready():
		t.Fatal("worker reports ready without a server")
	default:
	}
	stopped := make(chan struct{})
	go func() { w.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(HealthTimeout + 5*time.Second):
		t.Fatal("Stop did not return")
	}
	w.Stop() // idempotent
}

func TestStopBeforeStart(t *testing.T) {
	NewWorker(nil, nil, WorkerOptions{}).Stop()
}

func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "athena-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
