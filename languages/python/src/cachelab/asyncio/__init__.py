"""The asyncio cache: ``redis.asyncio.Redis``, a subscriber task and a heartbeat task.

Same protocol, options and answers as :class:`cachelab.Cache`; every Redis call is bounded by
``redis_timeout_ms``. Create it inside a running loop and ``await cache.start()`` (or use
``async with``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any, Generic, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import NoPermissionError

from cachelab._core import Announcement, FillOutcome, VersionedCore, VersionedRead
from cachelab.asyncio._cluster import AsyncClusterSubscriber, aclose_pubsub, refresh_slots
from cachelab.cluster import REDIS_FAILURES, check_message
from cachelab.codec import at_least, check_entry, check_min_version
from cachelab.errors import InvalidationFailedError, RedisFailedError
from cachelab.fence import FENCE_REFUSED, acheck_fence
from cachelab.keys import check_key
from cachelab.messages import Message
from cachelab.options import CacheOptions
from cachelab.scripts import script_text
from cachelab.single_flight import AsyncSingleFlight
from cachelab.types import AsyncLoader, CacheRead, Consistency, Loaded, V

__all__ = ["Cache", "create_cache"]

T = TypeVar("T")
_RESUBSCRIBE_INTERVAL_S = 0.1
_FAILURES: tuple[type[Exception], ...] = (*REDIS_FAILURES, OSError, asyncio.TimeoutError)
_SUBSCRIBER_FAILURES: tuple[type[Exception], ...] = (*_FAILURES, ValueError)


class Cache(Generic[V]):
    """Two-tier cache-aside (L1 in this process, L2 in Redis) for one asyncio event loop, over
    a ``redis.asyncio.Redis`` or a ``redis.asyncio.RedisCluster``."""

    def __init__(
        self, client: aioredis.Redis | aioredis.RedisCluster, options: CacheOptions | None = None
    ) -> None:
        self.options = options or CacheOptions()
        self._redis = client
        sharded = self.options.pubsub == "sharded"
        # The snapshot fence on a single Redis only (a cluster's nodes restart one by one).
        self._core: VersionedCore[V] = VersionedCore(
            self.options,
            restart_fence=not sharded and not isinstance(client, aioredis.RedisCluster),
        )
        # One lock per channel around numbering and sending (see _publish).
        self._send_locks = {channel: asyncio.Lock() for channel in self._core.bus.channels}
        self._flights: AsyncSingleFlight[Loaded[V]] = AsyncSingleFlight(
            self.options.max_concurrent_loads, self._shed
        )
        self._read = client.register_script(script_text("read.lua"))
        self._fill = client.register_script(script_text("fill.lua"))
        self._announce = client.register_script(script_text("announce.lua"))
        self._pending: dict[str, Loaded[V]] = {}
        self._timeout_s = self.options.redis_timeout_ms / 1000
        self._closed = asyncio.Event()
        self._beat_now = asyncio.Event()
        self._pubsub: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()

    async def start(self) -> Cache[V]:
        """Starts the subscriber and the heartbeat; L1 serves once a heartbeat came back."""
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._subscribe_loop(), name="cachelab-subscriber"),
                asyncio.create_task(self._heartbeat_loop(), name="cachelab-heartbeat"),
            ]
        return self

    @property
    def origin(self) -> str:
        return self._core.origin

    @property
    def trusted(self) -> bool:
        return self._core.bus.trusted

    async def _call(self, call: Awaitable[T]) -> T:
        async with asyncio.timeout(self._timeout_s):
            return await call

    # --- reads -------------------------------------------------------------------------------

    async def get_or_load(
        self,
        key: str,
        loader: AsyncLoader[V],
        *,
        min_version: int = 0,
        consistency: Consistency = "eventual",
    ) -> CacheRead[V]:
        """As :meth:`cachelab.Cache.get_or_load`, with an async loader."""
        check_key(key)
        min_version = check_min_version(min_version)
        core = self._core
        core.counters.reads += 1
        floor = core.floor(key, min_version)
        local = core.local(key, floor)
        if local is not None:
            if consistency != "strict":
                return core.served_from_l1(local)
            answer = await self._confirmed(key, local.version, floor)
            if answer is True:
                return core.served_from_l1(local)
            if isinstance(answer, CacheRead):
                return answer
        else:
            token = core.fill_token()
            remote = core.from_redis(key, await self._read_redis(key), floor, token)
            if remote is not None:
                return remote
        core.counters.misses += 1
        joined = self._flights.has(key)
        loaded = await self._flights.run(key, lambda: self._load(key, loader))
        if joined and loaded.version < floor:
            loaded = await self._flights.run(key, lambda: self._load(key, loader))
        at_least(key, loaded, min_version)
        return CacheRead(loaded.value, loaded.version, "MISS")

    def get_local(self, key: str, *, min_version: int = 0) -> CacheRead[V] | None:
        """An eventual read's L1 hit, without awaiting anything; None when it must go further."""
        check_key(key)
        core = self._core
        local = core.local(key, core.floor(key, check_min_version(min_version)))
        if local is None:
            return None
        core.counters.reads += 1
        return core.served_from_l1(local)

    async def _confirmed(self, key: str, version: int, floor: int) -> CacheRead[V] | bool:
        token = self._core.fill_token()
        found = await self._read_redis(key)
        if found is not None and found.pointer == version:
            self._core.counters.strict_confirmed += 1
            return True
        self._core.counters.strict_refuted += 1
        return self._core.from_redis(key, found, floor, token) or False

    async def _read_redis(self, key: str) -> VersionedRead[V] | None:
        keys = self._core.keys
        if not self._core.may_read_redis():
            return None
        try:
            reply = await self._call(
                self._read(keys=[keys.pointer(key)], args=[keys.data_prefix(key)])
            )
        except _FAILURES as error:
            self._core.counters.degraded_reads += 1
            self._redis_failed(error)
            return None
        return self._core.parse_read(key, reply)

    async def _load(self, key: str, loader: AsyncLoader[V]) -> Loaded[V]:
        core = self._core
        token = core.fill_token()
        core.counters.loads += 1
        entry = check_entry(await loader(key), "the loader")
        if core.token_void(token):
            core.counters.fills_rejected["epoch"] += 1
            return entry
        announcement = core.announcement(key, entry.version, "advanced")
        outcome: FillOutcome | None = None
        published = False
        try:
            outcome, published = await self._fill_redis(key, entry, announcement)
        except _FAILURES as error:
            self._redis_failed(error)
        if published:
            core.counters.invalidations_sent += 1
        if outcome == "stale":
            core.counters.fills_rejected["superseded"] += 1
        else:
            core.fill_l1(key, entry, token)
        return entry

    async def _fill_redis(
        self, key: str, entry: Loaded[V], announcement: Announcement
    ) -> tuple[FillOutcome, bool]:
        keys, args = self._core.fill_args(key, entry, announcement)
        reply = await self._call(self._fill(keys=keys, args=args))
        outcome, published = self._core.parse_fill(reply)
        if published and announcement.sharded:
            await self._publish(announcement.channel, announcement.message)
        return outcome, published

    # --- writes ------------------------------------------------------------------------------

    async def set(self, key: str, written: Loaded[V]) -> None:
        """As :meth:`cachelab.Cache.set`: Redis forward and announced, then this L1."""
        check_key(key)
        check_entry(written, "set")
        core = self._core
        core.counters.writes += 1
        token = core.fill_token()
        core.raise_mark(key, written.version)
        outcome = await self._move_and_publish(key, written)
        core.raise_mark(key, written.version)
        if outcome == "stale":
            core.counters.fills_rejected["superseded"] += 1
        else:
            core.fill_l1(key, written, token)
        if outcome is None:
            self._keep_pending(key, written)

    async def _move_and_publish(self, key: str, written: Loaded[V]) -> FillOutcome | None:
        for _ in range(self.options.invalidate_attempts):
            announcement = self._core.announcement(key, written.version, "always")
            try:
                outcome, _published = await self._fill_redis(key, written, announcement)
            except _FAILURES as error:
                self._core.counters.publish_failures += 1
                self._redis_failed(error)
                continue
            self._core.counters.invalidations_sent += 1
            return outcome
        return None

    def _keep_pending(self, key: str, written: Loaded[V]) -> None:
        queued = self._pending.get(key)
        if queued is not None and queued.version >= written.version:
            return
        if queued is None and len(self._pending) >= self.options.high_water_mark_max_entries:
            self._core.counters.invalidation_failures += 1
            self._core.report(
                InvalidationFailedError(f"too many announcements pending; {key} may be stale")
            )
            return
        self._pending[key] = written

    async def _retry_pending(self) -> None:
        for key, written in list(self._pending.items()):
            announcement = self._core.announcement(key, written.version, "always")
            try:
                await self._fill_redis(key, written, announcement)
            except _FAILURES:
                self._core.counters.publish_failures += 1
                return
            self._core.counters.invalidations_sent += 1
            self._core.counters.invalidations_retried += 1
            if self._pending.get(key) is written:
                del self._pending[key]

    async def announce(self, key: str, version: int) -> None:
        """As :meth:`cachelab.Cache.announce`: a version committed elsewhere, without a value."""
        check_key(key)
        check_entry(Loaded(None, version), "announce")
        core = self._core
        core.counters.announcements += 1
        core.raise_mark(key, version, drop=True)
        announcement = core.announcement(key, version, "always")
        args = core.announce_args(key, version, announcement)
        try:
            outcome = core.parse_outcome(
                await self._call(self._announce(keys=[core.keys.pointer(key)], args=args))
            )
            if outcome != "stale" and announcement.sharded:
                await self._publish(announcement.channel, announcement.message)
        except _FAILURES as error:
            core.counters.publish_failures += 1
            self._redis_failed(error)
            raise
        if outcome != "stale":
            core.counters.invalidations_sent += 1
        core.raise_mark(key, version)

    # --- the subscription --------------------------------------------------------------------

    async def _subscribe_loop(self) -> None:
        bus = self._core.bus
        while not self._closed.is_set():
            try:
                if self._pubsub is None:
                    self._pubsub = await self._subscribe()
                    self._subscribed.set()
                    bus.on_ready()
                    self._beat_now.set()
                bus.check_liveness()
                message = check_message(await self._pubsub.get_message(timeout=0.05))
                if message is not None and message["type"] in ("message", "smessage"):
                    bus.on_message(message["data"], message["channel"])
            except _SUBSCRIBER_FAILURES as error:
                if self._closed.is_set():
                    return
                bus.on_down()
                self._redis_failed(error)
                await self._drop_pubsub()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), _RESUBSCRIBE_INTERVAL_S)
                if isinstance(self._redis, aioredis.RedisCluster):
                    await refresh_slots(self._redis)

    async def _subscribe(self) -> Any:
        if isinstance(self._redis, aioredis.RedisCluster):
            return await AsyncClusterSubscriber.open(
                self._redis,
                self._core.bus.channels,
                sharded=self._core.sharded,
                timeout_s=self.options.heartbeat_timeout_ms / 1000,
                on_message=lambda m: self._core.bus.on_message(m["data"], m["channel"]),
                on_reconnect=self._on_reconnect,
            )
        pubsub = self._redis.pubsub()
        channels = self._core.bus.channels
        try:
            if self._core.sharded:
                await self._call(pubsub.ssubscribe(*channels))
            else:
                await self._call(pubsub.subscribe(*channels))
            confirmed = 0
            async with asyncio.timeout(self.options.heartbeat_timeout_ms / 1000):
                while confirmed < len(channels):
                    reply = check_message(await pubsub.get_message(timeout=0.05))
                    if reply is None:
                        continue
                    if reply["type"] in ("subscribe", "ssubscribe"):
                        confirmed += 1
                    elif reply["type"] in ("message", "smessage"):
                        self._core.bus.on_message(reply["data"], reply["channel"])
            assert pubsub.connection is not None
            # redis-py reconnects and re-subscribes by itself; a reconnect may have lost messages.
            pubsub.connection.register_connect_callback(self._on_reconnect)
        except BaseException:
            await aclose_pubsub(pubsub, self._on_reconnect)
            raise
        return pubsub

    def _on_reconnect(self, _connection: Any) -> None:
        self._core.bus.on_down()
        self._core.bus.on_ready()
        self._beat_now.set()

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if isinstance(pubsub, AsyncClusterSubscriber):
            await pubsub.aclose()
        elif pubsub is not None:
            await aclose_pubsub(pubsub, self._on_reconnect)

    async def _heartbeat_loop(self) -> None:
        interval_s = self.options.heartbeat_interval_ms / 1000
        while not self._closed.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._beat_now.wait(), interval_s)
            self._beat_now.clear()
            if self._closed.is_set():
                return
            if self._core.fence.due:
                await self._check_fence()
            message = self._core.bus.heartbeat()
            try:
                channels = self._core.bus.channels
                await asyncio.gather(*(self._publish(channel, message) for channel in channels))
            except _FAILURES as error:
                self._redis_failed(error)
            if self._pending:
                await self._retry_pending()

    async def _publish(self, channel: str, message: Message) -> None:
        """Publishes ``message`` on ``channel``; sharded: SPUBLISHed with the channel's next
        ``cseq``. Numbered and sent under the channel's lock: two tasks' SPUBLISHes may go on
        two pooled connections and reach Redis in the other order, which every receiver would
        take for a lost message."""
        if not self._core.sharded:
            encoded = self._core.bus.encode_for(channel, message)
            await self._call(self._redis.publish(channel, encoded))
            return
        async with self._send_locks[channel]:
            encoded = self._core.bus.encode_for(channel, message)
            await self._call(self._redis.spublish(channel, encoded))

    async def _check_fence(self) -> None:
        """The snapshot fence's check (SPEC §12a), run by the heartbeat task whenever due, and
        again at once if the subscription dropped while it ran."""
        assert isinstance(self._redis, aioredis.Redis)
        fence = self._core.fence
        while fence.due and not self._closed.is_set():
            try:
                await acheck_fence(fence, self._redis, self._core.keys, self._call)
            except NoPermissionError as error:
                if fence.unavailable():
                    self._redis_failed(error, FENCE_REFUSED)
            except _FAILURES as error:
                # Retried at the next heartbeat; reads skip Redis until then.
                fence.failed()
                self._redis_failed(error)
                return

    # --- the rest ----------------------------------------------------------------------------

    def _redis_failed(self, error: BaseException, what: str = "redis") -> None:
        self._core.counters.redis_errors += 1
        failure = RedisFailedError(f"{what}: {error!r}")
        failure.__cause__ = error
        self._core.report(failure)

    def _shed(self) -> None:
        self._core.counters.loads_shed += 1

    def stats(self) -> dict[str, Any]:
        stats = self._core.stats()
        stats["pending_invalidations"] = len(self._pending)
        stats["loads_in_flight"] = len(self._flights)
        return stats

    async def wait_until_subscribed(self, timeout_s: float = 5.0) -> bool:
        """Waits until every SUBSCRIBE (or SSUBSCRIBE) was acknowledged once."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout_s)
        return self._subscribed.is_set()

    async def wait_until_trusted(self, timeout_s: float = 5.0) -> bool:
        """Waits until the first own heartbeat came back (L1 serves from then on)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(
                asyncio.to_thread(self._core.trusted_event.wait, timeout_s), timeout_s + 1
            )
        return self.trusted

    async def close(self) -> None:
        """Stops the heartbeat and the subscriber; L1 stops serving. Idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._beat_now.set()
        self._core.bus.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._drop_pubsub()

    async def __aenter__(self) -> Cache[V]:
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self.close()


async def create_cache(client: aioredis.Redis, **options: Any) -> Cache[Any]:
    """A started asyncio :class:`Cache` over ``client``; keyword options as CacheOptions."""
    return await Cache[Any](client, CacheOptions(**options)).start()
