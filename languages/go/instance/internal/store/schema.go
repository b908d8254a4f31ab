package store

import (
	"context"
	_ "embed" // the schema of packages/store/src/schema.ts
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The statements of packages/store/src/schema.ts (CREATE_TABLE, MIGRATE and the seed), copied:
// a Go instance prepares the database exactly as a Node instance does, so that either may start
// first. TestSchemaMatchesNode compares them with the Node source.
var (
	//go:embed schema/create-table.sql
	createTable string
	//go:embed schema/migrate.sql
	migrate string
	//go:embed schema/seed.sql
	seedTemplate string
)

// Prepare creates the users table when missing, installs the version and outbox triggers, and
// seeds users 1…seedUsers when the table is empty. Idempotent; safe from several instances at once.
func Prepare(ctx context.Context, u *Users, seedUsers int) error {
	if seedUsers < 0 {
		return errors.New("SEED_USERS must be a non-negative integer")
	}
	// A lost CREATE TABLE IF NOT EXISTS race between two sessions: try once more.
	if _, err := u.pool.Exec(ctx, createTable); err != nil {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (pgErr.Code != "23505" && pgErr.Code != "42P07") {
			return err
		}
		if _, err := u.pool.Exec(ctx, createTable); err != nil {
			return err
		}
	}
	// Several statements without parameters: one implicit transaction (simple protocol).
	if _, err := u.pool.Exec(ctx, migrate, simpleProtocol...); err != nil {
		return fmt.Errorf("migrating the users table: %w", err)
	}
	if seedUsers > 0 {
		seed := strings.ReplaceAll(seedTemplate, "${count}", fmt.Sprint(seedUsers))
		if _, err := u.pool.Exec(ctx, seed, simpleProtocol...); err != nil {
			return fmt.Errorf("seeding users: %w", err)
		}
	}
	return nil
}

// simpleProtocol makes Exec send a multi-statement string as one simple query.
var simpleProtocol = []any{pgx.QueryExecModeSimpleProtocol}
