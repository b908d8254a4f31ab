"""The outbox relay: the statements of ``packages/store/src/outbox-relay.ts``. Claims a batch of
``cache_outbox`` rows under a lease, announces each (key, version), deletes them once announced.
Any number of instances, of any language, relay side by side (``FOR UPDATE SKIP LOCKED``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from psycopg_pool import AsyncConnectionPool

from cachelab.keys import is_valid_key

log = logging.getLogger("cachelab_instance.outbox")

# A claim is a lease, not a transaction held open across the Redis call.
CLAIM = """
UPDATE cache_outbox SET claimed_until = clock_timestamp() + %s * interval '1 millisecond'
WHERE seq IN (
  SELECT seq FROM cache_outbox
  WHERE claimed_until IS NULL OR claimed_until < clock_timestamp()
  ORDER BY seq LIMIT %s
  FOR UPDATE SKIP LOCKED)
RETURNING seq, key, version"""
DELETE = "DELETE FROM cache_outbox WHERE seq = ANY(%s::bigint[])"
RELEASE = "UPDATE cache_outbox SET claimed_until = NULL WHERE seq = ANY(%s::bigint[])"
SET_ASIDE = """
WITH moved AS (DELETE FROM cache_outbox WHERE seq = %s RETURNING seq, key, version, created_at)
INSERT INTO cache_outbox_dead (seq, key, version, created_at, reason)
SELECT seq, key, version, created_at, %s FROM moved ON CONFLICT (seq) DO NOTHING"""

_MAX_SAFE_INTEGER = 2**53 - 1


def problem_of(key: str, version: int) -> str | None:
    """Why no cache may announce an outbox row, or None when it may.

    Every row of the database's outbox is relayed, of whichever table: the namespace belongs to
    the database (SPEC MUST-OUTBOX-2).
    """
    if not 1 <= version <= _MAX_SAFE_INTEGER:
        return "version is not a positive safe integer"
    if not is_valid_key(key):
        return "key outside the key scheme"
    return None


class OutboxRelay:
    """Polls the outbox every ``poll_ms`` and relays what it claims through ``announce``."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        announce: Callable[[str, int], Awaitable[None]],
        *,
        poll_ms: int = 250,
        batch_size: int = 500,
        lease_ms: int = 5000,
    ) -> None:
        self._pool = pool
        self._announce = announce
        self._poll_s = poll_ms / 1000
        self._batch_size = batch_size
        self._lease_ms = lease_ms
        self._task: asyncio.Task[None] | None = None
        self.counters = {
            "relayed": 0,
            "batches": 0,
            "setAside": 0,
            "failures": 0,
            "notifications": 0,
        }

    def start(self) -> None:
        """Starts polling."""
        self._task = asyncio.create_task(self._run(), name="cachelab-outbox-relay")

    async def close(self) -> None:
        """Stops polling; a batch in flight is abandoned (its lease runs out)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                while await self.relay_batch():
                    pass
            except Exception as error:  # noqa: BLE001 - database or Redis: the next poll retries
                self.counters["failures"] += 1
                log.debug("outbox relay failed: %r", error)
            await asyncio.sleep(self._poll_s)

    async def relay_batch(self) -> bool:
        """One batch; True when the outbox may hold more."""
        async with self._pool.connection() as connection:
            cursor = await connection.execute(CLAIM, (self._lease_ms, self._batch_size))
            rows = await cursor.fetchall()
        if not rows:
            return False
        good: list[tuple[int, str, int]] = []
        for seq, key, version in rows:
            problem = problem_of(key, version)
            if problem is None:
                good.append((seq, key, version))
            else:
                await self._set_aside(seq, problem)
        if good:
            seqs = [seq for seq, _, _ in good]
            try:
                for _, key, version in good:
                    await self._announce(key, version)
            except BaseException:
                # Back in the outbox at once, for the next attempt.
                with contextlib.suppress(Exception):
                    async with self._pool.connection() as connection:
                        await connection.execute(RELEASE, (seqs,))
                raise
            async with self._pool.connection() as connection:
                await connection.execute(DELETE, (seqs,))
            self.counters["relayed"] += len(good)
            self.counters["batches"] += 1
        return len(rows) == self._batch_size

    async def _set_aside(self, seq: int, reason: str) -> None:
        async with self._pool.connection() as connection:
            await connection.execute(SET_ASIDE, (seq, reason))
        self.counters["setAside"] += 1
