// Command two-instances runs two cachelab instances — two processes in real life, two caches on
// two connections here — in front of one (simulated) database, and shows that a write through
// one reaches the other's L1. It is built from a module of its own that requires the library,
// as an application would (see go.mod).
//
//	REDIS_URL=redis://127.0.0.1:6379 go run .
package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachelab/cachelab/languages/go/cachelab"
)

// User is a row of the database.
type User struct {
	Name string `json:"name"`
}

// database is the source of truth: rows with a version bumped on every write.
type database struct {
	mu   sync.Mutex
	rows map[string]cachelab.Loaded[User]
}

func (db *database) load(_ context.Context, key string) (cachelab.Loaded[User], error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.rows[key], nil // a missing row is {nil, 0}: "not found"
}

func (db *database) write(key, name string) cachelab.Loaded[User] {
	db.mu.Lock()
	defer db.mu.Unlock()
	row := cachelab.Loaded[User]{Value: &User{Name: name}, Version: db.rows[key].Version + 1}
	db.rows[key] = row
	return row
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "two-instances:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	namespace := fmt.Sprintf("example%d", time.Now().UnixNano()%1_000_000)
	db := &database{rows: map[string]cachelab.Loaded[User]{"user:42": {Value: &User{Name: "Ada"}, Version: 1}}}
	var instances []*cachelab.Cache[User]
	for _, origin := range []string{"api-1", "api-2"} {
		rdb := redis.NewClient(opts)
		defer func() { _ = rdb.Close() }()
		cache, err := cachelab.New[User](cachelab.Options{Redis: rdb, Namespace: namespace, Origin: origin})
		if err != nil {
			return err
		}
		defer func() { _ = cache.Close() }()
		if err := cache.WaitTrusted(ctx); err != nil {
			return fmt.Errorf("%s: no heartbeat came back from %s: %w", origin, url, err)
		}
		instances = append(instances, cache)
	}
	api1, api2 := instances[0], instances[1]
	show := func(who string, c *cachelab.Cache[User]) (cachelab.Read[User], error) {
		read, err := c.Get(ctx, "user:42", db.load)
		if err == nil {
			fmt.Printf("%s  user:42 → %-6s v%d from %s\n", who, read.Value.Name, read.Version, read.Tier)
		}
		return read, err
	}
	for _, step := range []struct {
		who string
		c   *cachelab.Cache[User]
	}{{"api-1", api1}, {"api-1", api1}, {"api-2", api2}, {"api-2", api2}} {
		if _, err := show(step.who, step.c); err != nil {
			return err
		}
	}
	// The database first, then the cache: set announces the new version to every instance.
	written := db.write("user:42", "Grace")
	if err := api1.Set(ctx, "user:42", written); err != nil {
		return err
	}
	fmt.Printf("api-1  wrote user:42 → Grace v%d\n", written.Version)
	poll := time.NewTicker(time.Millisecond)
	defer poll.Stop()
	for deadline := time.Now().Add(5 * time.Second); ; <-poll.C {
		if _, cached := api2.Peek("user:42"); !cached {
			break // api-2 dropped v1 when the announcement arrived
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("api-2 still holds v1 after 5 s")
		}
	}
	for _, c := range []struct {
		who string
		c   *cachelab.Cache[User]
	}{{"api-1", api1}, {"api-2", api2}} {
		read, err := show(c.who, c.c)
		if err != nil {
			return err
		}
		if read.Version != written.Version {
			return fmt.Errorf("%s served v%d after v%d was written", c.who, read.Version, written.Version)
		}
	}
	fmt.Println("both instances serve the write: coherent")
	return nil
}
