package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
)

// KeyStore keeps API keys, the rights granted to them, the catalogue of
// right definitions and the enforcement configuration in the logging
// database (api_keys, api_key_grants, api_key_rights, api_key_config,
// api_key_client_config). It implements auth.Store and the admin
// operations. Secrets never enter it: only their salt and hash.
type KeyStore struct {
	pool *pgxpool.Pool
}

// NewKeyStore wraps the logging database's pool. It does no I/O.
func NewKeyStore(pool *pgxpool.Pool) *KeyStore { return &KeyStore{pool: pool} }

var _ auth.Store = (*KeyStore)(nil)

// keyColumns are selected by every key read; rights are aggregated so one
// query returns a whole key. secret columns come last and only where needed.
const keyColumns = `k.id, k.public_id, k.name, coalesce(k.description, ''), coalesce(k.client_name, ''),
	k.is_active, k.expires_at, k.revoked_at, k.last_used_at, k.created_at, k.updated_at,
	coalesce((SELECT array_agg(r.right_name ORDER BY r.right_name) FROM api_key_grants r WHERE r.api_key_id = k.id), '{}')`

func scanKey(row pgx.Row, extra ...any) (auth.Key, error) {
	var k auth.Key
	dest := append([]any{&k.ID, &k.PublicID, &k.Name, &k.Description, &k.ClientName,
		&k.Active, &k.ExpiresAt, &k.RevokedAt, &k.LastUsedAt, &k.CreatedAt, &k.UpdatedAt, &k.Rights}, extra...)
	err := row.Scan(dest...)
	return k, err
}

// KeyByPublicID loads one key with its salt, hash and rights (auth.Store).
func (s *KeyStore) KeyByPublicID(ctx context.Context, publicID string) (auth.Key, error) {
	var salt, hash []byte
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+`, k.secret_salt, k.secret_hash
		FROM api_keys k WHERE k.public_id = $1`, publicID), &salt, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.Key{}, auth.ErrKeyNotFound
	}
	if err != nil {
		return auth.Key{}, fmt.Errorf("load api key: %w", err)
	}
	k.Salt, k.Hash = salt, hash
	return k, nil
}

// Enforcement reads the global switch and every per-client override in one
// round trip (auth.Store). A missing api_key_config row reads as the
// migration's defaults.
func (s *KeyStore) Enforcement(ctx context.Context) (auth.EnforcementConfig, error) {
	cfg := auth.EnforcementConfig{FailMode: auth.FailClosed, Clients: map[string]auth.ClientEnforcement{}}
	b := &pgx.Batch{}
	b.Queue(`SELECT enforce, fail_mode FROM api_key_config WHERE id = 1`).QueryRow(func(r pgx.Row) error {
		err := r.Scan(&cfg.Enforce, &cfg.FailMode)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	b.Queue(`SELECT client_name, enforce, fail_mode, updated_at FROM api_key_client_config`).Query(func(rows pgx.Rows) error {
		list, err := pgx.CollectRows(rows, scanClientEnforcement)
		for _, c := range list {
			cfg.Clients[c.Client] = c
		}
		return err
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return auth.EnforcementConfig{}, fmt.Errorf("load api key config: %w", err)
	}
	return cfg, nil
}

func scanClientEnforcement(row pgx.CollectableRow) (auth.ClientEnforcement, error) {
	var c auth.ClientEnforcement
	var mode *string
	if err := row.Scan(&c.Client, &c.Enforce, &mode, &c.UpdatedAt); err != nil {
		return c, err
	}
	if mode != nil {
		m := auth.FailMode(*mode)
		c.FailMode = &m
	}
	return c, nil
}

// TouchKey sets last_used_at (auth.Store). It leaves updated_at alone: use
// is not a change to the key.
func (s *KeyStore) TouchKey(ctx context.Context, publicID string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = now() WHERE public_id = $1`, publicID); err != nil {
		return fmt.Errorf("touch api key: %w", err)
	}
	return nil
}

// NewKey describes a key to create.
type NewKey struct {
	Name        string
	Description string
	ClientName  string // "" for a key valid on every client
	Rights      []string
	ExpiresAt   *time.Time
}

// Limits on admin input.
const (
	maxKeyNameLen = 200
	maxKeyDescLen = 2000
)

// clientNamePattern is the client name rule of the configuration file
// (config.clientName), repeated here because config keeps it unexported.
// clip shortens rejected input before it is echoed in an error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func invalid(format string, args ...any) *gateway.Error {
	return gateway.Errorf(gateway.CodeInvalidValue, format, args...)
}

func invalidRight(r string) *gateway.Error {
	return invalid("invalid right %q: want dot-separated segments of letters, digits, '_' or '*', at most 128 characters", clip(r))
}

// validateRights checks every right and removes duplicates, keeping order.
func validateRights(rights []string) ([]string, error) {
	out := make([]string, 0, len(rights))
	seen := map[string]bool{}
	for _, r := range rights {
		r = strings.TrimSpace(r)
		if !auth.ValidRight(r) {
			return nil, invalidRight(r)
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out, nil
}

func (n *NewKey) validate(now time.Time) error {
	n.Name = strings.TrimSpace(n.Name)
	if len(n.Name) > maxKeyNameLen {
		return invalid("name is longer than %d characters", maxKeyNameLen)
	}
	if len(n.Description) > maxKeyDescLen {
		return invalid("description is longer than %d characters", maxKeyDescLen)
	}
	if n.ClientName != "" && !gateway.ValidClientName(n.ClientName) {
		return invalid("invalid client name %q", clip(n.ClientName))
	}
	if n.ExpiresAt != nil && !n.ExpiresAt.After(now) {
		return invalid("expires_at is not in the future")
	}
	rights, err := validateRights(n.Rights)
	if err != nil {
		return err
	}
	n.Rights = rights
	return nil
}

// CreateKey stores a new key with its rights in one transaction and returns
// it together with the plaintext, which exists nowhere else: show it once.
func (s *KeyStore) CreateKey(ctx context.Context, n NewKey) (auth.Key, string, error) {
	if err := n.validate(time.Now()); err != nil {
		return auth.Key{}, "", err
	}
	// A public id collision (60 random bits) is astronomically unlikely;
	// a retry makes it harmless.
	for attempt := 0; ; attempt++ {
		g, err := auth.GenerateKey()
		if err != nil {
			return auth.Key{}, "", err
		}
		k, err := s.insertKey(ctx, n, g)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "api_keys_public_id_key" && attempt < 3 {
			continue
		}
		if err != nil {
			return auth.Key{}, "", fmt.Errorf("create api key: %w", err)
		}
		return k, g.Plaintext, nil
	}
}

func (s *KeyStore) insertKey(ctx context.Context, n NewKey, g auth.GeneratedKey) (auth.Key, error) {
	var k auth.Key
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO api_keys (public_id, name, description, client_name, secret_salt, secret_hash, expires_at)
			VALUES ($1, $2, nullif($3, ''), nullif($4, ''), $5, $6, $7) RETURNING id`,
			g.PublicID, n.Name, n.Description, n.ClientName, g.Salt, g.Hash, n.ExpiresAt).Scan(&id); err != nil {
			return err
		}
		if len(n.Rights) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO api_key_grants (api_key_id, right_name) SELECT $1, unnest($2::text[])`, id, n.Rights); err != nil {
				return err
			}
		}
		var err error
		k, err = scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys k WHERE k.id = $1`, id))
		return err
	})
	return k, err
}

// ListKeys returns every key with its rights, newest first; never secrets.
func (s *KeyStore) ListKeys(ctx context.Context) ([]auth.Key, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys k ORDER BY k.created_at DESC, k.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (auth.Key, error) { return scanKey(r) })
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return keys, nil
}

// GetKey returns one key without its secret material, or 404 not_found.
func (s *KeyStore) GetKey(ctx context.Context, publicID string) (auth.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys k WHERE k.public_id = $1`, publicID))
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.Key{}, keyNotFound(publicID)
	}
	if err != nil {
		return auth.Key{}, fmt.Errorf("get api key: %w", err)
	}
	return k, nil
}

// PublicIDByRowID maps an api_keys.id to its public id (admin bodies may
// name a key either way).
func (s *KeyStore) PublicIDByRowID(ctx context.Context, id int64) (string, error) {
	var pid string
	err := s.pool.QueryRow(ctx, `SELECT public_id FROM api_keys WHERE id = $1`, id).Scan(&pid)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", gateway.Errorf(gateway.CodeNotFound, "API key %d not found", id)
	}
	if err != nil {
		return "", fmt.Errorf("find api key: %w", err)
	}
	return pid, nil
}

func keyNotFound(publicID string) *gateway.Error {
	return gateway.Errorf(gateway.CodeNotFound, "API key %s not found", publicID)
}

// RevokeKey deactivates a key for good (revoked_at is set once and kept).
// Other processes stop accepting it within their cache window.
func (s *KeyStore) RevokeKey(ctx context.Context, publicID string) (auth.Key, error) {
	return s.modify(ctx, publicID, "revoke api key",
		`UPDATE api_keys SET is_active = false, revoked_at = coalesce(revoked_at, now()), updated_at = now() WHERE public_id = $1`)
}

// KeyPatch changes some fields of a key; nil fields stay as they are.
type KeyPatch struct {
	Name        *string
	Description *string
	Active      *bool
	// ExpiresAt sets the expiry; ClearExpiry removes it (never expires).
	ExpiresAt   *time.Time
	ClearExpiry bool
	// Rights, when set, replaces the key's rights (spec §1.2: granting is
	// rights[] on create and PATCH).
	Rights *[]string
}

// UpdateKey applies p in one transaction. A revoked key cannot be reactivated: revocation is
// final, create a new key instead (409).
func (s *KeyStore) UpdateKey(ctx context.Context, publicID string, p KeyPatch) (auth.Key, error) {
	if p.Name != nil {
		n := strings.TrimSpace(*p.Name)
		if len(n) > maxKeyNameLen {
			return auth.Key{}, invalid("name is longer than %d characters", maxKeyNameLen)
		}
		p.Name = &n
	}
	if p.Description != nil && len(*p.Description) > maxKeyDescLen {
		return auth.Key{}, invalid("description is longer than %d characters", maxKeyDescLen)
	}
	if p.ExpiresAt != nil && p.ClearExpiry {
		return auth.Key{}, invalid("expires_at cannot be both set and cleared")
	}
	var rights []string
	if p.Rights != nil {
		var err error
		if rights, err = validateRights(*p.Rights); err != nil {
			return auth.Key{}, err
		}
	}
	var k auth.Key
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id int64
		var revoked bool
		err := tx.QueryRow(ctx, `SELECT id, revoked_at IS NOT NULL FROM api_keys WHERE public_id = $1 FOR UPDATE`, publicID).Scan(&id, &revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return keyNotFound(publicID)
		}
		if err != nil {
			return err
		}
		if revoked && p.Active != nil && *p.Active {
			return gateway.Errorf(gateway.CodeConstraintViolation, "API key %s is revoked and cannot be reactivated; create a new key", publicID)
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET
				name = coalesce($2, name),
				description = CASE WHEN $3::text IS NULL THEN description ELSE nullif($3, '') END,
				is_active = coalesce($4, is_active),
				expires_at = CASE WHEN $6 THEN NULL ELSE coalesce($5, expires_at) END,
				updated_at = now()
			WHERE id = $1`, id, p.Name, p.Description, p.Active, p.ExpiresAt, p.ClearExpiry); err != nil {
			return err
		}
		if p.Rights != nil {
			if err := replaceRights(ctx, tx, id, rights); err != nil {
				return err
			}
		}
		k, err = scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys k WHERE k.id = $1`, id))
		return err
	})
	if err != nil {
		return auth.Key{}, fmt.Errorf("update api key: %w", err)
	}
	return k, nil
}

// modify runs one UPDATE on the key and returns it, 404 when absent.
func (s *KeyStore) modify(ctx context.Context, publicID, verb, sql string, args ...any) (auth.Key, error) {
	tag, err := s.pool.Exec(ctx, sql, append([]any{publicID}, args...)...)
	if err != nil {
		return auth.Key{}, fmt.Errorf("%s: %w", verb, err)
	}
	if tag.RowsAffected() == 0 {
		return auth.Key{}, keyNotFound(publicID)
	}
	return s.GetKey(ctx, publicID)
}

// KeyGrant is one row of api_key_grants: a right granted to a key.
type KeyGrant struct {
	PublicID  string    `json:"public_id"`
	Right     string    `json:"right"`
	CreatedAt time.Time `json:"created_at"`
}

// ListGrants returns the rights granted to one key, or to every key when
// publicID is "".
func (s *KeyStore) ListGrants(ctx context.Context, publicID string) ([]KeyGrant, error) {
	if publicID != "" {
		if _, err := s.GetKey(ctx, publicID); err != nil {
			return nil, err
		}
	}
	rows, err := s.pool.Query(ctx, `SELECT k.public_id, r.right_name, r.created_at
		FROM api_key_grants r JOIN api_keys k ON k.id = r.api_key_id
		WHERE $1 = '' OR k.public_id = $1 ORDER BY k.public_id, r.right_name`, publicID)
	if err != nil {
		return nil, fmt.Errorf("list api key grants: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[KeyGrant])
	if err != nil {
		return nil, fmt.Errorf("list api key grants: %w", err)
	}
	return out, nil
}

// AddGrant grants right to the key: 404 for an unknown key, 409 when the key
// already holds it.
func (s *KeyStore) AddGrant(ctx context.Context, publicID, right string) (KeyGrant, error) {
	if !auth.ValidRight(right) {
		return KeyGrant{}, invalidRight(right)
	}
	out := KeyGrant{PublicID: publicID, Right: right}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		id, err := lockKey(ctx, tx, publicID)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO api_key_grants (api_key_id, right_name) VALUES ($1, $2)
			ON CONFLICT DO NOTHING RETURNING created_at`, id, right).Scan(&out.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return gateway.Errorf(gateway.CodeUniqueViolation, "API key %s already has right %s", publicID, right)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE api_keys SET updated_at = now() WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return KeyGrant{}, fmt.Errorf("add api key grant: %w", err)
	}
	return out, nil
}

// RemoveGrant withdraws right from the key: 404 when the key or the grant
// does not exist.
func (s *KeyStore) RemoveGrant(ctx context.Context, publicID, right string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		id, err := lockKey(ctx, tx, publicID)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM api_key_grants WHERE api_key_id = $1 AND right_name = $2`, id, right)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return gateway.Errorf(gateway.CodeNotFound, "API key %s does not have right %s", publicID, right)
		}
		_, err = tx.Exec(ctx, `UPDATE api_keys SET updated_at = now() WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("remove api key grant: %w", err)
	}
	return nil
}

// SetRights replaces the key's rights with rights.
func (s *KeyStore) SetRights(ctx context.Context, publicID string, rights []string) (auth.Key, error) {
	rights, err := validateRights(rights)
	if err != nil {
		return auth.Key{}, err
	}
	var k auth.Key
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		id, err := lockKey(ctx, tx, publicID)
		if err != nil {
			return err
		}
		if err := replaceRights(ctx, tx, id, rights); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET updated_at = now() WHERE id = $1`, id); err != nil {
			return err
		}
		k, err = scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys k WHERE k.id = $1`, id))
		return err
	})
	if err != nil {
		return auth.Key{}, fmt.Errorf("set api key rights: %w", err)
	}
	return k, nil
}

// replaceRights makes rights the key's grants, keeping the grant rows (and
// their created_at) of rights it already had.
func replaceRights(ctx context.Context, tx pgx.Tx, id int64, rights []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM api_key_grants WHERE api_key_id = $1 AND NOT right_name = ANY($2::text[])`, id, rights); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO api_key_grants (api_key_id, right_name) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, id, rights)
	return err
}

// lockKey finds the key's row id and locks the row, so concurrent rights
// changes to one key serialise.
func lockKey(ctx context.Context, tx pgx.Tx, publicID string) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `SELECT id FROM api_keys WHERE public_id = $1 FOR UPDATE`, publicID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, keyNotFound(publicID)
	}
	return id, err
}

// GlobalConfig is the api_key_config row. The JSON name of the switch is
// the original server's (and the SDK tools'): enforce_api_keys.
type GlobalConfig struct {
	// Enforce is nil while no operator has set it: the gateway's
	// api_keys.required decides (api fills in the effective value).
	Enforce   *bool         `json:"enforce_api_keys"`
	FailMode  auth.FailMode `json:"fail_mode"`
	UpdatedAt time.Time     `json:"updated_at"`
}

// GetConfig reads the global enforcement switch.
func (s *KeyStore) GetConfig(ctx context.Context) (GlobalConfig, error) {
	c := GlobalConfig{FailMode: auth.FailClosed}
	err := s.pool.QueryRow(ctx, `SELECT enforce, fail_mode, updated_at FROM api_key_config WHERE id = 1`).Scan(&c.Enforce, &c.FailMode, &c.UpdatedAt)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return GlobalConfig{}, fmt.Errorf("get api key config: %w", err)
	}
	return c, nil
}

// SetConfig writes the global switch; a nil field keeps its value.
func (s *KeyStore) SetConfig(ctx context.Context, enforce *bool, mode *auth.FailMode) (GlobalConfig, error) {
	if mode != nil && !mode.Valid() {
		return GlobalConfig{}, invalid("invalid fail_mode %q: want fail_closed or fail_open", clip(string(*mode)))
	}
	var c GlobalConfig
	err := s.pool.QueryRow(ctx, `INSERT INTO api_key_config AS c (id, enforce, fail_mode) VALUES (1, $1, coalesce($2, 'fail_closed'))
		ON CONFLICT (id) DO UPDATE SET enforce = coalesce($1, c.enforce), fail_mode = coalesce($2, c.fail_mode), updated_at = now()
		RETURNING enforce, fail_mode, updated_at`, enforce, failModeArg(mode)).Scan(&c.Enforce, &c.FailMode, &c.UpdatedAt)
	if err != nil {
		return GlobalConfig{}, fmt.Errorf("set api key config: %w", err)
	}
	return c, nil
}

func failModeArg(m *auth.FailMode) *string {
	if m == nil {
		return nil
	}
	s := string(*m)
	return &s
}

// ListClientConfigs returns every per-client override, by client name.
func (s *KeyStore) ListClientConfigs(ctx context.Context) ([]auth.ClientEnforcement, error) {
	rows, err := s.pool.Query(ctx, `SELECT client_name, enforce, fail_mode, updated_at FROM api_key_client_config ORDER BY client_name`)
	if err != nil {
		return nil, fmt.Errorf("list api key client config: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanClientEnforcement)
	if err != nil {
		return nil, fmt.Errorf("list api key client config: %w", err)
	}
	return out, nil
}

// SetClientConfig creates or replaces the override for client. nil fields
// inherit the global value.
func (s *KeyStore) SetClientConfig(ctx context.Context, client string, enforce *bool, mode *auth.FailMode) (auth.ClientEnforcement, error) {
	if !gateway.ValidClientName(client) {
		return auth.ClientEnforcement{}, invalid("invalid client name %q", clip(client))
	}
	if mode != nil && !mode.Valid() {
		return auth.ClientEnforcement{}, invalid("invalid fail_mode %q: want fail_closed or fail_open", clip(string(*mode)))
	}
	rows, err := s.pool.Query(ctx, `INSERT INTO api_key_client_config (client_name, enforce, fail_mode) VALUES ($1, $2, $3)
		ON CONFLICT (client_name) DO UPDATE SET enforce = $2, fail_mode = $3, updated_at = now()
		RETURNING client_name, enforce, fail_mode, updated_at`, client, enforce, failModeArg(mode))
	if err != nil {
		return auth.ClientEnforcement{}, fmt.Errorf("set api key client config: %w", err)
	}
	c, err := pgx.CollectExactlyOneRow(rows, scanClientEnforcement)
	if err != nil {
		return auth.ClientEnforcement{}, fmt.Errorf("set api key client config: %w", err)
	}
	return c, nil
}

// DeleteClientConfig removes the override for client (it then inherits the
// global switch): 404 when there was none.
func (s *KeyStore) DeleteClientConfig(ctx context.Context, client string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM api_key_client_config WHERE client_name = $1`, client)
	if err != nil {
		return fmt.Errorf("delete api key client config: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return gateway.Errorf(gateway.CodeNotFound, "no API key configuration for client %q", clip(client))
	}
	return nil
}
