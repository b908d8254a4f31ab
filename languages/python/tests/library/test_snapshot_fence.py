"""The snapshot fence (SPEC §12a, MUST-FENCE-1) on a real redis-server with a directory of its
own: PUT v1, SAVE, PUT v2, SHUTDOWN NOSAVE, the server started again in that directory on the
same port (it loads v1's dump.rdb). No instance serves v1 afterwards: not the writer, not a reader
that had seen v2, not a newcomer that never saw the key."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

import cachelab.asyncio as cl_async
from cachelab import Cache, CacheOptions, Loaded
from cachelab.keys import Keys
from fakes import Source
from redis_server import RedisServer, start_redis, wait_for

#: How long each instance is read after the restart, beyond regaining trust (s).
_WATCH_S = 1.0
#: Trust must be back within this (s).
_GIVE_UP_S = 15.0


@dataclass
class SnapshotRedis:
    """A redis-server whose directory outlives it, restarted in place from its snapshot."""

    server: RedisServer

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.server.port, decode_responses=True, socket_timeout=2)

    def restart_from_snapshot(self) -> None:
        """SHUTDOWN NOSAVE (memory lost), then the same port and directory: dump.rdb is loaded."""
        self.server.client().shutdown(nosave=True)
        self.server.process.wait(timeout=10)
        self.server = start_redis(self.server.port, directory=self.server.directory)


@pytest.fixture
def snapshot_redis() -> Iterator[SnapshotRedis]:
    with tempfile.TemporaryDirectory(prefix="cachelab-snapshot-") as directory:
        redis_ = SnapshotRedis(start_redis(None, directory=directory))
        yield redis_
        redis_.server.stop()


def options(namespace: str, origin: str) -> CacheOptions:
    return CacheOptions(
        namespace=namespace, origin=origin, heartbeat_interval_ms=50, heartbeat_timeout_ms=500
    )


def save_v1_then_write_v2(
    snapshot_redis: SnapshotRedis, writer: Cache[Any], source: Source, *, keep_fence: bool
) -> None:
    writer.set("k", source.write("k", "v1"))
    admin = snapshot_redis.client()
    assert admin.get(Keys(writer.options.namespace).fence) is not None
    if not keep_fence:
        # As if the fence had expired before the snapshot: only instances that knew the old run
        # can tell.
        admin.delete(Keys(writer.options.namespace).fence)
    admin.save()
    writer.set("k", source.write("k", "v2"))
    assert Path(snapshot_redis.server.directory, "dump.rdb").is_file()


@pytest.mark.parametrize("keep_fence", [True, False], ids=["fence-in-snapshot", "no-fence"])
def test_no_instance_that_saw_v2_serves_the_snapshots_v1(
    snapshot_redis: SnapshotRedis, namespace: str, keep_fence: bool
) -> None:
    source = Source()
    writer = Cache[Any](snapshot_redis.client(), options(namespace, "writer"))
    reader = Cache[Any](snapshot_redis.client(), options(namespace, "reader"))
    try:
        assert writer.wait_until_trusted(5) and reader.wait_until_trusted(5)
        save_v1_then_write_v2(snapshot_redis, writer, source, keep_fence=keep_fence)
        wait_for(lambda: reader.get_or_load("k", source.load).version == 2, timeout_s=5)

        snapshot_redis.restart_from_snapshot()
        # No read until both lost trust and regained it: a read before would find the key's
        # high-water mark above v1, and its load would move the pointer past the snapshot's.
        # Regaining trust flushed the marks: only the fence stands between a read and v1 now.
        wait_for(
            lambda: all(c.trusted and c.stats()["trust_lost"] >= 1 for c in (writer, reader)),
            timeout_s=_GIVE_UP_S,
        )
        deadline = time.monotonic() + _WATCH_S
        while time.monotonic() < deadline:
            for cache in (writer, reader):
                read = cache.get_or_load("k", source.load)
                assert read.version == 2, (cache.origin, read)
            time.sleep(0.005)  # pacing of the reads, not a synchronisation
        # The restored namespace is gone (v2 filled again since), the fence names this run.
        admin = snapshot_redis.client()
        assert admin.get(Keys(namespace).pointer("k")) == "2"
        assert admin.get(Keys(namespace).fence) == admin.info("server")["run_id"]
    finally:
        writer.close()
        reader.close()


def test_a_newcomer_that_never_saw_the_key_does_not_serve_the_snapshots_v1(
    snapshot_redis: SnapshotRedis, namespace: str
) -> None:
    """The asyncio front end, alone on the restored Redis: the fence names the old run."""
    source = Source()
    with Cache[Any](snapshot_redis.client(), options(namespace, "writer")) as writer:
        assert writer.wait_until_trusted(5)
        save_v1_then_write_v2(snapshot_redis, writer, source, keep_fence=True)
    snapshot_redis.restart_from_snapshot()

    async def load(key: str) -> Loaded[Any]:
        return source.load(key)

    async def newcomer() -> None:
        client = aioredis.Redis(port=snapshot_redis.server.port, decode_responses=True)
        cache = cl_async.Cache[Any](client, options(namespace, "newcomer"))
        async with cache:
            # Read from the start, before its first check and after it, until it answers
            # from Redis (the check done, v2 filled again) and for a while more.
            tiers: set[str] = set()
            clock = asyncio.get_running_loop().time
            give_up, deadline = clock() + _GIVE_UP_S, None
            while deadline is None or clock() < deadline:
                assert clock() < give_up, "never answered from Redis"
                read = await cache.get_or_load("k", load)
                assert read.version == 2, read
                tiers.add(read.tier)
                if deadline is None and read.tier != "MISS" and cache.trusted:
                    deadline = clock() + _WATCH_S
                await asyncio.sleep(0.005)
            assert "L2" in tiers or "L1" in tiers
        await client.aclose()

    asyncio.run(newcomer())


def test_an_acl_without_info_scan_unlink_is_said_once_and_redis_is_used_unchecked(
    own_redis: RedisServer, namespace: str
) -> None:
    own_redis.client().acl_setuser(
        "cache",
        enabled=True,
        passwords=["+cache-password-1234"],
        keys=["*"],
        channels=["*"],
        categories=["+@all"],
        commands=["-info", "-scan", "-unlink"],
    )
    errors: list[str] = []

    def build(origin: str) -> Cache[Any]:
        client = redis.Redis(
            port=own_redis.port,
            username="cache",
            password="cache-password-1234",
            decode_responses=True,
            socket_timeout=2,
        )
        settings = options(namespace, origin)
        return Cache[Any](client, replace(settings, on_error=lambda e: errors.append(str(e))))

    source = Source()
    source.write("k", "v1")
    with build("a") as a, build("b") as b:
        assert a.wait_until_trusted(5) and b.wait_until_trusted(5)
        assert a.get_or_load("k", source.load).tier == "MISS"
        assert b.get_or_load("k", source.load).tier == "L2"  # Redis is read, unchecked
        assert a.stats()["redis_skipped"] == b.stats()["redis_skipped"] == 0
    refused = [e for e in errors if "allow +info +scan +unlink" in e]
    assert len(refused) == 2, errors  # once per cache
