"""The instance's settings, read from the environment in one place, with the variables, defaults
and rules of a Node instance (``packages/app/src/settings.ts``) that apply to this one."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from cachelab import CacheOptions, InvalidOptionError

_INSTANCE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,55}")
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CLUSTER_NODE = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})")
_DIGITS = re.compile(r"\s*\d+\s*")
_FRACTION = re.compile(r"\s*\d+(\.\d+)?\s*")


class ConfigError(ValueError):
    """Invalid settings; the message lists every invalid variable."""


@dataclass(frozen=True, kw_only=True)
class Config:
    """Settings of one instance (each field names its variable; defaults as Node's)."""

    port: int  # PORT, 3000
    host: str  # HOST, 127.0.0.1
    instance_name: str  # INSTANCE_NAME, app
    run_id: str | None  # CLUSTER_RUN_ID
    redis_url: str  # REDIS_URL
    redis_cluster_nodes: list[tuple[str, int]] | None  # REDIS_CLUSTER_NODES
    database_url: str  # DATABASE_URL
    db_latency_ms: int  # DB_LATENCY_MS, 50
    db_pool_max: int  # DB_POOL_MAX, 10
    db_query_timeout_ms: int  # DB_QUERY_TIMEOUT_MS, 5000
    db_connect_timeout_ms: int  # DB_CONNECT_TIMEOUT_MS, 2000
    seed_users: int  # SEED_USERS, 10000
    outbox_poll_ms: int  # OUTBOX_POLL_MS, 250
    outbox_batch_size: int  # OUTBOX_BATCH_SIZE, 500
    outbox_lease_ms: int  # OUTBOX_LEASE_MS, 5000
    startup_timeout_ms: int  # STARTUP_TIMEOUT_MS, 30000
    shutdown_timeout_ms: int  # SHUTDOWN_TIMEOUT_MS, 10000
    cache: CacheOptions  # CACHE_NAMESPACE, CACHE_TTL_MS, L1_*, HEARTBEAT_*, INVALIDATION_SECRET…


def read_config(env: Mapping[str, str]) -> Config:
    """Reads and validates the settings; raises :class:`ConfigError` listing every problem."""
    problems: list[str] = []

    def get(name: str) -> str | None:
        raw = env.get(name)
        return raw if raw else None

    def integer(name: str, fallback: int, low: int, high: int) -> int:
        raw = get(name)
        if raw is None:
            return fallback
        if not raw.strip().isdigit() or not low <= int(raw) <= high:
            problems.append(f"{name} must be an integer from {low} to {high}, got {raw!r}")
            return fallback
        return int(raw)

    def url(name: str, fallback: str, schemes: tuple[str, ...]) -> str:
        raw = get(name) or fallback
        if urlsplit(raw).scheme not in schemes:
            problems.append(f"{name} must be a {' or '.join(s + ':' for s in schemes)}// URL")
        return raw

    name = get("INSTANCE_NAME") or "app"
    if not _INSTANCE_NAME.fullmatch(name):
        problems.append("INSTANCE_NAME must be 1-55 characters of [A-Za-z0-9_.-]")
    run_id = get("CLUSTER_RUN_ID")
    if run_id is not None and not _RUN_ID.fullmatch(run_id):
        problems.append("CLUSTER_RUN_ID must be 1-64 characters of [A-Za-z0-9_-]")
    nodes = _cluster_nodes(get("REDIS_CLUSTER_NODES"), problems)
    cache = _cache_options(env, sharded=nodes is not None, problems=problems)
    config = Config(
        port=integer("PORT", 3000, 1, 65535),
        host=get("HOST") or "127.0.0.1",
        instance_name=name,
        run_id=run_id,
        redis_url=url("REDIS_URL", "redis://127.0.0.1:6379", ("redis", "rediss")),
        redis_cluster_nodes=nodes,
        database_url=url(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:25432/postgres",
            ("postgres", "postgresql"),
        ),
        db_latency_ms=integer("DB_LATENCY_MS", 50, 0, 60_000),
        db_pool_max=integer("DB_POOL_MAX", 10, 1, 1000),
        db_query_timeout_ms=integer("DB_QUERY_TIMEOUT_MS", 5000, 1, 600_000),
        db_connect_timeout_ms=integer("DB_CONNECT_TIMEOUT_MS", 2000, 1, 600_000),
        seed_users=integer("SEED_USERS", 10_000, 0, 10_000_000),
        outbox_poll_ms=integer("OUTBOX_POLL_MS", 250, 1, 600_000),
        outbox_batch_size=integer("OUTBOX_BATCH_SIZE", 500, 1, 100_000),
        outbox_lease_ms=integer("OUTBOX_LEASE_MS", 5000, 1, 3_600_000),
        startup_timeout_ms=integer("STARTUP_TIMEOUT_MS", 30_000, 0, 3_600_000),
        shutdown_timeout_ms=integer("SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
        cache=cache or CacheOptions(),
    )
    strategy = get("CACHE_STRATEGY") or "versioned"
    if strategy != "versioned":
        problems.append(
            f"CACHE_STRATEGY: the Python instance implements versioned only, got {strategy!r}"
        )
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return config


def _cluster_nodes(raw: str | None, problems: list[str]) -> list[tuple[str, int]] | None:
    if raw is None or not raw.strip():
        return None
    nodes = []
    for entry in (part.strip() for part in raw.split(",")):
        match = _CLUSTER_NODE.fullmatch(entry)
        if match is None or not 1 <= int(match.group(2)) <= 65535:
            problems.append(
                f"REDIS_CLUSTER_NODES must be a comma-separated list of host:port, got {entry!r}"
            )
            return None
        nodes.append((match.group(1).strip("[]"), int(match.group(2))))
    return nodes


# Variable → (option, kind): the cache settings a Node instance reads that this cache has.
_CACHE_VARIABLES = {
    "CACHE_NAMESPACE": ("namespace", "text"),
    "CACHE_TTL_MS": ("ttl_ms", "int"),
    "TTL_JITTER": ("ttl_jitter", "fraction"),
    "NEGATIVE_TTL_MS": ("negative_ttl_ms", "int"),
    "L1_MAX_ENTRIES": ("l1_max_entries", "int"),
    "L1_TTL_MS": ("l1_ttl_ms", "int"),
    "HIGH_WATER_MARK_MAX_ENTRIES": ("high_water_mark_max_entries", "int"),
    "HEARTBEAT_INTERVAL_MS": ("heartbeat_interval_ms", "int"),
    "HEARTBEAT_TIMEOUT_MS": ("heartbeat_timeout_ms", "int"),
    "REDIS_TIMEOUT_MS": ("redis_timeout_ms", "int"),
    "MAX_CONCURRENT_LOADS": ("max_concurrent_loads", "int"),
}


def _cache_options(
    env: Mapping[str, str], *, sharded: bool, problems: list[str]
) -> CacheOptions | None:
    options: dict[str, object] = {"pubsub": "sharded" if sharded else "global"}
    for variable, (option, kind) in _CACHE_VARIABLES.items():
        raw = env.get(variable)
        if not raw:
            continue
        if kind == "text":
            options[option] = raw
        elif kind == "int" and _DIGITS.fullmatch(raw):
            options[option] = int(raw)
        elif kind == "fraction" and _FRACTION.fullmatch(raw):
            options[option] = float(raw)
        else:
            problems.append(f"{variable} must be a number, got {raw!r}")
            return None
    secrets = env.get("INVALIDATION_SECRET")
    if secrets:
        options["signing_secrets"] = [secret.strip() for secret in secrets.split(",")]
    try:
        return CacheOptions(**options)  # type: ignore[arg-type]
    except InvalidOptionError as error:
        problems.append(str(error))
        return None
