"""The state one instance's cache shares between its read, write and announce paths, and the
pure steps of those paths; the sync (:mod:`cachelab.sync`) and asyncio (:mod:`cachelab.asyncio`)
front ends do the I/O around them."""

from __future__ import annotations

import base64
import contextlib
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Generic, Literal

from cachelab.bus import BusState, monotonic_ms
from cachelab.codec import encode_value, loads, parse_version
from cachelab.errors import CachelabError, CorruptEntryError
from cachelab.fence import RestartFence
from cachelab.keys import Keys
from cachelab.local import HighWaterMarks, L1Store, jitter_ttl
from cachelab.messages import Clear, Invalidation, MessageCodec, RejectReason, wall_clock_ms
from cachelab.options import CacheOptions
from cachelab.types import CacheRead, Loaded, V

FillOutcome = Literal["moved", "current", "stale"]
_OUTCOMES: dict[int, FillOutcome] = {1: "moved", 0: "current", -1: "stale"}


@dataclass
class Counters:
    """What ``stats()`` reports; names as in the Node library's ``/stats``."""

    reads: int = 0
    l1_hits: int = 0
    l2_hits: int = 0
    misses: int = 0
    loads: int = 0
    negative_hits: int = 0
    l2_stale: int = 0
    writes: int = 0
    announcements: int = 0
    invalidations_sent: int = 0
    invalidations_received: int = 0
    invalidations_retried: int = 0
    publish_failures: int = 0
    invalidation_failures: int = 0
    strict_confirmed: int = 0
    strict_refuted: int = 0
    redis_errors: int = 0
    redis_skipped: int = 0
    degraded_reads: int = 0
    corrupt_entries: int = 0
    loads_shed: int = 0
    trust_lost: int = 0
    l1_flushes: int = 0
    subscriber_reconnects: int = 0
    stalls: int = 0
    fills_rejected: dict[str, int] = field(
        default_factory=lambda: {"epoch": 0, "superseded": 0, "forgotten": 0}
    )
    messages_rejected: dict[str, int] = field(
        default_factory=lambda: {"malformed": 0, "unsigned": 0, "forged": 0}
    )


@dataclass(frozen=True, slots=True)
class FillToken:
    """What a fill must still match when it lands; taken before the read it fills from."""

    epoch: int
    mark_evictions: int
    clears: int


@dataclass(frozen=True, slots=True)
class Announcement:
    """The invalidation sent with a fill. Global: ``payload`` is published by the script.
    ``sharded``: ``payload`` is empty, and ``message`` is SPUBLISHed after the script, encoded
    (and numbered) as it is sent."""

    channel: str
    message: Invalidation
    payload: str
    when: Literal["always", "advanced"]
    sharded: bool


@dataclass(frozen=True, slots=True)
class VersionedRead(Generic[V]):
    """What one round trip found: the pointer, the entry at it, and whether either is foreign."""

    pointer: int | None
    entry: Loaded[V] | None
    corrupt: bool


def random_origin() -> str:
    return base64.urlsafe_b64encode(os.urandom(6)).decode("ascii")


class VersionedCore(Generic[V]):
    """One instance's L1, marks, bus trust and counters, under one lock."""

    def __init__(self, options: CacheOptions, *, restart_fence: bool = False) -> None:
        self.options = options
        self.keys = Keys(options.namespace)
        self.origin = options.origin or random_origin()
        self.counters = Counters()
        self.lock = threading.RLock()
        self.l1: L1Store[V] = L1Store(options.l1_max_entries, options.l1_ttl_ms, options.ttl_jitter)
        self.marks = HighWaterMarks(options.high_water_mark_max_entries)
        self.sharded = options.pubsub == "sharded"
        # Signatures cover the namespace's channel name, whichever channel a message travels on.
        self.codec = MessageCodec(self.keys.channel, tuple(options.signing_secrets))
        #: The snapshot fence (SPEC §12a): on a single Redis, ``restart_fence``.
        self.fence = RestartFence(enabled=restart_fence)
        self.bus = BusState(
            lock=self.lock,
            channels=self.keys.shard_channels if self.sharded else (self.keys.channel,),
            origin=self.origin,
            codec=self.codec,
            sharded=self.sharded,
            heartbeat_interval_ms=options.heartbeat_interval_ms,
            heartbeat_timeout_ms=options.heartbeat_timeout_ms,
            on_invalidation=self.on_invalidation,
            on_clear=self.on_clear,
            on_trust_change=self.on_trust_change,
            on_rejected=self.on_rejected,
            on_stall=self.on_stall,
            # Any drop may be Redis restarting, perhaps from an older snapshot: check first.
            on_lost=self.fence.suspect,
            # Trusted again only once the check has run: a trusted instance reads Redis at once.
            may_trust=lambda: self.fence.ready,
        )
        self._seq = 0
        #: Clears of the namespace heard (SPEC §5.8): a fill whose token is older is void.
        self.clears = 0
        #: Set while trusted, for callers that wait for the first heartbeat.
        self.trusted_event = threading.Event()

    # --- receiving ---------------------------------------------------------------------------

    def on_invalidation(self, message: Invalidation) -> None:
        """Another instance announced a version: raise the mark, drop older L1 copies."""
        with self.lock:
            self.counters.invalidations_received += 1
            # Max is idempotent and commutative: duplicates and reordering change nothing.
            self.marks.raise_(message.key, message.version)
            self.l1.drop_older_than(message.key, message.version)
        if self.options.on_propagated is not None:
            # A broken observer must not break invalidation.
            with contextlib.suppress(Exception):
                self.options.on_propagated(max(0.0, wall_clock_ms() - message.ts))

    def on_clear(self, _message: Clear) -> None:
        """Another instance cleared the namespace: drop L1, void the fills in flight; the marks
        stay (versions still only grow)."""
        with self.lock:
            self.counters.invalidations_received += 1
            self.clears += 1
            self.l1.clear()
            self.counters.l1_flushes += 1

    def token_void(self, token: FillToken) -> bool:
        """True when trust changed or the namespace was cleared since ``token``: fill nothing."""
        with self.lock:
            return self.bus.epoch != token.epoch or self.clears != token.clears

    def on_trust_change(self, trusted: bool) -> None:
        with self.lock:
            if not trusted:
                self.trusted_event.clear()
                self.counters.trust_lost += 1
                return
            # Messages may have been lost while the channel was deaf: forget what was learnt.
            if self.counters.trust_lost > 0:
                self.counters.subscriber_reconnects += 1
            self.l1.clear()
            self.marks.clear()
            self.counters.l1_flushes += 1
            self.trusted_event.set()

    def on_rejected(self, reason: RejectReason) -> None:
        self.counters.messages_rejected[reason] += 1

    def on_stall(self) -> None:
        self.counters.stalls += 1

    def report(self, error: CachelabError) -> None:
        # A broken observer must not break the cache.
        with contextlib.suppress(Exception):
            self.options.on_error(error)

    # --- the read path's pure steps ----------------------------------------------------------

    def may_read_redis(self) -> bool:
        """False (counted as a skipped Redis call and a degraded read) while a possible restart
        of Redis is unchecked: the read goes to the loader, as if Redis had failed."""
        if self.fence.ready:
            return True
        with self.lock:
            self.counters.redis_skipped += 1
            self.counters.degraded_reads += 1
        return False

    def fill_token(self) -> FillToken:
        with self.lock:
            return FillToken(self.bus.epoch, self.marks.evictions, self.clears)

    def local(self, key: str, floor: int) -> CacheRead[V] | None:
        """The L1 entry of ``key`` when the bus is trusted and it is at ``floor`` or above."""
        now = monotonic_ms()
        if not self.bus.trusted_at(now):
            return None
        with self.lock:
            entry = self.l1.get(key, now)
        return entry.read if entry is not None and entry.version >= floor else None

    def served_from_l1(self, read: CacheRead[V]) -> CacheRead[V]:
        with self.lock:
            self.counters.l1_hits += 1
            if read.value is None:
                self.counters.negative_hits += 1
        return read

    def fill_l1(self, key: str, entry: Loaded[V], token: FillToken) -> None:
        """Puts ``entry`` in L1 unless that could serve something older than allowed: the bus
        is untrusted, trust changed since the read began, a newer version was announced, or the
        key's mark may have been forgotten meanwhile."""
        with self.lock:
            rejected = self.counters.fills_rejected
            if not self.bus.trusted:
                return
            if self.bus.epoch != token.epoch or self.clears != token.clears:
                rejected["epoch"] += 1
                return
            mark = self.marks.get(key)
            if entry.version < mark:
                rejected["superseded"] += 1
                return
            if mark == 0 and self.marks.evictions != token.mark_evictions:
                rejected["forgotten"] += 1
                return
            self.l1.set(key, entry, monotonic_ms())

    def from_redis(
        self, key: str, found: VersionedRead[V] | None, floor: int, token: FillToken
    ) -> CacheRead[V] | None:
        """The entry Redis holds, if no lower than ``floor``; fills L1 with it."""
        entry = found.entry if found else None
        if entry is None:
            return None
        if entry.version < floor:
            self.counters.l2_stale += 1
            return None
        self.fill_l1(key, entry, token)
        with self.lock:
            self.counters.l2_hits += 1
            if entry.value is None:
                self.counters.negative_hits += 1
        return CacheRead(entry.value, entry.version, "L2")

    def floor(self, key: str, min_version: int) -> int:
        with self.lock:
            return max(min_version, self.marks.get(key))

    # --- Redis: arguments and replies of the protocol's scripts -------------------------------

    def parse_read(self, key: str, reply: Any) -> VersionedRead[V]:
        if not isinstance(reply, list) or not reply:
            return VersionedRead(None, None, False)
        pointer = parse_version(reply[0])
        corrupt: VersionedRead[V] = VersionedRead(pointer, None, True)
        if pointer is None:
            self._corrupt(key)
            return corrupt
        if len(reply) < 2 or reply[1] is None:
            return VersionedRead(pointer, None, False)
        try:
            value = loads(reply[1])
        except (ValueError, UnicodeDecodeError):
            self._corrupt(key)
            return corrupt
        return VersionedRead(pointer, Loaded(value, pointer), False)

    def _corrupt(self, key: str) -> None:
        self.counters.corrupt_entries += 1
        self.report(CorruptEntryError(f"undecodable entry for {key}"))

    def announcement(
        self, key: str, version: int, when: Literal["always", "advanced"]
    ) -> Announcement:
        with self.lock:
            seq = self._seq
            self._seq += 1
        message = Invalidation(key, version, self.origin, seq, wall_clock_ms())
        if self.sharded:
            # SPUBLISHed after the script, on the key's channel: numbered then (MUST-MSG-8).
            return Announcement(self.keys.shard_channel(key), message, "", when, True)
        # Signed here when a secret is set: the FILL script publishes this payload as it is.
        return Announcement(self.keys.channel, message, self.codec.encode(message), when, False)

    def fill_args(
        self, key: str, entry: Loaded[V], announcement: Announcement
    ) -> tuple[list[str], list[str]]:
        """KEYS and ARGV of ``fill.lua`` (see the script for their meaning)."""
        ttl = self.options.negative_ttl_ms if entry.value is None else self.options.ttl_ms
        keys = [self.keys.pointer(key), self.keys.data(key, entry.version)]
        args = [
            self.keys.data_prefix(key),
            str(entry.version),
            str(jitter_ttl(ttl, self.options.ttl_jitter)),
            str(self.options.pointer_ttl_ms),
            encode_value(entry.value),
            "" if announcement.sharded else announcement.channel,
            announcement.payload,
            announcement.when,
        ]
        return keys, args

    @staticmethod
    def parse_fill(reply: Any) -> tuple[FillOutcome, bool]:
        if not isinstance(reply, list) or len(reply) < 2:
            return "stale", False
        return _OUTCOMES.get(int(reply[0]), "stale"), int(reply[1]) == 1

    def announce_args(self, key: str, version: int, announcement: Announcement) -> list[str]:
        """ARGV of ``announce.lua``."""
        return [
            self.keys.data_prefix(key),
            str(version),
            str(self.options.pointer_ttl_ms),
            "" if announcement.sharded else announcement.channel,
            announcement.payload,
        ]

    @staticmethod
    def parse_outcome(reply: Any) -> FillOutcome:
        try:
            return _OUTCOMES.get(int(reply), "stale")
        except (TypeError, ValueError):
            return "stale"

    def raise_mark(self, key: str, version: int, drop: bool = False) -> None:
        with self.lock:
            self.marks.raise_(key, version)
            if drop:
                self.l1.drop_older_than(key, version)

    def stats(self) -> dict[str, Any]:
        """Every counter, plus trust and sizes (``l1Size`` etc. in Node's ``/stats``)."""
        with self.lock:
            counters = dict(vars(self.counters))
            counters["fills_rejected"] = dict(self.counters.fills_rejected)
            counters["messages_rejected"] = dict(self.counters.messages_rejected)
            reads = self.counters.reads
            hits = self.counters.l1_hits + self.counters.l2_hits
            return {
                **counters,
                "strategy": "versioned",
                "trusted": self.bus.trusted,
                "hit_ratio": hits / reads if reads else 0.0,
                "l1_size": len(self.l1),
                "l1_evictions": self.l1.evictions,
                "high_water_marks": len(self.marks),
            }
