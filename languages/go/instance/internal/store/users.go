// Package store is the database side of a Go instance: the users repository over PostgreSQL
// (pgx), the schema with its version and outbox triggers, and the outbox relay — the same SQL as
// the Node store (packages/store), so that instances of both languages share one database.
package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrUnavailable: the database cannot be reached (or was found unreachable moments ago).
var ErrUnavailable = errors.New("the database is unavailable")

// ErrPreconditionFailed: a conditional write found the row at none of the versions it accepts.
var ErrPreconditionFailed = errors.New("the user is not at a version the write accepts")

// ErrInvalidRow: a row the cache cannot carry (a version beyond 2^53−1).
var ErrInvalidRow = errors.New("invalid row")

// User is a row of the users table; Deleted marks a tombstone.
type User struct {
	ID        string
	Name      string
	Email     string
	Age       int
	Version   int64
	Deleted   bool
	UpdatedAt time.Time
}

// Input is a full user body.
type Input struct {
	Name  string
	Email string
	Age   int
}

// Condition is a write's If-Match: any live user, or one of Versions.
type Condition struct {
	Any      bool
	Versions []int64
}

// Stats are the repository's query counters (/stats → database).
type Stats struct {
	Queries    int64 `json:"queries"`
	Errors     int64 `json:"errors"`
	FailedFast int64 `json:"failedFast"`
}

// Users is the users repository.
type Users struct {
	pool          *pgxpool.Pool
	latency       time.Duration
	queryTimeout  time.Duration
	retryInterval time.Duration
	downUntil     atomic.Int64 // unix ns: fail fast until then after finding the database down
	queries       atomic.Int64
	errors        atomic.Int64
	failedFast    atomic.Int64
	// OnQuery, when set, is told about every query (for the latency histogram).
	OnQuery func(operation string, d time.Duration, ok bool)
}

// Options of Open.
type Options struct {
	URL            string
	PoolMax        int
	Latency        time.Duration // simulated latency of every query but ping
	QueryTimeout   time.Duration
	ConnectTimeout time.Duration
}

// Open creates the pool and the repository. Nothing is connected yet.
func Open(o Options) (*Users, error) {
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if o.PoolMax > 0 {
		cfg.MaxConns = int32(o.PoolMax)
	}
	cfg.ConnConfig.ConnectTimeout = o.ConnectTimeout
	// Unnamed statements: what node-postgres does too, and what PGlite's server and a pooler in
	// transaction mode accept.
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	return &Users{pool: pool, latency: o.Latency, queryTimeout: o.QueryTimeout, retryInterval: 500 * time.Millisecond}, nil
}

// Pool is the connection pool (the schema and the relay use it too).
func (u *Users) Pool() *pgxpool.Pool { return u.pool }

// Close closes the pool.
func (u *Users) Close() { u.pool.Close() }

// Stats returns the counters.
func (u *Users) Stats() Stats {
	return Stats{Queries: u.queries.Load(), Errors: u.errors.Load(), FailedFast: u.failedFast.Load()}
}

const columns = "id, name, email, age, version, deleted, updated_at"

// The statements of packages/store/src/users-repository.ts. This instance announces its own
// writes: each sets cachelab.wake_relay = off (no NOTIFY to wake the relays, migrate.sql says why)
// for its own transaction only, in the statement itself, so that no session setting reaches
// another client of a pooler in transaction mode (PgBouncer). The quiet CTE is joined so that it
// runs before the statement's triggers.
const (
	quiet     = `quiet AS (SELECT set_config('cachelab.wake_relay', 'off', true) AS wake)`
	selectOne = `SELECT ` + columns + ` FROM users WHERE id = $1`
	upsert    = `
WITH ` + quiet + `, prev AS (SELECT deleted FROM users WHERE id = $1)
INSERT INTO users AS u (id, name, email, age) SELECT $1::text, $2::text, $3::text, $4::integer FROM quiet
ON CONFLICT (id) DO UPDATE SET
  name = EXCLUDED.name, email = EXCLUDED.email, age = EXCLUDED.age,
  deleted = false, updated_at = now()
RETURNING ` + columns + `, COALESCE((SELECT deleted FROM prev), true) AS created`
	insert = `
WITH ` + quiet + `
INSERT INTO users (id, name, email, age) SELECT $1::text, $2::text, $3::text, $4::integer FROM quiet
RETURNING ` + columns
	softDelete = `
WITH ` + quiet + `
UPDATE users SET deleted = true, updated_at = now() FROM quiet
WHERE id = $1 AND NOT deleted
RETURNING ` + columns
	conditionalUpdate = `
WITH ` + quiet + `
UPDATE users SET name = $2, email = $3, age = $4, version = version + 1, updated_at = now()
FROM quiet
WHERE id = $1 AND NOT deleted AND ($5::bigint[] IS NULL OR version = ANY($5::bigint[]))
RETURNING ` + columns
	conditionalDelete = `
WITH ` + quiet + `
UPDATE users SET deleted = true, version = version + 1, updated_at = now() FROM quiet
WHERE id = $1 AND NOT deleted AND ($2::bigint[] IS NULL OR version = ANY($2::bigint[]))
RETURNING ` + columns
)

// query runs one statement: the simulated latency, the breaker, the timeout, the counters.
func (u *Users) query(ctx context.Context, operation, sql string, args []any, scan func(pgx.Rows) error) error {
	start := time.Now()
	if u.latency > 0 && operation != "ping" {
		timer := time.NewTimer(u.latency)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
	}
	if time.Now().UnixNano() < u.downUntil.Load() {
		u.failedFast.Add(1)
		return ErrUnavailable
	}
	u.queries.Add(1)
	if u.queryTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, u.queryTimeout)
		defer cancel()
	}
	rows, err := u.pool.Query(ctx, sql, args...)
	if err == nil {
		err = scan(rows)
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if u.OnQuery != nil {
		u.OnQuery(operation, time.Since(start), err == nil)
	}
	if err == nil {
		return nil
	}
	u.errors.Add(1)
	if unavailable(err) {
		u.downUntil.Store(time.Now().Add(u.retryInterval).UnixNano())
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// unavailable: the error says the database cannot answer (not that the statement was wrong).
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "53") || strings.HasPrefix(pgErr.Code, "57")
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	return errors.As(err, &netErr) || errors.As(err, &connectErr) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || pgconn.SafeToRetry(err)
}

func scanUsers(into *[]User, created *bool) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		for rows.Next() {
			var user User
			var age int32
			dest := []any{&user.ID, &user.Name, &user.Email, &age, &user.Version, &user.Deleted, &user.UpdatedAt}
			if created != nil {
				dest = append(dest, created)
			}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			if user.Version < 1 || user.Version > 1<<53-1 {
				return fmt.Errorf("%w: user %s has version %d", ErrInvalidRow, user.ID, user.Version)
			}
			user.Age = int(age)
			*into = append(*into, user)
		}
		return nil
	}
}

// Get reads one row, tombstones included; nil when there is none.
func (u *Users) Get(ctx context.Context, id string) (*User, error) {
	var found []User
	if err := u.query(ctx, "get", selectOne, []any{id}, scanUsers(&found, nil)); err != nil || len(found) == 0 {
		return nil, err
	}
	return &found[0], nil
}

// Put replaces (or creates) a user; with a condition, only at an accepted version.
func (u *Users) Put(ctx context.Context, id string, in Input, cond *Condition) (User, bool, error) {
	var found []User
	if cond != nil {
		args := []any{id, in.Name, in.Email, in.Age, cond.versions()}
		if err := u.query(ctx, "put", conditionalUpdate, args, scanUsers(&found, nil)); err != nil {
			return User{}, false, err
		}
		if len(found) == 0 {
			return User{}, false, ErrPreconditionFailed
		}
		return found[0], false, nil
	}
	var created bool
	if err := u.query(ctx, "put", upsert, []any{id, in.Name, in.Email, in.Age}, scanUsers(&found, &created)); err != nil {
		return User{}, false, err
	}
	if len(found) == 0 {
		return User{}, false, fmt.Errorf("%w: the upsert returned no row", ErrInvalidRow)
	}
	return found[0], created, nil
}

// Create inserts a user with a generated id.
func (u *Users) Create(ctx context.Context, in Input) (User, error) {
	var found []User
	if err := u.query(ctx, "create", insert, []any{newID(), in.Name, in.Email, in.Age}, scanUsers(&found, nil)); err != nil {
		return User{}, err
	}
	if len(found) == 0 {
		return User{}, fmt.Errorf("%w: the insert returned no row", ErrInvalidRow)
	}
	return found[0], nil
}

// Delete soft-deletes a user; nil when there is no live one (and no condition).
func (u *Users) Delete(ctx context.Context, id string, cond *Condition) (*User, error) {
	var found []User
	sql, args := softDelete, []any{id}
	if cond != nil {
		sql, args = conditionalDelete, []any{id, cond.versions()}
	}
	if err := u.query(ctx, "delete", sql, args, scanUsers(&found, nil)); err != nil {
		return nil, err
	}
	if len(found) == 0 {
		if cond != nil {
			return nil, ErrPreconditionFailed
		}
		return nil, nil
	}
	return &found[0], nil
}

// Ping checks that the database answers (no simulated latency).
func (u *Users) Ping(ctx context.Context) error {
	return u.query(ctx, "ping", "SELECT 1", nil, func(rows pgx.Rows) error {
		for rows.Next() {
		}
		return nil
	})
}

// versions is the $5 of a conditional write: nil (NULL) for any live user.
func (c *Condition) versions() []int64 {
	if c.Any {
		return nil
	}
	if c.Versions == nil {
		return []int64{}
	}
	return c.Versions
}

// newID is a 21-character URL-safe random id, as nanoid makes.
func newID() string {
	const alphabet = "useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict"
	b := make([]byte, 21)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]&63]
	}
	return string(b)
}
