"""The synchronous cache: redis-py's ``redis.Redis``, a subscriber thread and a heartbeat thread."""

from __future__ import annotations

import threading
from typing import Any, Generic

import redis
from redis.exceptions import NoPermissionError

from cachelab._core import Announcement, FillOutcome, VersionedCore, VersionedRead
from cachelab.cluster import (
    REDIS_FAILURES,
    SUBSCRIBER_FAILURES,
    ClusterSubscriber,
    check_message,
    close_pubsub,
    refresh_slots,
)
from cachelab.codec import at_least, check_entry, check_min_version
from cachelab.errors import InvalidationFailedError, RedisFailedError
from cachelab.fence import FENCE_REFUSED, check_fence
from cachelab.keys import check_key
from cachelab.messages import Message
from cachelab.options import CacheOptions
from cachelab.scripts import script_text
from cachelab.single_flight import SingleFlight
from cachelab.types import CacheRead, Consistency, Loaded, Loader, V

#: How long the subscriber waits between attempts to reconnect (s).
_RESUBSCRIBE_INTERVAL_S = 0.1


class Cache(Generic[V]):
    """Two-tier cache-aside (L1 in this process, L2 in Redis) for threads.

    ``client`` is the command client, a ``redis.Redis`` or a ``redis.RedisCluster``; the
    subscriber takes connections of its own from it (on a cluster, one on each node that owns a
    channel's slot: :mod:`cachelab.cluster`). Reads are answered from L1 only while the
    subscription is trusted. Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self, client: redis.Redis | redis.RedisCluster, options: CacheOptions | None = None
    ) -> None:
        self.options = options or CacheOptions()
        self._redis = client
        sharded = self.options.pubsub == "sharded"
        # The snapshot fence on a single Redis only (a cluster's nodes restart one by one).
        self._core: VersionedCore[V] = VersionedCore(
            self.options,
            restart_fence=not sharded and not isinstance(client, redis.RedisCluster),
        )
        # One lock per channel around numbering and sending (see _publish).
        self._send_locks = {channel: threading.Lock() for channel in self._core.bus.channels}
        self._flights: SingleFlight[Loaded[V]] = SingleFlight(
            self.options.max_concurrent_loads, self._shed
        )
        self._read = client.register_script(script_text("read.lua"))
        self._fill = client.register_script(script_text("fill.lua"))
        self._announce = client.register_script(script_text("announce.lua"))
        self._pending: dict[str, Loaded[V]] = {}
        self._closed = threading.Event()
        self._beat_now = threading.Event()
        self._pubsub: Any = None
        self._subscriber = threading.Thread(
            target=self._subscribe_loop, name="cachelab-subscriber", daemon=True
        )
        self._heart = threading.Thread(
            target=self._heartbeat_loop, name="cachelab-heartbeat", daemon=True
        )
        self._subscriber.start()
        self._heart.start()

    @property
    def origin(self) -> str:
        """This instance's id in its messages."""
        return self._core.origin

    @property
    def trusted(self) -> bool:
        """True while L1 may serve: the subscription is known to deliver every message."""
        return self._core.bus.trusted

    # --- reads -------------------------------------------------------------------------------

    def get_or_load(
        self,
        key: str,
        loader: Loader[V],
        *,
        min_version: int = 0,
        consistency: Consistency = "eventual",
    ) -> CacheRead[V]:
        """L1 (trusted, at or above the key's mark and ``min_version``) → Redis (pointer and
        data in one round trip) → one load per key in this process, which fills both tiers."""
        check_key(key)
        min_version = check_min_version(min_version)
        core = self._core
        with core.lock:
            core.counters.reads += 1
        floor = core.floor(key, min_version)
        local = core.local(key, floor)
        if local is not None:
            if consistency != "strict":
                return core.served_from_l1(local)
            answer = self._confirmed(key, local.version, floor)
            if answer is True:
                return core.served_from_l1(local)
            if isinstance(answer, CacheRead):
                return answer
        else:
            token = core.fill_token()
            remote = core.from_redis(key, self._read_redis(key), floor, token)
            if remote is not None:
                return remote
        with core.lock:
            core.counters.misses += 1
        joined = self._flights.has(key)
        loaded = self._flights.run(key, lambda: self._load(key, loader))
        # A shared load joined may have read the database before the version this read needs.
        if joined and loaded.version < floor:
            loaded = self._flights.run(key, lambda: self._load(key, loader))
        at_least(key, loaded, min_version)
        return CacheRead(loaded.value, loaded.version, "MISS")

    def _confirmed(self, key: str, version: int, floor: int) -> CacheRead[V] | bool:
        """Strict: the L1 hit stands if Redis's pointer confirms it; else Redis's own answer."""
        token = self._core.fill_token()
        found = self._read_redis(key)
        if found is not None and found.pointer == version:
            self._core.counters.strict_confirmed += 1
            return True
        self._core.counters.strict_refuted += 1
        return self._core.from_redis(key, found, floor, token) or False

    def _read_redis(self, key: str) -> VersionedRead[V] | None:
        if not self._core.may_read_redis():
            return None
        try:
            reply = self._read(
                keys=[self._core.keys.pointer(key)], args=[self._core.keys.data_prefix(key)]
            )
        except REDIS_FAILURES as error:
            # The read goes on to the loader: degraded (slower, still correct), never failed.
            self._core.counters.degraded_reads += 1
            self._redis_failed(error)
            return None
        return self._core.parse_read(key, reply)

    def _load(self, key: str, loader: Loader[V]) -> Loaded[V]:
        core = self._core
        # Taken before the database read: the fill is void if trust or the marks changed after.
        token = core.fill_token()
        with core.lock:
            core.counters.loads += 1
        entry = check_entry(loader(key), "the loader")
        if core.token_void(token):
            # The bus dropped meanwhile: what was read may be stale, and no tier may take it.
            core.counters.fills_rejected["epoch"] += 1
            return entry
        try:
            outcome, published = self._fill_redis(
                key, entry, core.announcement(key, entry.version, "advanced")
            )
        except REDIS_FAILURES as error:
            self._redis_failed(error)
            outcome, published = None, False
        if published:
            core.counters.invalidations_sent += 1
        if outcome == "stale":
            # Redis knows a newer version: what we read is already superseded.
            core.counters.fills_rejected["superseded"] += 1
        else:
            core.fill_l1(key, entry, token)
        return entry

    def _fill_redis(
        self, key: str, entry: Loaded[V], announcement: Announcement
    ) -> tuple[FillOutcome, bool]:
        keys, args = self._core.fill_args(key, entry, announcement)
        outcome, published = self._core.parse_fill(self._fill(keys=keys, args=args))
        if published and announcement.sharded:
            # A script may only publish on its keys' slot; the shard channel is in another.
            self._publish(announcement.channel, announcement.message)
        return outcome, published

    # --- writes ------------------------------------------------------------------------------

    def set(self, key: str, written: Loaded[V]) -> None:
        """After the database commit, with the row it returned: Redis moves forward and the
        invalidation is published in one script; then this process's L1 takes the new version,
        so that its next read sees its own write."""
        check_key(key)
        check_entry(written, "set")
        core = self._core
        with core.lock:
            core.counters.writes += 1
        token = core.fill_token()
        # The mark first: a read of an older version here can no longer fill L1. Raised again
        # after Redis, in case a resubscribe flushed the marks meanwhile.
        core.raise_mark(key, written.version)
        outcome = self._move_and_publish(key, written)
        core.raise_mark(key, written.version)
        if outcome == "stale":
            core.counters.fills_rejected["superseded"] += 1
        else:
            core.fill_l1(key, written, token)
        if outcome is None:
            self._keep_pending(key, written)

    def _move_and_publish(self, key: str, written: Loaded[V]) -> FillOutcome | None:
        for _ in range(self.options.invalidate_attempts):
            try:
                outcome, _published = self._fill_redis(
                    key, written, self._core.announcement(key, written.version, "always")
                )
            except REDIS_FAILURES as error:
                self._core.counters.publish_failures += 1
                self._redis_failed(error)
                continue
            self._core.counters.invalidations_sent += 1
            return outcome
        return None

    def _keep_pending(self, key: str, written: Loaded[V]) -> None:
        """Retried by the heartbeat thread until Redis takes it; bounded, newest per key."""
        with self._core.lock:
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

    def _retry_pending(self) -> None:
        with self._core.lock:
            pending = list(self._pending.items())
        for key, written in pending:
            try:
                self._fill_redis(
                    key, written, self._core.announcement(key, written.version, "always")
                )
            except REDIS_FAILURES:
                self._core.counters.publish_failures += 1
                return
            with self._core.lock:
                self._core.counters.invalidations_sent += 1
                self._core.counters.invalidations_retried += 1
                if self._pending.get(key) is written:
                    del self._pending[key]

    def announce(self, key: str, version: int) -> None:
        """A version committed elsewhere (an outbox row): this process's L1 and marks, then the
        pointer moved forward and the invalidation published, without a value."""
        check_key(key)
        check_entry(Loaded(None, version), "announce")
        core = self._core
        core.counters.announcements += 1
        core.raise_mark(key, version, drop=True)
        announcement = core.announcement(key, version, "always")
        try:
            reply = self._announce(
                keys=[core.keys.pointer(key)], args=core.announce_args(key, version, announcement)
            )
            outcome = core.parse_outcome(reply)
            if outcome != "stale" and announcement.sharded:
                self._publish(announcement.channel, announcement.message)
        except REDIS_FAILURES as error:
            core.counters.publish_failures += 1
            self._redis_failed(error)
            raise
        if outcome != "stale":
            core.counters.invalidations_sent += 1
        core.raise_mark(key, version)

    # --- the subscription --------------------------------------------------------------------

    def _subscribe_loop(self) -> None:
        bus = self._core.bus
        while not self._closed.is_set():
            try:
                if self._pubsub is None:
                    self._pubsub = self._subscribe()
                    bus.on_ready()
                    self._beat_now.set()
                bus.check_liveness()
                message = check_message(self._pubsub.get_message(timeout=0.05))
                if message is not None and message["type"] in ("message", "smessage"):
                    bus.on_message(message["data"], message["channel"])
            except SUBSCRIBER_FAILURES as error:
                if self._closed.is_set():
                    return
                bus.on_down()
                self._redis_failed(error)
                self._drop_pubsub()
                self._closed.wait(_RESUBSCRIBE_INTERVAL_S)
                if isinstance(self._redis, redis.RedisCluster):
                    refresh_slots(self._redis)

    def _subscribe(self) -> Any:
        if isinstance(self._redis, redis.RedisCluster):
            return ClusterSubscriber(
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
                pubsub.ssubscribe(*channels)
            else:
                pubsub.subscribe(*channels)
            # Wait for every confirmation, so that trust never precedes the subscription.
            confirmed = 0
            while confirmed < len(channels):
                reply = check_message(
                    pubsub.get_message(timeout=self.options.heartbeat_timeout_ms / 1000)
                )
                if reply is None:
                    raise redis.TimeoutError("no SUBSCRIBE confirmation")
                if reply["type"] in ("subscribe", "ssubscribe"):
                    confirmed += 1
                elif reply["type"] in ("message", "smessage"):
                    self._core.bus.on_message(reply["data"], reply["channel"])
            # redis-py reconnects and re-subscribes by itself; any reconnect may have lost
            # messages, so it withdraws trust until a later heartbeat comes back.
            assert pubsub.connection is not None
            pubsub.connection.register_connect_callback(self._on_reconnect)
        except BaseException:
            close_pubsub(pubsub, self._on_reconnect)
            raise
        return pubsub

    def _on_reconnect(self, _connection: Any) -> None:
        self._core.bus.on_down()
        self._core.bus.on_ready()
        self._beat_now.set()

    def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if isinstance(pubsub, ClusterSubscriber):
            pubsub.close()
        elif pubsub is not None:
            close_pubsub(pubsub, self._on_reconnect)

    def _heartbeat_loop(self) -> None:
        interval_s = self.options.heartbeat_interval_ms / 1000
        while not self._closed.is_set():
            self._beat_now.wait(interval_s)
            self._beat_now.clear()
            if self._closed.is_set():
                return
            if self._core.fence.due:
                self._check_fence()
            message = self._core.bus.heartbeat()
            try:
                for channel in self._core.bus.channels:
                    self._publish(channel, message)
            except REDIS_FAILURES as error:
                # A lost heartbeat is what the timeout check catches.
                self._redis_failed(error)
            if self._pending:
                self._retry_pending()

    def _publish(self, channel: str, message: Message) -> None:
        """Publishes ``message`` on ``channel``; sharded: SPUBLISHed with the channel's next
        ``cseq``. Numbered and sent under the channel's lock: two threads' SPUBLISHes go on two
        pooled connections and could reach Redis in the other order, which every receiver
        would take for a lost message."""
        if not self._core.sharded:
            self._redis.publish(channel, self._core.bus.encode_for(channel, message))
            return
        with self._send_locks[channel]:
            self._redis.spublish(channel, self._core.bus.encode_for(channel, message))

    def _check_fence(self) -> None:
        """The snapshot fence's check (SPEC §12a), run by the heartbeat thread whenever due, and
        again at once if the subscription dropped while it ran."""
        assert isinstance(self._redis, redis.Redis)
        fence = self._core.fence
        while fence.due and not self._closed.is_set():
            try:
                check_fence(fence, self._redis, self._core.keys)
            except NoPermissionError as error:
                if fence.unavailable():
                    self._redis_failed(error, FENCE_REFUSED)
            except REDIS_FAILURES as error:
                # Retried at the next heartbeat; reads skip Redis until then.
                fence.failed()
                self._redis_failed(error)
                return

    # --- the rest ----------------------------------------------------------------------------

    def _redis_failed(self, error: BaseException, what: str = "redis") -> None:
        with self._core.lock:
            self._core.counters.redis_errors += 1
        failure = RedisFailedError(f"{what}: {error}")
        failure.__cause__ = error
        self._core.report(failure)

    def _shed(self) -> None:
        self._core.counters.loads_shed += 1

    def stats(self) -> dict[str, Any]:
        """Counters, trust and sizes, as Node's ``cache.stats()``."""
        stats = self._core.stats()
        stats["pending_invalidations"] = len(self._pending)
        stats["loads_in_flight"] = len(self._flights)
        return stats

    def wait_until_trusted(self, timeout_s: float = 5.0) -> bool:
        """Blocks until the first own heartbeat came back (L1 serves from then on)."""
        self._core.trusted_event.wait(timeout_s)
        return self.trusted

    def close(self) -> None:
        """Stops the heartbeat and the subscriber; L1 stops serving. Idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._beat_now.set()
        self._core.bus.close()
        self._heart.join(timeout=5)
        self._subscriber.join(timeout=5)
        self._drop_pubsub()

    def __enter__(self) -> Cache[V]:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
