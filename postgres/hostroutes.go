package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/gateway"
)

// Route is one public_gateway_routes row: the first label of a wildcard
// Host (spec §1.1) and the client it serves.
type Route struct {
	Key         string    `json:"route_key"`
	Client      string    `json:"client_name"`
	Active      bool      `json:"is_active"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// RouteStore reads and writes public_gateway_routes on the logging database.
type RouteStore struct {
	pool *pgxpool.Pool
}

// NewRouteStore wraps the logging database's pool. It does no I/O.
func NewRouteStore(pool *pgxpool.Pool) *RouteStore {
	return &RouteStore{pool: pool}
}

// Lookup returns the client of an active route; ok is false when there is
// no active route with that key.
func (s *RouteStore) Lookup(ctx context.Context, key string) (client string, ok bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT client_name FROM public_gateway_routes WHERE route_key = $1 AND is_active`, key).Scan(&client)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("lookup route: %w", err)
	}
	return client, true, nil
}

// Active returns every active route as key → client, for the registry's
// in-memory snapshot (reloaded on NOTIFY and on the poll).
func (s *RouteStore) Active(ctx context.Context) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT route_key, client_name FROM public_gateway_routes WHERE is_active`)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	out := map[string]string{}
	var k, c string
	_, err = pgx.ForEachRow(rows, []any{&k, &c}, func() error {
		out[k] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	return out, nil
}

// List returns every route, active or not, by key.
func (s *RouteStore) List(ctx context.Context) ([]Route, error) {
	rows, err := s.pool.Query(ctx, `SELECT route_key, client_name, is_active, coalesce(description, ''), created_at, updated_at
		FROM public_gateway_routes ORDER BY route_key`)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Route])
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	return out, nil
}

// Put creates or replaces the route r.Key.
func (s *RouteStore) Put(ctx context.Context, r Route) (Route, error) {
	rows, err := s.pool.Query(ctx, `INSERT INTO public_gateway_routes (route_key, client_name, is_active, description)
		VALUES ($1, $2, $3, nullif($4, ''))
		ON CONFLICT (route_key) DO UPDATE SET client_name = EXCLUDED.client_name, is_active = EXCLUDED.is_active,
			description = EXCLUDED.description, updated_at = now()
		RETURNING route_key, client_name, is_active, coalesce(description, ''), created_at, updated_at`,
		r.Key, r.Client, r.Active, r.Description)
	if err != nil {
		return Route{}, fmt.Errorf("put route: %w", err)
	}
	out, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[Route])
	if err != nil {
		return Route{}, fmt.Errorf("put route: %w", err)
	}
	return out, nil
}

// Delete removes a route; 404 not_found when there is none.
func (s *RouteStore) Delete(ctx context.Context, key string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM public_gateway_routes WHERE route_key = $1`, key)
	if err != nil {
		return fmt.Errorf("delete route: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return gateway.Errorf(gateway.CodeNotFound, "route %q not found", key)
	}
	return nil
}
