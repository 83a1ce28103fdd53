package orchestration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/athena-gateway/athena/config"
)

// HealthTimeout bounds one CheckHealth call, so a probe against an
// unreachable server answers quickly instead of waiting on gRPC's backoff.
const HealthTimeout = 3 * time.Second

// ClientOptions turns the configuration into SDK client options: address,
// namespace, TLS from the certificate files, and the API key.
func ClientOptions(cfg config.Temporal, log *slog.Logger) (client.Options, error) {
	opts := client.Options{
		HostPort:  cfg.Address,
		Namespace: cfg.Namespace,
	}
	if log != nil {
		opts.Logger = sdklog.NewStructuredLogger(log.With("component", "temporal"))
	}
	tlsConf, err := tlsConfig(cfg)
	if err != nil {
		return client.Options{}, err
	}
	opts.ConnectionOptions.TLS = tlsConf
	if cfg.APIKey != "" {
		// The SDK turns TLS on (system roots) for an API key when TLS is nil.
		opts.Credentials = client.NewAPIKeyStaticCredentials(cfg.APIKey)
	}
	return opts, nil
}

// tlsConfig returns nil (plaintext) when no TLS file is configured.
func tlsConfig(cfg config.Temporal) (*tls.Config, error) {
	if cfg.TLSCertFile == "" && cfg.TLSKeyFile == "" && cfg.TLSCAFile == "" {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSCertFile != "" || cfg.TLSKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("temporal client certificate: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	if cfg.TLSCAFile != "" {
		pem, err := os.ReadFile(cfg.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("temporal CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("temporal CA: no certificate in %s", cfg.TLSCAFile)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}

// NewClient returns a lazy client: it does not connect until first used, so
// a process whose Temporal server is down still starts (synchronous gateway
// routes keep working; the worker retries). Close it when done.
func NewClient(cfg config.Temporal, log *slog.Logger) (client.Client, error) {
	opts, err := ClientOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	c, err := client.NewLazyClient(opts)
	if err != nil {
		return nil, fmt.Errorf("temporal client: %w", err)
	}
	return c, nil
}

// ErrUnhealthy wraps every CheckHealth failure.
var ErrUnhealthy = errors.New("temporal unreachable")

// CheckHealth asks the server's health service whether the frontend serves,
// waiting at most HealthTimeout (less if ctx ends sooner).
func CheckHealth(ctx context.Context, c client.Client) error {
	ctx, cancel := context.WithTimeout(ctx, HealthTimeout)
	defer cancel()
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("%w: %w", ErrUnhealthy, err)
	}
	return nil
}
