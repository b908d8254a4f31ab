"""What ``/stats`` and ``/metrics`` report, under the names of a Node instance
(``packages/app/src/routes/ops.ts`` and ``metrics.ts``), so that the lab, ``npm run stats`` and a
Prometheus scraping the cluster see one kind of instance whatever its language."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

# Counters Node's cache has and this one does not (its load lease, stale-if-error, early refresh).
_ABSENT = (
    "leaseWaits",
    "leaseTimeouts",
    "staleServed",
    "earlyRefreshes",
    "earlyRefreshFailures",
)
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


def _camel(name: str) -> str:
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)


class Propagation:
    """The last invalidation delays received (ms), for ``propagationMs`` in ``/stats``."""

    def __init__(self, size: int = 1024) -> None:
        self.samples: deque[float] = deque(maxlen=size)
        self.count = 0
        #: Also told of every delay (the ``/metrics`` histogram).
        self.observers: list[Callable[[float], None]] = []

    def add(self, delay_ms: float) -> None:
        """One invalidation received ``delay_ms`` after it was published."""
        self.count += 1
        self.samples.append(delay_ms)
        for observe in self.observers:
            observe(delay_ms)

    def summary(self) -> dict[str, float | int | None]:
        ordered = sorted(self.samples)

        def rank(q: float) -> float | None:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None

        return {
            "count": self.count,
            "last": self.samples[-1] if self.samples else None,
            "p50": rank(0.5),
            "p99": rank(0.99),
            "max": ordered[-1] if ordered else None,
        }


def cache_stats(raw: dict[str, Any], propagation: Propagation) -> dict[str, Any]:
    """The Python cache's ``stats()`` as Node's ``CacheStats`` (camelCase, the same fields)."""
    stats: dict[str, Any] = {_camel(key): value for key, value in raw.items()}
    for name in _ABSENT:
        stats.setdefault(name, 0)
    stats.pop("hitRatio", None)
    stats["propagationMs"] = propagation.summary()
    return stats


class Sources(Protocol):
    """Where the scrape-time counters come from (the app)."""

    def cache_stats(self) -> dict[str, Any]:
        """The cache's counters under Node's names."""

    def database_stats(self) -> dict[str, int]:
        """The repository's counters."""

    def outbox_stats(self) -> dict[str, int]:
        """The relay's counters."""


class Metrics:
    """The instance's Prometheus registry: request, propagation and query histograms, and the
    counters of the cache, the database and the outbox read at scrape time."""

    def __init__(self, identity: dict[str, str], sources: Sources) -> None:
        self.registry = CollectorRegistry()
        self.requests = 0
        self.request_duration = Histogram(
            "cachelab_http_request_duration_seconds",
            "Time to answer an HTTP request, by route pattern, method, status and X-Cache tier.",
            ["method", "route", "status", "cache"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.propagation = Histogram(
            "cachelab_cache_propagation_delay_seconds",
            "Delay from publishing an invalidation on one instance to receiving it on this one.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.query_duration = Histogram(
            "cachelab_db_query_duration_seconds",
            "Database query latency (simulated latency included), by operation and outcome.",
            ["operation", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_Scraped(identity, sources))

    def observe_request(self, method: str, route: str, status: int, tier: str, s: float) -> None:
        """One answered request; ``/users`` routes count as API requests in ``/stats``."""
        if route.startswith("/users"):
            self.requests += 1
        self.request_duration.labels(method, route, str(status), tier).observe(s)

    def observe_query(self, operation: str, s: float, ok: bool) -> None:
        """One database query, ``s`` seconds, simulated latency included."""
        self.query_duration.labels(operation, "ok" if ok else "error").observe(s)

    def observe_propagation(self, delay_ms: float) -> None:
        """One invalidation received ``delay_ms`` after it was published."""
        self.propagation.observe(delay_ms / 1000)


# (metric, help, field of the cache stats or a labelled split)
_CACHE_COUNTERS: list[tuple[str, str, str | tuple[str, dict[str, str]]]] = [
    ("reads", "Cache reads (getOrLoad calls).", "reads"),
    (
        "hits",
        "Reads answered by a cache tier (L1 in-process, L2 Redis).",
        ("tier", {"L1": "l1Hits", "L2": "l2Hits"}),
    ),
    ("misses", "Reads that needed the loader.", "misses"),
    ("negative_hits", 'Hits on a cached "not found".', "negativeHits"),
    ("loads", "Loader calls (single-flight joins misses).", "loads"),
    (
        "strict_checks",
        "Strict reads whose L1 version Redis confirmed or refuted.",
        ("result", {"confirmed": "strictConfirmed", "refuted": "strictRefuted"}),
    ),
    ("l2_stale", "Redis entries skipped as older than announced.", "l2Stale"),
    ("redis_errors", "Redis calls that failed or timed out.", "redisErrors"),
    (
        "redis_skipped",
        "Redis calls skipped (failed at once): Redis had not answered since a timeout,"
        " or was being checked for a restored snapshot.",
        "redisSkipped",
    ),
    ("corrupt_entries", "Undecodable Redis entries.", "corruptEntries"),
    ("writes", "Writes handled (cache.set calls).", "writes"),
    ("announcements", "Versions announced without a value.", "announcements"),
    ("invalidations_sent", "Invalidations published.", "invalidationsSent"),
    (
        "invalidations_received",
        "Invalidations received from other instances.",
        "invalidationsReceived",
    ),
    ("publish_failures", "Failed publish attempts.", "publishFailures"),
    (
        "invalidations_retried",
        "Invalidations that went through on a background retry.",
        "invalidationsRetried",
    ),
    (
        "invalidation_failures",
        "Invalidations given up (stale up to the TTL).",
        "invalidationFailures",
    ),
    ("trust_lost", "Times L1 stopped being trusted.", "trustLost"),
    (
        "subscriber_reconnects",
        "Subscriber recoveries (trust regained after a loss).",
        "subscriberReconnects",
    ),
    ("stalls", "Stalls that withheld L1 until an own heartbeat returned.", "stalls"),
    ("l1_flushes", "L1 flushes (one per recovery).", "l1Flushes"),
    ("l1_evictions", "L1 entries evicted by the size bound.", "l1Evictions"),
    (
        "degraded_reads",
        "Reads that went to the database because Redis failed or timed out.",
        "degradedReads",
    ),
    ("loads_shed", "Misses refused at once because too many loads were in flight.", "loadsShed"),
    (
        "stale_served",
        "Reads answered with an expired copy because the database failed.",
        "staleServed",
    ),
    ("lease_waits", "Misses answered by another instance's load.", "leaseWaits"),
    (
        "lease_timeouts",
        "Waits for another instance's load that ended without its fill.",
        "leaseTimeouts",
    ),
    (
        "early_refreshes",
        "Background reloads started by an L1 hit near its expiry.",
        "earlyRefreshes",
    ),
    (
        "early_refresh_failures",
        "Background reloads near expiry that failed.",
        "earlyRefreshFailures",
    ),
]
_CACHE_GAUGES = [
    ("l1_entries", "Entries in L1.", "l1Size"),
    ("l1_trusted", "1 while L1 is served.", "trusted"),
    ("high_water_marks", "Keys whose announced version is remembered.", "highWaterMarks"),
    ("pending_invalidations", "Invalidations waiting for Redis.", "pendingInvalidations"),
    ("loads_in_flight", "Distinct keys being loaded from the database now.", "loadsInFlight"),
]
_OUTBOX = [
    ("relayed", "Outbox rows announced."),
    ("batches", "Outbox batches relayed."),
    ("set_aside", "Outbox rows set aside as unannounceable."),
    ("failures", "Relay runs that failed."),
    ("notifications", "NOTIFY wake-ups of the relay."),
]
_DATABASE = [
    ("queries", "Database queries issued.", "queries"),
    ("query_errors", "Database queries that failed.", "errors"),
    ("failed_fast", "Queries refused at once while the database was unavailable.", "failedFast"),
]


class _Scraped(Collector):
    def __init__(self, identity: dict[str, str], sources: Sources) -> None:
        self._identity = identity
        self._sources = sources

    def collect(self) -> Iterator[Any]:
        info = InfoMetricFamily(
            "cachelab_instance",
            "This instance: its name, the id it drew at start, and its cache strategy.",
        )
        info.add_metric([], self._identity)
        yield info
        stats = self._sources.cache_stats()
        for name, help_text, source in _CACHE_COUNTERS:
            family = CounterMetricFamily(
                f"cachelab_cache_{name}",
                help_text,
                labels=[source[0]] if isinstance(source, tuple) else None,
            )
            if isinstance(source, tuple):
                for label, field in source[1].items():
                    family.add_metric([label], float(stats.get(field, 0)))
            else:
                family.add_metric([], float(stats.get(source, 0)))
            yield family
        for reason_field, metric in (
            ("fillsRejected", "fills_rejected"),
            ("messagesRejected", "messages_rejected"),
        ):
            family = CounterMetricFamily(
                f"cachelab_cache_{metric}", f"{metric}, by reason.", labels=["reason"]
            )
            for reason, count in stats.get(reason_field, {}).items():
                family.add_metric([reason], float(count))
            yield family
        for name, help_text, field in _CACHE_GAUGES:
            yield GaugeMetricFamily(f"cachelab_cache_{name}", help_text, value=float(stats[field]))
        database = self._sources.database_stats()
        for name, help_text, field in _DATABASE:
            yield CounterMetricFamily(f"cachelab_db_{name}", help_text, value=database[field])
        outbox = self._sources.outbox_stats()
        for name, help_text in _OUTBOX:
            yield CounterMetricFamily(
                f"cachelab_outbox_{name}", help_text, value=outbox[_camel(name)]
            )
