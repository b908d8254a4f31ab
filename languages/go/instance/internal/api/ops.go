package api

import (
	"math"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cachelab/cachelab/languages/go/cachelab"
	"github.com/cachelab/cachelab/languages/go/instance/internal/store"
)

func (h *handler) ops(w http.ResponseWriter, r *http.Request, name string) {
	switch name {
	case "healthz":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	case "readyz":
		h.readyz(w, r)
	case "stats":
		writeJSON(w, http.StatusOK, h.stats())
	case "metrics":
		promhttp.HandlerFor(h.Metrics.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	}
}

// readyz: ready means the database answers; without Redis an instance still serves, slower.
func (h *handler) readyz(w http.ResponseWriter, r *http.Request) {
	redisCheck, dbCheck := make(chan string, 1), make(chan string, 1)
	go func() { redisCheck <- probe(r.Context(), h.RedisPing) }()
	go func() { dbCheck <- probe(r.Context(), h.Users.Ping) }()
	redis, database := <-redisCheck, <-dbCheck
	draining := h.Draining()
	ready := database == "ok" && !draining
	status := "ready"
	switch {
	case draining:
		status = "draining"
	case !ready:
		status = "unavailable"
	case redis != "ok":
		status = "degraded"
	}
	s := h.Cache.Stats()
	l1 := "untrusted"
	if s.Trusted {
		l1 = "trusted"
	}
	body := map[string]any{"status": status, "checks": map[string]string{"redis": redis, "database": database},
		"l1": l1, "counts": map[string]int64{"degradedReads": s.DegradedReads, "redisErrors": s.RedisErrors, "loadsShed": s.LoadsShed}}
	if h.Instance.RunID != "" {
		body["run"] = h.Instance.RunID
	}
	code := http.StatusOK
	if !ready {
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, code, body)
}

// statsCache is the cache's counters as /stats reports them: hitRatio null before a read.
type statsCache struct {
	cachelab.Stats
	Strategy string   `json:"strategy"`
	HitRatio *float64 `json:"hitRatio"`
}

func (h *handler) stats() map[string]any {
	s := h.Cache.Stats()
	cache := statsCache{Stats: s, Strategy: "versioned"}
	if s.Reads > 0 && !math.IsNaN(s.HitRatio) {
		ratio := s.HitRatio
		cache.HitRatio = &ratio
	}
	var outbox any
	if h.Relay != nil {
		outbox = h.Relay.Stats()
	}
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	return map[string]any{
		"instance":      h.Instance,
		"uptimeSeconds": int64(math.Round(time.Since(h.startedAt).Seconds())),
		"http":          map[string]int64{"requests": h.Metrics.apiRequests.Load()},
		"cache":         cache,
		"database":      h.Users.Stats(),
		"outbox":        outbox,
		// The Node names, filled with what the Go runtime reports.
		"memory": map[string]uint64{"rss": mem.Sys, "heapUsed": mem.HeapAlloc, "heapTotal": mem.HeapSys, "external": 0},
	}
}

// RelayStats is nil-safe for the metrics collector.
func RelayStats(r *store.Relay) func() store.RelayStats {
	return func() store.RelayStats {
		if r == nil {
			return store.RelayStats{}
		}
		return r.Stats()
	}
}
