"""The snapshot fence (SPEC §12a, MUST-FENCE-1), as Node's ``redis/restart-fence.ts``.

Redis may come back from an RDB or AOF snapshot with pointers older than versions the instances
acknowledged or announced. Every drop of the subscription may be such a restart: from then until a
check completes, reads skip Redis (they go to the loader; writes go through: a write moves the
pointer forward, which is right on any Redis). The check reads Redis's ``run_id`` and the
namespace's fence key (``ns:fence``); when the fence names another run, or is absent on a Redis
whose earlier run this instance had checked, Redis restarted from a snapshot and every key of the
namespace is deleted (``SCAN MATCH ns:{*`` + ``UNLINK``) before the fence is set to this run.

A single Redis only: a Redis Cluster's nodes restart one by one, each with its replica.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import redis
import redis.asyncio as aioredis

from cachelab.keys import Keys

#: How long the fence key lives (ms): renewed by every check; if it is gone, the check deletes.
FENCE_TTL_MS = 30 * 24 * 3600 * 1000
#: Keys one ``SCAN`` step asks for, and one ``UNLINK`` deletes at most.
_BATCH = 1000
_RUN_ID = re.compile(r"[0-9a-f]{1,64}")
#: Said once when an ACL refuses the check's commands.
FENCE_REFUSED = (
    "Redis refused INFO, SCAN or UNLINK (allow +info +scan +unlink): "
    "a Redis restored from an older snapshot is not detected"
)


class RestartFence:
    """Whether the read path may use Redis, and what a check has to do; no I/O. Thread-safe.

    ``suspect()`` is cheap and may be called under any lock; the front ends run the check
    (:func:`check_fence`, :func:`acheck_fence`) from their heartbeat thread or task while
    :attr:`due`.
    """

    def __init__(self, *, enabled: bool) -> None:
        self._lock = threading.Lock()
        self._enabled = enabled
        self._ready = not enabled
        self._due = enabled
        # Every suspicion starts a new generation: a check that began before it proves nothing.
        self._generation = 0
        self._known_run_id: str | None = None
        self._unavailable = False

    @property
    def ready(self) -> bool:
        """True when no restart is left unchecked: reads may use Redis, trust may come back."""
        return self._ready

    @property
    def due(self) -> bool:
        """True while a check has to run (again)."""
        return self._due

    def suspect(self) -> None:
        """The subscription dropped (or lost a message): Redis may have restarted."""
        with self._lock:
            if not self._enabled or self._unavailable:
                return
            self._ready = False
            self._due = True
            self._generation += 1

    def begin(self) -> int:
        """A check starts: its generation, for :meth:`checked`."""
        with self._lock:
            self._due = False
            return self._generation

    def restored(self, run_id: str, fenced: str | None) -> bool:
        """Whether Redis (now in run ``run_id``, its fence ``fenced``) came back from a snapshot:
        another run's fence, or none where this instance had checked another run. No fence and
        no run known: a namespace never fenced (new, or its fence expired), which nothing says
        is older."""
        with self._lock:
            restarted = self._known_run_id is not None and self._known_run_id != run_id
            return fenced != run_id and (fenced is not None or restarted)

    def checked(self, run_id: str, generation: int) -> None:
        """A check of ``generation`` wrote the fence of ``run_id``. Ready unless suspected since."""
        with self._lock:
            self._known_run_id = run_id
            if generation == self._generation:
                self._ready = True
            else:
                self._due = True

    def failed(self) -> None:
        """The check failed (Redis unreachable, say): tried again at the next heartbeat."""
        with self._lock:
            self._due = True

    def unavailable(self) -> bool:
        """Redis refused the check's commands (an ACL without +info +scan +unlink): Redis is
        used as before, unchecked. True the first time only, to say so once."""
        with self._lock:
            first = not self._unavailable
            self._unavailable = True
            self._ready = True
            self._due = False
            return first


def run_id_of(info: dict[str, Any]) -> str:
    """``run_id`` from ``INFO server`` as redis-py parses it."""
    run_id = str(info.get("run_id", ""))
    if _RUN_ID.fullmatch(run_id) is None:
        raise redis.ResponseError(f"INFO server has no run_id ({run_id!r})")
    return run_id


def _text(value: str | bytes | None) -> str | None:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def check_fence(fence: RestartFence, client: redis.Redis, keys: Keys) -> int:
    """One check on a single Redis; raises what the client raises. The keys it deleted."""
    generation = fence.begin()
    run_id = run_id_of(client.info("server"))
    deleted = 0
    if fence.restored(run_id, _text(client.get(keys.fence))):
        cursor: int = 0
        while True:
            cursor, found = client.scan(cursor, match=keys.pattern, count=_BATCH)
            if found:
                deleted += int(client.unlink(*found))
            if cursor == 0:
                break
    client.set(keys.fence, run_id, px=FENCE_TTL_MS)
    fence.checked(run_id, generation)
    return deleted


async def acheck_fence(
    fence: RestartFence,
    client: aioredis.Redis,
    keys: Keys,
    call: Callable[[Awaitable[Any]], Awaitable[Any]],
) -> int:
    """:func:`check_fence` for asyncio, each Redis call bounded by ``call``."""
    generation = fence.begin()
    run_id = run_id_of(await call(client.info("server")))
    deleted = 0
    if fence.restored(run_id, _text(await call(client.get(keys.fence)))):
        cursor: int = 0
        while True:
            cursor, found = await call(client.scan(cursor, match=keys.pattern, count=_BATCH))
            if found:
                deleted += int(await call(client.unlink(*found)))
            if cursor == 0:
                break
    await call(client.set(keys.fence, run_id, px=FENCE_TTL_MS))
    fence.checked(run_id, generation)
    return deleted
