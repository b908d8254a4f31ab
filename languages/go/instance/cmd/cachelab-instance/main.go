// Command cachelab-instance is a cachelab instance in Go: the HTTP contract of the Node instance
// (packages/app) over the same PostgreSQL database and outbox, with the Go cachelab library in
// front of it. It reads the Node instance's environment (PORT, INSTANCE_NAME, CLUSTER_RUN_ID,
// REDIS_URL, REDIS_CLUSTER_NODES, DATABASE_URL, DB_LATENCY_MS, SEED_USERS, CACHE_*, …).
//
//	go -C languages/go/instance run ./cmd/cachelab-instance
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachelab/cachelab/languages/go/cachelab"
	"github.com/cachelab/cachelab/languages/go/instance/internal/api"
	"github.com/cachelab/cachelab/languages/go/instance/internal/config"
	"github.com/cachelab/cachelab/languages/go/instance/internal/store"
)

func main() {
	cfg, err := config.Read(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cachelab-instance:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "cachelab-instance:", err)
		os.Exit(1)
	}
}

func logger(level string) *slog.Logger {
	levels := map[string]slog.Level{"trace": slog.LevelDebug - 4, "debug": slog.LevelDebug,
		"info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError, "fatal": slog.LevelError + 4}
	if level == "silent" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: levels[level]}))
}

func run(ctx context.Context, cfg config.Config) error {
	identity := api.Identity{Name: cfg.InstanceName, ID: randomID(8), RunID: cfg.RunID}
	log := logger(cfg.LogLevel).With("instance", identity.Name+"/"+identity.ID)

	rdb, pubsub, err := redisClient(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = rdb.Close() }()

	users, err := store.Open(store.Options{URL: cfg.DatabaseURL, PoolMax: cfg.DBPoolMax, Latency: cfg.DBLatency,
		QueryTimeout: cfg.DBQueryTimeout, ConnectTimeout: cfg.DBConnectTimeout})
	if err != nil {
		return err
	}
	defer users.Close()
	if err := retry(ctx, cfg.StartupTimeout, "the database", log, func(ctx context.Context) error {
		return store.Prepare(ctx, users, cfg.SeedUsers)
	}); err != nil {
		return err
	}

	jitter := cfg.TTLJitter
	if jitter == 0 {
		jitter = -1 // the library's 0 means its default
	}
	l1Max := cfg.L1MaxEntries
	if l1Max == 0 {
		l1Max = -1
	}
	lease := cfg.LoadLease
	if lease == 0 {
		lease = -1
	}
	cache, err := cachelab.New[api.UserBody](cachelab.Options{
		Redis: rdb, PubSub: pubsub, Namespace: cfg.Namespace, Origin: identity.Name + "/" + identity.ID,
		SigningSecrets: cfg.InvalidationSecret, TTL: cfg.CacheTTL, NegativeTTL: cfg.NegativeTTL,
		TTLJitter: jitter, L1TTL: cfg.L1TTL, L1MaxEntries: l1Max, HighWaterMarkMaxEntries: cfg.HighWaterMarks,
		HeartbeatInterval: cfg.HeartbeatInterval, HeartbeatTimeout: cfg.HeartbeatTimeout,
		RedisTimeout: cfg.RedisTimeout, MaxConcurrentLoads: cfg.MaxConcurrentLoads, LoadLease: lease,
		OnError:    func(err error) { log.Debug("cache", "err", err.Error()) },
		BeforeFill: labFillDelay(cfg.LabFillDelay),
	})
	if err != nil {
		return err
	}
	defer func() { _ = cache.Close() }()

	metrics := api.NewMetrics()
	users.OnQuery = metrics.ObserveQuery
	relay := store.NewRelay(users, cache.Announce, cfg.OutboxPoll, cfg.OutboxLease, cfg.OutboxBatchSize)
	relay.OnError = func(err error) { log.Warn("outbox relay", "err", err.Error()) }
	metrics.CollectFrom(cache.Stats, users.Stats, api.RelayStats(relay), identity)

	var draining atomic.Bool
	handler := api.NewHandler(api.Deps{Cache: cache, Users: users, Relay: relay, Instance: identity,
		RedisPing: func(ctx context.Context) error { return rdb.Ping(ctx).Err() },
		Draining:  draining.Load, Metrics: metrics, Log: log, AfterCommit: crashAfterCommit(cfg, log)})
	server := api.NewServer(handler)
	listener, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return err
	}

	background, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { relay.Run(background) })
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	log.Info("listening", "url", "http://"+listener.Addr().String(), "language", "go")

	select {
	case err = <-served:
	case <-ctx.Done():
		log.Info("shutting down")
		draining.Store(true)
		shutdown, done := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		err = server.Shutdown(shutdown)
		done()
	}
	cancel()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// redisClient: REDIS_CLUSTER_NODES (sharded Pub/Sub) or REDIS_URL; credentials from REDIS_URL.
func redisClient(cfg config.Config) (redis.UniversalClient, cachelab.PubSub, error) {
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, 0, fmt.Errorf("REDIS_URL: %w", err)
	}
	opts.DialTimeout = 2 * time.Second
	if len(cfg.RedisClusterNodes) > 0 {
		addrs := make([]string, len(cfg.RedisClusterNodes))
		for i, node := range cfg.RedisClusterNodes {
			addrs[i] = strings.TrimPrefix(strings.TrimPrefix(node, "redis://"), "rediss://")
		}
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, Username: opts.Username,
			Password: opts.Password, TLSConfig: opts.TLSConfig, DialTimeout: opts.DialTimeout}), cachelab.Sharded, nil
	}
	return redis.NewClient(opts), cachelab.Global, nil
}

// retry runs fn until it succeeds or timeout passes (the database may still be starting).
func retry(ctx context.Context, timeout time.Duration, what string, log *slog.Logger, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		log.Warn("waiting for "+what, "err", err.Error())
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer within %s: %w", what, timeout, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// randomID is an instance id like a nanoid: URL-safe, drawn at start so restarts are visible.
func randomID(n int) string {
	const alphabet = "useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]&63]
	}
	return string(b)
}

// labFillDelay is LAB_FILL_DELAY_MS: every fill held after its database read (the lab's stale-set
// race), or no hook.
func labFillDelay(d time.Duration) func(context.Context, string) {
	if d == 0 {
		return nil
	}
	return func(ctx context.Context, _ string) {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
		}
	}
}

// crashAfterCommit is CRASH_AFTER_COMMIT=1: the process kills itself right after a database
// commit, before any Redis call (the lab's crash-after-commit fault), or nothing.
func crashAfterCommit(cfg config.Config, log *slog.Logger) func() {
	if !cfg.CrashAfterCommit {
		return nil
	}
	return func() {
		log.Warn("CRASH_AFTER_COMMIT: dying after the commit, before Redis")
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
}
