package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
)

// RightDefinition is one row of api_key_rights: a right an operator has
// described, as /admin/api-key-rights lists it. It grants nothing; grants
// are api_key_grants.
type RightDefinition struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Description *string   `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// RightPatch changes a definition; nil fields stay as they are.
type RightPatch struct {
	Name        *string
	Description *string // "" clears it
}

const rightColumns = `id, name, description, created_at, updated_at`

// maxRightDescLen bounds a definition's description.
const maxRightDescLen = 2000

// rightRef turns a path reference into a WHERE clause and its argument: all
// digits is the row id, anything else the right's name.
func rightRef(ref string) (string, any, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil && id > 0 {
		return "id = $1", id, nil
	}
	if !auth.ValidRight(ref) {
		return "", nil, invalid("invalid right reference %q: want the definition's id or its name", clip(ref))
	}
	return "name = $1", ref, nil
}

func rightNotFound(ref string) *gateway.Error {
	return gateway.Errorf(gateway.CodeNotFound, "right definition %s not found", clip(ref))
}

func validRightDefinition(name *string, desc *string) error {
	if name != nil {
		*name = strings.TrimSpace(*name)
		if !auth.ValidRight(*name) {
			return invalidRight(*name)
		}
	}
	if desc != nil && len(*desc) > maxRightDescLen {
		return invalid("description is longer than %d characters", maxRightDescLen)
	}
	return nil
}

// duplicateRight maps a unique violation on the name to 409.
func duplicateRight(err error, name string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return gateway.Errorf(gateway.CodeUniqueViolation, "right definition %s already exists", clip(name))
	}
	return err
}

// ListRightDefinitions returns the catalogue, by name.
func (s *KeyStore) ListRightDefinitions(ctx context.Context) ([]RightDefinition, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+rightColumns+` FROM api_key_rights ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list right definitions: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[RightDefinition])
	if err != nil {
		return nil, fmt.Errorf("list right definitions: %w", err)
	}
	return out, nil
}

// RightDefinition returns the definition ref names (id or name), 404 when
// absent.
func (s *KeyStore) RightDefinition(ctx context.Context, ref string) (RightDefinition, error) {
	where, arg, err := rightRef(ref)
	if err != nil {
		return RightDefinition{}, err
	}
	return s.oneRight(ctx, ref, "get right definition", `SELECT `+rightColumns+` FROM api_key_rights WHERE `+where, arg)
}

// CreateRightDefinition adds name to the catalogue: 409 when it is there.
func (s *KeyStore) CreateRightDefinition(ctx context.Context, name, description string) (RightDefinition, error) {
	if err := validRightDefinition(&name, &description); err != nil {
		return RightDefinition{}, err
	}
	rows, err := s.pool.Query(ctx, `INSERT INTO api_key_rights (name, description) VALUES ($1, nullif($2, ''))
		RETURNING `+rightColumns, name, description)
	if err != nil {
		return RightDefinition{}, fmt.Errorf("create right definition: %w", err)
	}
	d, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[RightDefinition])
	if err != nil {
		return RightDefinition{}, fmt.Errorf("create right definition: %w", duplicateRight(err, name))
	}
	return d, nil
}

// UpdateRightDefinition renames or redescribes a definition: 404 when
// absent, 409 when the new name is taken. Grants are not renamed with it:
// they name rights, not definitions.
func (s *KeyStore) UpdateRightDefinition(ctx context.Context, ref string, p RightPatch) (RightDefinition, error) {
	where, arg, err := rightRef(ref)
	if err != nil {
		return RightDefinition{}, err
	}
	if err := validRightDefinition(p.Name, p.Description); err != nil {
		return RightDefinition{}, err
	}
	d, err := s.oneRight(ctx, ref, "update right definition", `UPDATE api_key_rights SET
			name = coalesce($2, name),
			description = CASE WHEN $3::text IS NULL THEN description ELSE nullif($3, '') END,
			updated_at = now()
		WHERE `+where+` RETURNING `+rightColumns, arg, p.Name, p.Description)
	if p.Name != nil {
		err = duplicateRight(err, *p.Name)
	}
	return d, err
}

// DeleteRightDefinition removes a definition and returns it: 404 when
// absent. Keys keep their grants.
func (s *KeyStore) DeleteRightDefinition(ctx context.Context, ref string) (RightDefinition, error) {
	where, arg, err := rightRef(ref)
	if err != nil {
		return RightDefinition{}, err
	}
	return s.oneRight(ctx, ref, "delete right definition", `DELETE FROM api_key_rights WHERE `+where+` RETURNING `+rightColumns, arg)
}

// oneRight runs a statement returning at most one definition.
func (s *KeyStore) oneRight(ctx context.Context, ref, verb, sql string, args ...any) (RightDefinition, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return RightDefinition{}, fmt.Errorf("%s: %w", verb, err)
	}
	d, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[RightDefinition])
	if errors.Is(err, pgx.ErrNoRows) {
		return RightDefinition{}, rightNotFound(ref)
	}
	if err != nil {
		return RightDefinition{}, fmt.Errorf("%s: %w", verb, err)
	}
	return d, nil
}
