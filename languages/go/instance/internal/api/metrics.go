package api

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/cachelab/cachelab/languages/go/cachelab"
	"github.com/cachelab/cachelab/languages/go/instance/internal/store"
)

// Metrics is an instance's Prometheus registry: the request histogram, the database query
// histogram, and the cache, database and outbox counters read at every scrape — the names of
// packages/app/src/metrics.ts.
type Metrics struct {
	Registry    *prometheus.Registry
	http        *prometheus.HistogramVec
	queries     *prometheus.HistogramVec
	apiRequests atomic.Int64
}

// NewMetrics registers the Go runtime and process collectors and the histograms.
func NewMetrics() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.http = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cachelab_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route pattern, method, status and X-Cache tier.",
		Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
	}, []string{"method", "route", "status", "cache"})
	m.queries = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cachelab_db_query_duration_seconds",
		Help:    "Database query latency (simulated latency included), by operation and outcome.",
		Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5},
	}, []string{"operation", "outcome"})
	m.Registry.MustRegister(m.http, m.queries, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveQuery feeds the query histogram (store.Users.OnQuery).
func (m *Metrics) ObserveQuery(operation string, d time.Duration, ok bool) {
	outcome := "ok"
	if !ok {
		outcome = "error"
	}
	m.queries.WithLabelValues(operation, outcome).Observe(d.Seconds())
}

// CollectFrom registers the scrape-time counters of the cache, the database and the relay.
func (m *Metrics) CollectFrom(cache func() cachelab.Stats, db func() store.Stats, relay func() store.RelayStats, instance Identity) {
	m.Registry.MustRegister(&countersCollector{cache: cache, db: db, relay: relay})
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "cachelab_instance_info",
		Help: "This instance: its name, id and language."}, []string{"name", "id", "language"})
	info.WithLabelValues(instance.Name, instance.ID, "go").Set(1)
	m.Registry.MustRegister(info)
}

type countersCollector struct {
	cache func() cachelab.Stats
	db    func() store.Stats
	relay func() store.RelayStats
}

type counterDesc struct {
	desc  *prometheus.Desc
	value func(s cachelab.Stats, d store.Stats, r store.RelayStats) []labelled
}

type labelled struct {
	value  float64
	labels []string
}

func one(v int64) []labelled { return []labelled{{value: float64(v)}} }

var counterDescs = func() []counterDesc {
	c := "cachelab_cache_"
	d := func(name, help string, labels []string, value func(cachelab.Stats, store.Stats, store.RelayStats) []labelled) counterDesc {
		return counterDesc{desc: prometheus.NewDesc(name, help, labels, nil), value: value}
	}
	return []counterDesc{
		d(c+"reads_total", "Cache reads (getOrLoad calls).", nil, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled { return one(s.Reads) }),
		d(c+"hits_total", "Reads answered by a cache tier (L1 in-process, L2 Redis).", []string{"tier"}, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled {
			return []labelled{{float64(s.L1Hits), []string{"L1"}}, {float64(s.L2Hits), []string{"L2"}}}
		}),
		d(c+"misses_total", "Reads that needed the loader.", nil, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled { return one(s.Misses) }),
		d(c+"negative_hits_total", "Hits on a cached \"not found\".", nil, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled { return one(s.NegativeHits) }),
		d(c+"loads_total", "Loader calls (single-flight joins misses).", nil, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled { return one(s.Loads) }),
		d(c+"l2_stale_total", "Redis entries skipped as older than announced.", nil, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled { return one(s.L2Stale) }),
		d(c+"fills_rejected_total", "L1 fills refused, by reason.", []string{"reason"}, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled {
			f := s.FillsRejected
			return []labelled{{float64(f.Superseded), []string{"superseded"}}, {float64(f.Epoch), []string{"epoch"}}, {float64(f.Forgotten), []string{"forgotten"}}}
		}),
		d(c+"redis_errors_total", "Redis calls that failed or timed out.", nil, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled { return one(s.RedisErrors) }),
		// Go has no health gate: its only skips are reads while Redis is checked for a restored snapshot.
		d(c+"redis_skipped_total", "Redis calls skipped (failed at once): Redis had not answered since a timeout, or was being checked for a restored snapshot.", nil, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled { return one(s.RedisSkipped) }),
		d(c+"writes_total", "Writes handled (cache.set calls).", nil, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled { return one(s.Writes) }),
		d(c+"invalidations_sent_total", "Invalidations published.", nil, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled { return one(s.InvalidationsSent) }),
		d(c+"invalidations_received_total", "Invalidations received from other instances.", nil, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled {
			return one(s.InvalidationsReceived)
		}),
		d(c+"messages_rejected_total", "Messages on the channel rejected, by reason (malformed, unsigned, forged).", []string{"reason"}, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled {
			m := s.MessagesRejected
			return []labelled{{float64(m.Malformed), []string{"malformed"}}, {float64(m.Unsigned), []string{"unsigned"}}, {float64(m.Forged), []string{"forged"}}}
		}),
		d(c+"publish_failures_total", "Failed publish attempts.", nil, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled { return one(s.PublishFailures) }),
		d(c+"trust_lost_total", "Times L1 stopped being trusted.", nil, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled { return one(s.TrustLost) }),
		d(c+"stalls_total", "Process stalls that withheld L1 until an own heartbeat returned.", nil, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled { return one(s.Stalls) }),
		d(c+"l1_flushes_total", "L1 flushes (one per recovery).", nil, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled { return one(s.L1Flushes) }),
		d(c+"l1_evictions_total", "L1 entries evicted by the size bound.", nil, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled { return one(s.L1Evictions) }),
		d(c+"degraded_reads_total", "Reads that went to the database because Redis failed or timed out.", nil, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled { return one(s.DegradedReads) }),
		d(c+"loads_shed_total", "Misses refused at once because too many loads were in flight.", nil, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled { return one(s.LoadsShed) }),
		d(c+"lease_waits_total", "Misses answered by another instance's load (the load lease) instead of a database read.", nil, func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled { return one(s.LeaseWaits) }),
		d("cachelab_db_queries_total", "Database queries sent.", nil, func(_ cachelab.Stats, d store.Stats, _ store.RelayStats) []labelled { return one(d.Queries) }),
		d("cachelab_db_query_errors_total", "Database queries that failed.", nil, func(_ cachelab.Stats, d store.Stats, _ store.RelayStats) []labelled { return one(d.Errors) }),
		d("cachelab_db_failed_fast_total", "Queries refused at once while the database was known to be down.", nil, func(_ cachelab.Stats, d store.Stats, _ store.RelayStats) []labelled { return one(d.FailedFast) }),
		d("cachelab_outbox_relayed_total", "Outbox rows announced by this instance's relay.", nil, func(_ cachelab.Stats, _ store.Stats, r store.RelayStats) []labelled { return one(r.Relayed) }),
		d("cachelab_outbox_batches_total", "Outbox batches relayed.", nil, func(_ cachelab.Stats, _ store.Stats, r store.RelayStats) []labelled { return one(r.Batches) }),
		d("cachelab_outbox_set_aside_total", "Outbox rows set aside (not announceable).", nil, func(_ cachelab.Stats, _ store.Stats, r store.RelayStats) []labelled { return one(r.SetAside) }),
		d("cachelab_outbox_failures_total", "Relay runs that failed.", nil, func(_ cachelab.Stats, _ store.Stats, r store.RelayStats) []labelled { return one(r.Failures) }),
	}
}()

// gaugeDescs are read at scrape time too, as gauges.
var gaugeDescs = []counterDesc{
	{prometheus.NewDesc("cachelab_cache_l1_entries", "Entries in L1.", nil, nil),
		func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled { return one(int64(s.L1Size)) }},
	{prometheus.NewDesc("cachelab_cache_l1_trusted", "1 while L1 is served.", nil, nil),
		func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled {
			if s.Trusted {
				return one(1)
			}
			return one(0)
		}},
	{prometheus.NewDesc("cachelab_cache_high_water_marks", "Keys whose announced version is remembered.", nil, nil),
		func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled {
			return one(int64(s.HighWaterMarks))
		}},
	{prometheus.NewDesc("cachelab_cache_pending_invalidations", "Invalidations waiting for Redis.", nil, nil),
		func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled {
			return one(int64(s.PendingInvalidations))
		}},
	{prometheus.NewDesc("cachelab_cache_loads_in_flight", "Distinct keys being loaded from the database now.", nil, nil),
		func(s cachelab.Stats, _ store.Stats, _ store.RelayStats) []labelled {
			return one(int64(s.LoadsInFlight))
		}},
}

func (c *countersCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range append(counterDescs, gaugeDescs...) {
		ch <- d.desc
	}
}

// Collect takes one snapshot of each source per scrape, so every family reports the same moment.
func (c *countersCollector) Collect(ch chan<- prometheus.Metric) {
	s, d, r := c.cache(), c.db(), c.relay()
	for _, desc := range counterDescs {
		for _, l := range desc.value(s, d, r) {
			ch <- prometheus.MustNewConstMetric(desc.desc, prometheus.CounterValue, l.value, l.labels...)
		}
	}
	for _, desc := range gaugeDescs {
		for _, l := range desc.value(s, d, r) {
			ch <- prometheus.MustNewConstMetric(desc.desc, prometheus.GaugeValue, l.value, l.labels...)
		}
	}
}
