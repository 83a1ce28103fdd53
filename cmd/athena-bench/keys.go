package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/api"
	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/postgres"
)

// controlPlaneSchema holds the API-key tables of scenario d) and the log
// and statistics tables of scenario g) (telemetry.go). The bench database
// doubles as the logging database, kept apart from athena_bench and from
// any real control plane in public by search_path.
const controlPlaneSchema = "athena_bench_cp"

// controlPlaneConns sizes the key store's pool. With a warm key cache the
// hot path does no I/O: the store sees one enforcement refresh per cache
// TTL and one last_used_at update per minute.
const controlPlaneConns = 4

// keyRight is the one right scenario d)'s key holds: exactly what a fetch
// of athena_bench.items needs. A schema-qualified table takes the literal
// <schema>.<table>.read (auth.AllowsTable), not a wildcard.
var keyRight = auth.TableRight("athena_bench", "items", auth.ActionRead)

// keyedAthena is what scenario d) adds to c): a key store in its own
// schema with enforcement on, an Authenticator over it with the production
// defaults (cache TTL included), and one key for client "bench".
type keyedAthena struct {
	pool  *pgxpool.Pool
	store *postgres.KeyStore
	auth  *auth.Authenticator
	key   string // plaintext, sent as X-Athena-Key
	keyID string // public id
	log   *slog.Logger
}

// setupKeys creates (idempotently) the control-plane schema, migrates it,
// turns enforcement on (fail_closed) and creates a fresh key. On success
// the caller must call close; on failure everything is already released.
func setupKeys(ctx context.Context, benchPool *pgxpool.Pool, dbURL string, log *slog.Logger) (_ *keyedAthena, err error) {
	if _, err := benchPool.Exec(ctx, `create schema if not exists `+controlPlaneSchema); err != nil {
		return nil, fmt.Errorf("create schema %s: %w", controlPlaneSchema, err)
	}
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	pc.MaxConns = controlPlaneConns
	pc.ConnConfig.RuntimeParams["application_name"] = "athena-bench-cp"
	pc.ConnConfig.RuntimeParams["search_path"] = controlPlaneSchema
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open control-plane pool: %w", err)
	}
	k := &keyedAthena{pool: pool, store: postgres.NewKeyStore(pool), log: log}
	defer func() {
		if err != nil {
			k.close()
		}
	}()
	if _, _, err := postgres.Migrate(ctx, pool); err != nil {
		return nil, fmt.Errorf("control plane in %s: %w", controlPlaneSchema, err)
	}
	enforce, mode := true, auth.FailClosed
	if _, err := k.store.SetConfig(ctx, &enforce, &mode); err != nil {
		return nil, err
	}
	// The key expires on its own in case this run dies before close
	// deletes it.
	expires := time.Now().Add(24 * time.Hour)
	key, plaintext, err := k.store.CreateKey(ctx, postgres.NewKey{
		Name:        "athena-bench",
		Description: "scenario d) of athena-bench; deleted when the run ends",
		ClientName:  benchClient,
		Rights:      []string{keyRight},
		ExpiresAt:   &expires,
	})
	if err != nil {
		return nil, err
	}
	k.key, k.keyID = plaintext, key.PublicID
	k.auth = auth.New(k.store, auth.Options{Logger: log.With("component", "auth")})
	return k, nil
}

// deps is the api.Deps of the keyed engine.
func (k *keyedAthena) deps() api.Deps { return api.Deps{Auth: k.auth, APIKeys: k.store} }

// check proves the engine at baseURL enforces keys before anything is
// measured: the fetch of d) must answer 401 without the key and 200 with
// the row with it. Otherwise d/c would not measure what it claims.
func (k *keyedAthena) check(ctx context.Context, baseURL string) error {
	client := newHTTPClient(1)
	defer client.CloseIdleConnections()
	url := baseURL + "/gateway/fetch"
	status, resp, err := send(ctx, client, http.MethodPost, url, "", athenaFetchBody(1))
	if err != nil {
		return fmt.Errorf("check key enforcement: %w", err)
	}
	if status != http.StatusUnauthorized {
		return fmt.Errorf("check key enforcement: fetch without a key: %w", statusError(status, http.StatusUnauthorized, resp))
	}
	rng := workerRand{Rand: rand.New(rand.NewPCG(1, 2))}
	if err := athenaFetch(client, baseURL, k.key)(ctx, rng); err != nil {
		return fmt.Errorf("check key enforcement: fetch with key %s: %w", k.keyID, err)
	}
	return nil
}

// close stops the Authenticator, deletes the key (its rights cascade) and
// closes the pool. It never uses the run's context: an interrupted run
// still cleans up.
func (k *keyedAthena) close() {
	if k.auth != nil {
		k.auth.Close() // waits for a last_used_at update in flight
	}
	if k.keyID != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := k.pool.Exec(ctx, `delete from api_keys where public_id = $1`, k.keyID); err != nil {
			k.log.Warn("delete bench API key", "api_key_id", k.keyID, "err", err)
		}
		cancel()
	}
	k.pool.Close()
}
