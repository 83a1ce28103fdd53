package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/gateway"
)

// NOTIFY channels of the logging database. Migration 002's triggers send
// them in the writing transaction, whoever writes (this store, the CLI, an
// operator in psql); the payload is the client name or the route key.
const (
	ClientsChannel = "athena_clients_changed"
	RoutesChannel  = "athena_routes_changed"
)

// Where an athena_clients row came from.
const (
	SourceConfig   = "config"   // mirrored from postgres_clients at start
	SourceDatabase = "database" // created through the admin API or SQL
)

// ClientRow is one live athena_clients row.
type ClientRow struct {
	Name              string
	URI               string // "" when the URI comes from URIEnvVar
	URIEnvVar         string
	Active            bool
	Frozen            bool
	Source            string
	Metadata          json.RawMessage
	LoadFailures      int
	LastLoadError     string
	LastLoadFailureAt *time.Time
	DisabledReason    string
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// NewClient is a client to create. Exactly one of URI and URIEnvVar is set
// (the caller validates; the table's CHECK backs it up).
type NewClient struct {
	Name      string
	URI       string
	URIEnvVar string
	Active    bool
	Frozen    bool
	Metadata  json.RawMessage // nil: {}
}

// ClientStore reads and writes athena_clients on the logging database.
type ClientStore struct {
	pool *pgxpool.Pool
}

// NewClientStore wraps the logging database's pool. It does no I/O.
func NewClientStore(pool *pgxpool.Pool) *ClientStore {
	return &ClientStore{pool: pool}
}

const clientColumns = `client_name, coalesce(pg_uri, ''), coalesce(pg_uri_env_var, ''), is_active, is_frozen, source,
	metadata, load_failures, coalesce(last_load_error, ''), last_load_failure_at, coalesce(disabled_reason, ''),
	created_at, updated_at`

func scanClient(row pgx.CollectableRow) (ClientRow, error) {
	var c ClientRow
	var meta []byte
	err := row.Scan(&c.Name, &c.URI, &c.URIEnvVar, &c.Active, &c.Frozen, &c.Source, &meta, &c.LoadFailures,
		&c.LastLoadError, &c.LastLoadFailureAt, &c.DisabledReason, &c.CreatedAt, &c.UpdatedAt)
	c.Metadata = json.RawMessage(meta)
	return c, err
}

// List returns the live (not soft-deleted) clients by name.
func (s *ClientStore) List(ctx context.Context) ([]ClientRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+clientColumns+` FROM athena_clients WHERE deleted_at IS NULL ORDER BY client_name`)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanClient)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return out, nil
}

// Get returns one live client; 404 not_found when there is none.
func (s *ClientStore) Get(ctx context.Context, name string) (ClientRow, error) {
	return s.one(ctx, s.pool, `SELECT `+clientColumns+` FROM athena_clients WHERE client_name = $1 AND deleted_at IS NULL`, name)
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// one runs a statement returning at most one client row; no row is 404
// not_found (args[0] is the client name).
func (s *ClientStore) one(ctx context.Context, q querier, sql string, args ...any) (ClientRow, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return ClientRow{}, err
	}
	c, err := pgx.CollectExactlyOneRow(rows, scanClient)
	if errors.Is(err, pgx.ErrNoRows) {
		return ClientRow{}, errClientNotFound(args[0])
	}
	return c, err
}

func errClientNotFound(name any) error {
	return gateway.Errorf(gateway.CodeNotFound, "client %q not found", name)
}

// Create inserts a database-sourced client. A live client of the same name
// (from the file or the database) is 409 unique_violation.
func (s *ClientStore) Create(ctx context.Context, c NewClient) (ClientRow, error) {
	meta := string(c.Metadata)
	if meta == "" {
		meta = "{}"
	}
	row, err := s.one(ctx, s.pool, `INSERT INTO athena_clients (client_name, pg_uri, pg_uri_env_var, is_active, is_frozen, source, metadata)
		VALUES ($1, nullif($2, ''), nullif($3, ''), $4, $5, 'database', $6::jsonb)
		RETURNING `+clientColumns, c.Name, c.URI, c.URIEnvVar, c.Active, c.Frozen, meta)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return ClientRow{}, gateway.Errorf(gateway.CodeUniqueViolation, "client %q already exists", c.Name)
		}
		return ClientRow{}, fmt.Errorf("create client: %w", err)
	}
	return row, nil
}

// ErrConfigClient is returned when a change only the config file may make
// is asked of a config-sourced client (400: only duplicates are 409).
func errConfigClient(name, what string) error {
	return gateway.Errorf(gateway.CodeConstraintViolation,
		"client %q is defined in the config file (postgres_clients): %s", name, what)
}

// Patch applies p to a live client. The URI of a config-sourced client
// belongs to the file: changing it is 409.
func (s *ClientStore) Patch(ctx context.Context, name string, p gateway.ClientPatch) (ClientRow, error) {
	var out ClientRow
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var source string
		err := tx.QueryRow(ctx, `SELECT source FROM athena_clients WHERE client_name = $1 AND deleted_at IS NULL FOR UPDATE`, name).Scan(&source)
		if errors.Is(err, pgx.ErrNoRows) {
			return errClientNotFound(name)
		}
		if err != nil {
			return err
		}
		if source == SourceConfig && (p.URI != nil || p.URIEnvVar != nil) {
			return errConfigClient(name, "change its URI in the file")
		}
		var meta *string
		if p.Metadata != nil {
			m := string(p.Metadata)
			meta = &m
		}
		out, err = s.one(ctx, tx, `UPDATE athena_clients SET
				pg_uri = CASE WHEN $2::text IS NOT NULL THEN $2 WHEN $3::text IS NOT NULL THEN NULL ELSE pg_uri END,
				pg_uri_env_var = CASE WHEN $3::text IS NOT NULL THEN $3 WHEN $2::text IS NOT NULL THEN NULL ELSE pg_uri_env_var END,
				is_active = coalesce($4::boolean, is_active),
				is_frozen = coalesce($5::boolean, is_frozen),
				metadata = coalesce($6::jsonb, metadata),
				load_failures = CASE WHEN $4::boolean THEN 0 ELSE load_failures END,
				disabled_reason = CASE WHEN $4::boolean THEN NULL ELSE disabled_reason END,
				updated_at = now()
			WHERE client_name = $1 AND deleted_at IS NULL
			RETURNING `+clientColumns, name, p.URI, p.URIEnvVar, p.Active, p.Frozen, meta)
		return err
	})
	if err != nil {
		return ClientRow{}, fmt.Errorf("patch client: %w", err)
	}
	return out, nil
}

// SetFrozen freezes or thaws a live client (config-sourced ones too: the
// flag lives in the database).
func (s *ClientStore) SetFrozen(ctx context.Context, name string, frozen bool) (ClientRow, error) {
	return s.Patch(ctx, name, gateway.ClientPatch{Frozen: &frozen})
}

// SoftDelete marks a database-sourced client deleted; its name can then be
// created again. A config-sourced client is 409 unless the caller knows it
// is no longer in any file (force), e.g. the process's own file lacks it.
func (s *ClientStore) SoftDelete(ctx context.Context, name string, force bool) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var source string
		err := tx.QueryRow(ctx, `SELECT source FROM athena_clients WHERE client_name = $1 AND deleted_at IS NULL FOR UPDATE`, name).Scan(&source)
		if errors.Is(err, pgx.ErrNoRows) {
			return errClientNotFound(name)
		}
		if err != nil {
			return err
		}
		if source == SourceConfig && !force {
			return errConfigClient(name, "remove it from the file to delete it")
		}
		_, err = tx.Exec(ctx, `UPDATE athena_clients SET deleted_at = now(), is_active = false, updated_at = now()
			WHERE client_name = $1 AND deleted_at IS NULL`, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete client: %w", err)
	}
	return nil
}

// SyncConfigClients mirrors the file's clients (name → URI, passwords
// already redacted by the caller) into the table with source 'config', so
// the admin view, freezing and failure counts cover them. Precedence: a live
// database-sourced row of the same name is never touched — the database
// wins over the file. Config rows missing from this file are left alone:
// another process's file may still define them.
func (s *ClientStore) SyncConfigClients(ctx context.Context, clients map[string]string) error {
	if len(clients) == 0 {
		return nil
	}
	names := make([]string, 0, len(clients))
	uris := make([]string, 0, len(clients))
	for n, u := range clients {
		names = append(names, n)
		uris = append(uris, u)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO athena_clients (client_name, pg_uri, source)
		SELECT n, u, 'config' FROM unnest($1::text[], $2::text[]) AS t(n, u)
		ON CONFLICT (client_name) WHERE deleted_at IS NULL DO UPDATE
			SET pg_uri = EXCLUDED.pg_uri, pg_uri_env_var = NULL, updated_at = now()
			WHERE athena_clients.source = 'config'
			  AND (athena_clients.pg_uri IS DISTINCT FROM EXCLUDED.pg_uri OR athena_clients.pg_uri_env_var IS NOT NULL)`,
		names, uris)
	if err != nil {
		return fmt.Errorf("sync config clients: %w", err)
	}
	return nil
}

// RecordLoadFailure counts one failure to connect to a client's database.
// Failures older than window restart the count. When the count reaches
// threshold (> 0) a database-sourced client is deactivated with a
// disabled_reason; config-sourced clients are only counted (the file
// decides about them). It reports whether this call disabled the client.
func (s *ClientStore) RecordLoadFailure(ctx context.Context, name, errText string, threshold int, window time.Duration) (disabled bool, err error) {
	err = s.pool.QueryRow(ctx, `WITH cur AS (
			SELECT id, n, (source = 'database' AND is_active AND $4::int > 0 AND n >= $4::int) AS disable
			FROM (SELECT id, source, is_active,
			             CASE WHEN last_load_failure_at IS NULL OR last_load_failure_at < now() - $3::interval
			                  THEN 1 ELSE load_failures + 1 END AS n
			      FROM athena_clients WHERE client_name = $1 AND deleted_at IS NULL FOR UPDATE) s
		)
		UPDATE athena_clients a SET
			load_failures = cur.n,
			last_load_error = left($2, 2000),
			last_load_failure_at = now(),
			is_active = a.is_active AND NOT cur.disable,
			disabled_reason = CASE WHEN cur.disable
				THEN format('auto-disabled after %s load failures within %s: %s', cur.n, $3::interval, left($2, 500))
				ELSE a.disabled_reason END,
			updated_at = CASE WHEN cur.disable THEN now() ELSE a.updated_at END
		FROM cur WHERE a.id = cur.id
		RETURNING cur.disable`, name, errText, window, threshold).Scan(&disabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil // not a row (yet): nothing to count
	}
	if err != nil {
		return false, fmt.Errorf("record load failure: %w", err)
	}
	return disabled, nil
}

// ResetFailures clears the failure count after a successful connection.
func (s *ClientStore) ResetFailures(ctx context.Context, name string) error {
	_, err := s.pool.Exec(ctx, `UPDATE athena_clients SET load_failures = 0, last_load_error = NULL
		WHERE client_name = $1 AND deleted_at IS NULL AND load_failures <> 0`, name)
	if err != nil {
		return fmt.Errorf("reset load failures: %w", err)
	}
	return nil
}

// ListenFuncs receives what Listen observes. Connected runs after every
// (re)connection, once LISTEN is in place: notifications sent while
// disconnected are lost, so the receiver should reload then.
type ListenFuncs struct {
	Connected func()
	Notified  func(channel, payload string)
	Failed    func(err error) // the connection failed; Listen retries with backoff
}

// Listen holds a dedicated connection (not one of the pool's) that LISTENs
// on ClientsChannel and RoutesChannel, and calls f until ctx ends,
// reconnecting with exponential backoff (100 ms to 30 s). It returns nil
// when ctx is done.
func (s *ClientStore) Listen(ctx context.Context, f ListenFuncs) error {
	const minBackoff, maxBackoff = 100 * time.Millisecond, 30 * time.Second
	backoff := minBackoff
	for {
		connected, err := s.listenOnce(ctx, f)
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			backoff = minBackoff
		}
		if f.Failed != nil && err != nil {
			f.Failed(err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

func (s *ClientStore) listenOnce(ctx context.Context, f ListenFuncs) (connected bool, err error) {
	cfg := s.pool.Config().ConnConfig // a copy
	// Waiting for a notification is silence by design: keep keepalive and
	// the TCP user timeout, but not the stall guard (guard.go), which would
	// cut the idle listener every statement timeout.
	cfg.DialFunc = guardDialer(0)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("listen: connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+ClientsChannel+"; LISTEN "+RoutesChannel); err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	if f.Connected != nil {
		f.Connected()
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, fmt.Errorf("listen: wait: %w", err)
		}
		if f.Notified != nil {
			f.Notified(n.Channel, n.Payload)
		}
	}
}
