package cachelab_test

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/cachelab/cachelab/languages/go/cachelab"
)

// User is the cached row of the example.
type User struct {
	Name string `json:"name"`
}

// Example is the README's tour of the calls: a loader, a cache, reads with and without options,
// and the write after a commit. It needs a Redis on 127.0.0.1:6379, so it is compiled with the
// tests but has no Output comment and does not run; examples/two-instances is the program that
// ci.sh runs.
func Example() {
	if err := tour(context.Background(), User{Name: "Grace"}); err != nil {
		fmt.Println(err)
	}
}

func tour(ctx context.Context, u User) error {
	// #region tutorial:readme
	// The loader: the row and its version from the database; a missing row is {nil, 0}.
	loadUser := func(ctx context.Context, key string) (cachelab.Loaded[User], error) {
		return cachelab.Loaded[User]{Value: &User{Name: "Ada"}, Version: 7}, nil
	}

	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	cache, err := cachelab.New[User](cachelab.Options{Redis: rdb, Namespace: "cl", Origin: "api-1"})
	if err != nil {
		return err
	}
	defer cache.Close()

	read, err := cache.Get(ctx, "user:42", loadUser) // L1, Redis, or one load
	if err != nil {
		return err
	}
	fmt.Println(read.Value.Name, read.Version, read.Tier) // Ada 7 MISS

	// Confirm L1 with Redis; never answer older than a version the client saw.
	if _, err := cache.Get(ctx, "user:42", loadUser, cachelab.Strict()); err != nil {
		return err
	}
	if _, err := cache.Get(ctx, "user:42", loadUser, cachelab.MinVersion(7)); err != nil {
		return err
	}

	// After the database committed version 8: store it, and tell every instance.
	return cache.Set(ctx, "user:42", cachelab.Loaded[User]{Value: &u, Version: 8})
	// #endregion tutorial:readme
}
