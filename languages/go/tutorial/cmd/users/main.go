// Command users serves GET /users/{id} through the tutorial's VersionedCache: L1, then Redis,
// then a slow in-memory database of users 1…10000. Configured by REDIS_URL, CACHE_TTL_MS,
// NEGATIVE_TTL_MS, DB_LATENCY_MS and PORT (default 8080).
//
//	go run ./tutorial/cmd/users
//	curl -si http://127.0.0.1:8080/users/42
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cachelab/cachelab/languages/go/tutorial"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := tutorial.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	rdb, err := tutorial.Connect(ctx, cfg.RedisURL)
	if err != nil {
		return err
	}
	defer func() { _ = rdb.Close() }()
	cache := tutorial.NewVersionedCache(rdb, tutorial.NewSlowDB(cfg.DBLatency, 10_000), cfg, "go-"+port)
	// The subscriber runs beside the server, until the signal ends both.
	go func() {
		if err := cache.Listen(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Printf("subscriber: %v", err)
		}
	}()
	server := &http.Server{Addr: "127.0.0.1:" + port, Handler: tutorial.NewHandler(cache),
		ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(shutdown)
	}()
	fmt.Printf("users: http://%s (Redis %s, database latency %s)\n", server.Addr, cfg.RedisURL, cfg.DBLatency)
	if err := server.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
