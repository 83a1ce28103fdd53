package postgrestest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/internal/testenv"
)

// URL is the test database: ATHENA_TEST_DATABASE_URL, or the local
// PostgreSQL that `make test` starts.
func URL() string {
	if u := os.Getenv("ATHENA_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// SchemaURL creates a private schema in the test database, drops it when
// the test ends, and returns a URI whose search_path is that schema. When
// PostgreSQL is not reachable the test is skipped, or fails under CI=true
// (testenv.Unavailable).
func SchemaURL(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	var sfx [6]byte
	_, _ = rand.Read(sfx[:])
	schema := "athena_test_" + hex.EncodeToString(sfx[:])
	conn, err := pgx.Connect(ctx, URL())
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), URL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	sep := "&"
	if !strings.Contains(URL(), "?") {
		sep = "?"
	}
	return URL() + sep + "search_path=" + schema
}
