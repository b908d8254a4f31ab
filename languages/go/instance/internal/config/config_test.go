package config

import (
	"strings"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		check   func(Config) bool
		wantErr string
	}{
		{"defaults", nil, func(c Config) bool {
			return c.Port == 3000 && c.Namespace == "cl" && c.CacheTTL == time.Minute && c.DBLatency == 50*time.Millisecond &&
				c.RedisURL == "redis://127.0.0.1:6379" && c.SeedUsers == 10000 && c.TTLJitter == 0.1 && !c.CrashAfterCommit
		}, ""},
		{"the cluster's settings", map[string]string{"PORT": "3003", "INSTANCE_NAME": "app-3", "CLUSTER_RUN_ID": "abc_1",
			"REDIS_CLUSTER_NODES": "127.0.0.1:7001, 127.0.0.1:7002", "DB_LATENCY_MS": "0", "INVALIDATION_SECRET": "0123456789abcdef,fedcba9876543210"},
			func(c Config) bool {
				return c.Port == 3003 && c.InstanceName == "app-3" && c.RunID == "abc_1" && len(c.RedisClusterNodes) == 2 &&
					c.DBLatency == 0 && len(c.InvalidationSecret) == 2
			}, ""},
		{"a port out of range", map[string]string{"PORT": "70000"}, nil, "PORT must be an integer from 1 to 65535"},
		{"a TTL that is not a number", map[string]string{"CACHE_TTL_MS": "soon"}, nil, "CACHE_TTL_MS"},
		{"another strategy", map[string]string{"CACHE_STRATEGY": "delete"}, nil, "CACHE_STRATEGY"},
		{"a short secret", map[string]string{"INVALIDATION_SECRET": "short"}, nil, "INVALIDATION_SECRET"},
		{"a heartbeat timeout below the interval", map[string]string{"HEARTBEAT_TIMEOUT_MS": "100"}, nil, "HEARTBEAT_TIMEOUT_MS"},
		{"a bad run id", map[string]string{"CLUSTER_RUN_ID": "a b"}, nil, "CLUSTER_RUN_ID"},
		{"jitter above 0.9", map[string]string{"TTL_JITTER": "1"}, nil, "TTL_JITTER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Read(func(name string) string { return tt.env[name] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(c) {
				t.Fatalf("%+v, %v", c, err)
			}
		})
	}
}
