"""``cachelab-instance``: one instance of the mixed cluster, in Python. Reads the environment a
Node instance reads (``packages/app/src/config.ts``), prepares the database with the same
idempotent SQL, relays the outbox, and serves the HTTP API on uvicorn until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import string
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
import redis.asyncio as aioredis
import uvicorn
from psycopg_pool import AsyncConnectionPool
from redis.asyncio.cluster import ClusterNode

from cachelab import CachelabError
from cachelab.asyncio import Cache
from cachelab_instance.app import App, Deps
from cachelab_instance.config import Config, ConfigError, read_config
from cachelab_instance.observe import Propagation
from cachelab_instance.outbox import OutboxRelay
from cachelab_instance.schema import prepare_database
from cachelab_instance.users import UsersRepository

log = logging.getLogger("cachelab_instance")
#: What uvicorn's h11 reads of a request line and header section before it answers a 400 of its
#: own: 64 KiB of header fields and 16 KiB of request line, so that the instance, not the server,
#: answers a request whose header fields are over ``HEADER_LIMIT`` (16 KiB) with its 431.
SERVER_HEAD_LIMIT = 80 * 1024
_ID_CHARACTERS = string.ascii_letters + string.digits + "_-"


async def _prepare(config: Config) -> None:
    """Runs the schema's idempotent SQL, retrying until the database answers (it may start
    beside the instances) or ``STARTUP_TIMEOUT_MS`` passed."""
    deadline = time.monotonic() + config.startup_timeout_ms / 1000
    said_at = 0.0
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                config.database_url,
                autocommit=True,
                prepare_threshold=None,
                connect_timeout=max(1, config.db_connect_timeout_ms // 1000),
            ) as connection:
                await prepare_database(connection, config.seed_users)
                return
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                raise
            # Said once, then every 5 s: the database may take seconds to start beside us.
            if time.monotonic() - said_at > 5:
                said_at = time.monotonic()
                log.info("waiting for the database: %s", str(error).strip().splitlines()[-1])
            await asyncio.sleep(0.2)


def _redis_client(config: Config) -> aioredis.Redis | aioredis.RedisCluster:
    """One Redis (``REDIS_URL``), or a Redis Cluster (``REDIS_CLUSTER_NODES``, with the
    credentials and TLS of ``REDIS_URL`` for every node, as in Node's ``redis-cluster.ts``)."""
    timeouts: dict[str, Any] = {
        "socket_timeout": max(1.0, config.cache.redis_timeout_ms / 1000 * 4),
        "socket_connect_timeout": 1.0,
    }
    if config.redis_cluster_nodes is None:
        return aioredis.Redis.from_url(config.redis_url, health_check_interval=0, **timeouts)
    url = urlsplit(config.redis_url)
    return aioredis.RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in config.redis_cluster_nodes],
        username=unquote(url.username) if url.username else None,
        password=unquote(url.password) if url.password else None,
        ssl=url.scheme == "rediss",
        **timeouts,
    )


@contextlib.asynccontextmanager
async def serve(config: Config) -> AsyncIterator[App]:
    """Builds the instance (database prepared, cache started, relay running) and tears it down."""
    instance_id = "".join(secrets.choice(_ID_CHARACTERS) for _ in range(8))
    identity = {"name": config.instance_name, "id": instance_id}
    if config.run_id is not None:
        identity["runId"] = config.run_id
    await _prepare(config)
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        config.database_url,
        min_size=1,
        max_size=config.db_pool_max,
        timeout=config.db_connect_timeout_ms / 1000,
        kwargs={"autocommit": True, "prepare_threshold": None},
        open=False,
    )
    await pool.open()
    client = _redis_client(config)
    propagation = Propagation()

    def on_error(error: CachelabError) -> None:
        log.debug("cache: %s", error)

    options = replace(
        config.cache,
        origin=f"{config.instance_name}/{instance_id}",
        on_propagated=propagation.add,
        on_error=on_error,
    )
    cache: Cache[dict[str, Any]] = Cache(client, options)
    await cache.start()
    users = UsersRepository(pool, latency_ms=config.db_latency_ms)
    relay = OutboxRelay(
        pool,
        cache.announce,
        poll_ms=config.outbox_poll_ms,
        batch_size=config.outbox_batch_size,
        lease_ms=config.outbox_lease_ms,
    )
    app = App(Deps(identity, cache, users, client.ping, relay, propagation))
    relay.start()
    try:
        yield app
    finally:
        app.deps.draining = True
        await relay.close()
        await cache.close()
        await client.aclose()
        await pool.close()


async def _run(config: Config) -> None:
    async with serve(config) as app:
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=config.host,
                port=config.port,
                # h11 by name: the limit below is its own (uvicorn gives httptools no such setting).
                http="h11",
                h11_max_incomplete_event_size=SERVER_HEAD_LIMIT,
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=max(1, config.shutdown_timeout_ms // 1000),
            )
        )
        log.info(
            "cachelab-instance %s listening on http://%s:%d",
            config.instance_name,
            config.host,
            config.port,
        )
        await server.serve()


def main() -> None:
    """The console entry point."""
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "info").upper()
        if os.environ.get("LOG_LEVEL", "info") in ("debug", "info", "warn", "error")
        else "INFO",
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        config = read_config(os.environ)
    except ConfigError as error:
        print(error, file=sys.stderr)
        sys.exit(2)
    try:
        asyncio.run(_run(config))
    except ConfigError as error:
        print(error, file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
