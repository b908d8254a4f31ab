"""The Python adapter of the interop harness (protocol/INTEROP.md): one cache instance driven by
JSON lines on stdin, answered by JSON lines on stdout, each request handled as it arrives.

    REDIS_URL=redis://127.0.0.1:6379 CACHELAB_NAMESPACE=t1 CACHELAB_ORIGIN=py-1 \\
        python3 languages/python/interop_adapter.py

Runs from the repository with the sources (``src/`` is put on the path) or with the installed
``cachelab`` wheel. Only a single ``redis-server`` for now: with ``REDIS_CLUSTER_NODES`` it says
so on stderr and exits 2.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

import redis.asyncio as aioredis

import cachelab.asyncio as cl_async
from cachelab import CachelabError, CacheOptions, Consistency, Loaded

VERSION = "0.1.0"


def options_from_env() -> CacheOptions:
    heartbeat_ms = int(os.environ.get("CACHELAB_HEARTBEAT_MS") or 500)
    timeout_ms = int(os.environ.get("CACHELAB_HEARTBEAT_TIMEOUT_MS") or 4 * heartbeat_ms)
    secrets = [s for s in os.environ.get("CACHELAB_SECRETS", "").split(",") if s]
    return CacheOptions(
        namespace=os.environ.get("CACHELAB_NAMESPACE", "cl"),
        origin=os.environ.get("CACHELAB_ORIGIN") or None,
        heartbeat_interval_ms=heartbeat_ms,
        heartbeat_timeout_ms=timeout_ms,
        l1_ttl_ms=int(os.environ.get("CACHELAB_L1_TTL_MS") or 30_000),
        signing_secrets=secrets,
    )


class BadRequest(Exception):
    code = "E_BAD_REQUEST"


class Adapter:
    def __init__(self, cache: cl_async.Cache[Any]) -> None:
        self.cache = cache

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "read":
            return await self.read(request)
        if op in ("set", "delete"):
            value = None if op == "delete" else request.get("value")
            await self.cache.set(_key(request), Loaded(value, _version(request)))
            return {}
        if op == "announce":
            await self.cache.announce(_key(request), _version(request))
            return {}
        if op == "peek":
            hit = self.cache.get_local(_key(request))
            if hit is None:
                return {"found": False}
            return {"found": True, "value": hit.value, "version": hit.version}
        if op == "stats":
            stats = self.cache.stats()
            return {
                "trusted": stats["trusted"],
                "l1Entries": stats["l1_size"],
                "rejected": stats["messages_rejected"],
                "announcementsSent": stats["invalidations_sent"],
                "trustLost": stats["trust_lost"],
                "invalidationsReceived": stats["invalidations_received"],
            }
        raise BadRequest(f"unknown op {op!r}")

    async def read(self, request: dict[str, Any]) -> dict[str, Any]:
        source = request.get("source")
        delay_s = float(request.get("loadDelayMs") or 0) / 1000
        loaded = False

        async def loader(_key: str) -> Loaded[Any]:
            nonlocal loaded
            loaded = True
            if delay_s > 0:
                await asyncio.sleep(delay_s)  # the harness's simulated slow database
            if source is None:
                return Loaded(None, 0)
            return Loaded(source.get("value"), source.get("version"))

        consistency: Consistency = (
            "strict" if request.get("consistency") == "strict" else "eventual"
        )
        if request.get("consistency") not in (None, "eventual", "strict"):
            raise BadRequest("consistency must be eventual or strict")
        answer = await self.cache.get_or_load(
            _key(request),
            loader,
            min_version=request.get("minVersion") or 0,
            consistency=consistency,
        )
        return {
            "value": answer.value,
            "version": answer.version,
            "tier": answer.tier,
            "loaded": loaded,
        }


def _key(request: dict[str, Any]) -> str:
    key = request.get("key")
    if not isinstance(key, str):
        raise BadRequest("key must be a string")
    return key


def _version(request: dict[str, Any]) -> int:
    version = request.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BadRequest("version must be an integer")
    return version


def emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def answer(adapter: Adapter, raw: bytes) -> bool:
    """Answers one line; False after `close`."""
    try:
        request = json.loads(raw)
    except ValueError:
        request = None
    if not isinstance(request, dict) or "id" not in request:
        emit(
            {
                "id": None,
                "ok": False,
                "error": {"code": "E_BAD_REQUEST", "message": "not a request"},
            }
        )
        return True
    if request.get("op") == "close":
        await adapter.cache.close()
        emit({"id": request["id"], "ok": True})
        return False
    try:
        emit({"id": request["id"], "ok": True, **await adapter.handle(request)})
    except (CachelabError, BadRequest) as error:
        message = {"code": error.code, "message": str(error)}
        emit({"id": request["id"], "ok": False, "error": message})
    except (TypeError, ValueError) as error:
        message = {"code": "E_BAD_REQUEST", "message": str(error)}
        emit({"id": request["id"], "ok": False, "error": message})
    return True


async def main() -> int:
    if os.environ.get("REDIS_CLUSTER_NODES"):
        print("python adapter: Redis Cluster is not supported yet", file=sys.stderr)
        return 2
    client = aioredis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))
    cache: cl_async.Cache[Any] = cl_async.Cache(client, options_from_env())
    await cache.start()
    if not await cache.wait_until_subscribed(10):
        print("python adapter: could not subscribe", file=sys.stderr)
        return 2
    emit({"event": "ready", "impl": "python", "version": VERSION})
    adapter = Adapter(cache)
    reader = asyncio.StreamReader(limit=1 << 20)
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks: set[asyncio.Task[bool]] = set()
    closed = False
    while not closed:
        line = await reader.readline()
        if not line:
            break
        if not line.strip():
            continue
        if b'"close"' in line:
            # Close after the requests in flight have been answered.
            await asyncio.gather(*tasks)
            closed = not await answer(adapter, line)
            continue
        task = asyncio.create_task(answer(adapter, line))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    await cache.close()
    await client.aclose()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
