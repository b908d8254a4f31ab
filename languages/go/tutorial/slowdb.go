package tutorial

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// User is one row of the tutorial's source of truth.
type User struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Email   string `json:"email"`
	Age     int    `json:"age"`
	Version int64  `json:"version"`
}

// SlowDB is the tutorial's database: a map of users behind an artificial latency, so that a miss
// costs what a real query under load would. Every write bumps the row's version.
type SlowDB struct {
	latency time.Duration
	queries atomic.Int64
	mu      sync.Mutex
	users   map[string]User
}

// NewSlowDB returns a database of users "1"…"n" at version 1, each query waiting latency.
func NewSlowDB(latency time.Duration, n int) *SlowDB {
	db := &SlowDB{latency: latency, users: make(map[string]User, n)}
	for i := 1; i <= n; i++ {
		id := strconv.Itoa(i)
		db.users[id] = User{ID: id, Name: "User " + id, Email: "user" + id + "@example.com",
			Age: 20 + i%50, Version: 1}
	}
	return db
}

// #region tutorial:slow-get

// Get reads one user; found is false when there is none. Every call waits the latency first,
// or returns early with ctx's error.
func (db *SlowDB) Get(ctx context.Context, id string) (user User, found bool, err error) {
	db.queries.Add(1)
	if err := db.wait(ctx); err != nil {
		return User{}, false, err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	user, found = db.users[id]
	return user, found, nil
}

func (db *SlowDB) wait(ctx context.Context) error {
	timer := time.NewTimer(db.latency)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// #endregion tutorial:slow-get

// #region tutorial:slow-put

// Put replaces (or creates) a user and returns it with its new version: the version is bumped
// in the same step as the write, as `UPDATE … SET version = version + 1 RETURNING *` does.
func (db *SlowDB) Put(ctx context.Context, id, name, email string, age int) (User, error) {
	db.queries.Add(1)
	if err := db.wait(ctx); err != nil {
		return User{}, err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	user := User{ID: id, Name: name, Email: email, Age: age, Version: db.users[id].Version + 1}
	db.users[id] = user
	return user, nil
}

// #endregion tutorial:slow-put

// Queries is how many queries the database has answered (or started).
func (db *SlowDB) Queries() int64 { return db.queries.Load() }
