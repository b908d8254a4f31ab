package tutorial

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{name: "defaults", env: nil, want: Config{RedisURL: "redis://127.0.0.1:6402", TTL: time.Minute,
			NegativeTTL: 5 * time.Second, DBLatency: 50 * time.Millisecond}},
		{name: "overrides", env: map[string]string{"REDIS_URL": "redis://127.0.0.1:6400",
			"CACHE_TTL_MS": "5000", "NEGATIVE_TTL_MS": "100", "DB_LATENCY_MS": "0"},
			want: Config{RedisURL: "redis://127.0.0.1:6400", TTL: 5 * time.Second,
				NegativeTTL: 100 * time.Millisecond, DBLatency: 0}},
		{name: "names the variable", env: map[string]string{"CACHE_TTL_MS": "soon"},
			wantErr: "CACHE_TTL_MS must be a non-negative integer"},
		{name: "refuses negative", env: map[string]string{"DB_LATENCY_MS": "-1"},
			wantErr: "DB_LATENCY_MS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(name string) string { return tt.env[name] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestConnectChecksRedis(t *testing.T) {
	f := newFixture(t, 0)
	if err := f.rdb.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("PING on a connected client: %v", err)
	}
	f.server.Stop()
	if _, err := Connect(t.Context(), f.cfg.RedisURL); err == nil {
		t.Fatal("Connect to a stopped Redis succeeded")
	}
}

func TestSlowDBWaitsItsLatency(t *testing.T) {
	db := NewSlowDB(30*time.Millisecond, 10)
	start := time.Now()
	user, found, err := db.Get(t.Context(), "7")
	if err != nil || !found || user.Version != 1 {
		t.Fatalf("Get(7) = %+v, %v, %v", user, found, err)
	}
	if elapsed := time.Since(start); elapsed < 30*time.Millisecond {
		t.Fatalf("a query took %s, less than its latency", elapsed)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := db.Get(ctx, "7"); err != context.Canceled {
		t.Fatalf("a cancelled query returned %v", err)
	}
	updated, _ := db.Put(t.Context(), "7", "Ada", "ada@example.com", 36)
	if updated.Version != 2 {
		t.Fatalf("a write gave version %d, want 2", updated.Version)
	}
}
