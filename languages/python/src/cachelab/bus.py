"""Trust in the invalidation channel, without I/O: the sync and asyncio front ends feed it what
their subscriber sees (messages, drops, reconnects) and publish the heartbeats it makes.

Trust is lost at once when the subscriber drops or reconnects, and when no own heartbeat came back
within ``heartbeat_timeout_ms`` (a silently dead connection). It is regained only when an own
heartbeat sent after the last such event is seen again on every channel; the cache then flushes
everything it learnt while the channel was deaf. With sharded Pub/Sub, a channel whose own
heartbeats skip a number (its slot moved, a message was lost) withdraws trust too, and so does
any sender's channel sequence number (``cseq``, SPEC MUST-MSG-8 and MUST-TRUST-8) that skips one.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachelab.messages import (
    Clear,
    Heartbeat,
    Invalidation,
    Message,
    MessageCodec,
    RejectReason,
    wall_clock_ms,
)
from cachelab.sequences import SenderSequences


def monotonic_ms() -> float:
    """The monotonic clock in ms: L1 expiry and every liveness interval are on it."""
    return time.monotonic() * 1000


def stall_threshold_ms(heartbeat_interval_ms: int) -> float:
    """How late the heartbeat tick may be before the process counts as stalled (as in Node)."""
    return heartbeat_interval_ms + max(math.ceil(heartbeat_interval_ms / 2), 200)


@dataclass(slots=True)
class _Seen:
    seq: int = -1
    at: float = 0.0


class BusState:
    """Trust, epoch and heartbeats of one instance's subscription. Thread-safe through ``lock``,
    which the cache shares (its L1 and marks change under the same lock)."""

    def __init__(
        self,
        *,
        lock: threading.RLock,
        channels: tuple[str, ...],
        origin: str,
        codec: MessageCodec,
        sharded: bool,
        heartbeat_interval_ms: int,
        heartbeat_timeout_ms: int,
        on_invalidation: Callable[[Invalidation], None],
        on_clear: Callable[[Clear], None],
        on_trust_change: Callable[[bool], None],
        on_rejected: Callable[[RejectReason], None],
        on_stall: Callable[[], None],
        on_lost: Callable[[], None] = lambda: None,
        may_trust: Callable[[], bool] = lambda: True,
    ) -> None:
        self.lock = lock
        self.channels = channels
        self._origin, self._codec, self._sharded = origin, codec, sharded
        self._timeout_ms = heartbeat_timeout_ms
        self._stall_ms = stall_threshold_ms(heartbeat_interval_ms)
        self._on_invalidation, self._on_trust_change = on_invalidation, on_trust_change
        self._on_clear = on_clear
        self._on_rejected, self._on_stall = on_rejected, on_stall
        # The restart fence's hooks: told of every possible loss; asked before trust comes back.
        self._on_lost, self._may_trust = on_lost, may_trust
        self._trusted = False
        self.epoch = 0
        self._connected = False
        self._last_heartbeat_seen_at = 0.0
        self._heartbeat_seq = 0
        self._needed_seq = 0
        self._seen = {channel: _Seen() for channel in channels}
        self._last_tick_at = monotonic_ms()
        self._resume_seq = -1
        # Sharded: the next cseq this instance sends on each channel, and the last one heard from
        # each origin on each channel (least recently heard first).
        self._sent = dict.fromkeys(channels, 0)
        self._heard = {channel: SenderSequences() for channel in channels}
        # Sharded: since when the subscriber is subscribed on every channel (None: it is not).
        self._listening_since: float | None = None

    @property
    def trusted(self) -> bool:
        """True while every message sent on the channel is known to reach this instance."""
        return self._trusted and self._resume_seq < 0

    def trusted_at(self, now: float) -> bool:
        """:attr:`trusted`, and the heartbeat tick ran within the stall threshold of ``now``."""
        with self.lock:
            if not self._trusted or self._resume_seq >= 0:
                return False
            if now - self._last_heartbeat_seen_at > self._timeout_ms:
                # Checked here too: the thread or task that publishes may be stuck on Redis.
                self._set_trust(False)
                return False
            if now - self._last_tick_at <= self._stall_ms:
                return True
            self._suspend(now)
            return False

    def _set_trust(self, trusted: bool) -> None:
        if self._trusted == trusted:
            return
        self._trusted = trusted
        self.epoch += 1
        self._on_trust_change(trusted)

    def on_message(self, raw: str | bytes, channel: str | bytes) -> None:
        """A message from the subscriber connection."""
        message = self._codec.decode(raw)
        if isinstance(channel, bytes):
            channel = channel.decode("utf-8", "replace")
        with self.lock:
            # Verified before the origin is looked at: an unsigned heartbeat restores nothing.
            if isinstance(message, str):
                self._on_rejected(message)
                return
            # A skipped number from any sender, this one included: a message on this channel was
            # lost (its slot moved while this subscriber was paused, say), whatever the connection
            # says. Checked whenever present, as Node does, also on a global channel.
            if message.cseq is not None and not self._in_sequence(
                channel, message.origin, message.cseq
            ):
                self._lost(connected=self._connected)
            if message.origin != self._origin:
                if isinstance(message, Invalidation):
                    self._on_invalidation(message)
                elif isinstance(message, Clear):
                    self._on_clear(message)
                return
            if isinstance(message, Heartbeat):
                self._own_heartbeat(message, channel)

    def _own_heartbeat(self, message: Heartbeat, channel: str) -> None:
        record = self._seen.get(channel)
        if record is None:
            return
        # Heartbeats of one channel arrive in order: a skipped seq means lost messages.
        # The connection that delivered it works, though: it stays connected (as in Node).
        if self._sharded and record.seq >= 0 and message.seq > record.seq + 1:
            self._lost(connected=self._connected)
        record.seq = max(record.seq, message.seq)
        record.at = monotonic_ms()
        floor = min(seen.seq for seen in self._seen.values())
        self._last_heartbeat_seen_at = min(seen.at for seen in self._seen.values())
        # A heartbeat sent before a stall may have waited in the socket: only a later one resumes.
        if self._resume_seq >= 0 and floor >= self._resume_seq:
            self._resume_seq = -1
            self._last_tick_at = record.at
        if (
            self._connected
            and floor >= self._needed_seq
            and self._heard_everyone(record.at)
            and self._may_trust()
        ):
            self._set_trust(True)

    def _in_sequence(self, channel: str, sender: str, cseq: int) -> bool:
        """Whether ``cseq`` from ``sender`` follows the last one heard on ``channel`` (MUST-TRUST-8:
        see :class:`SenderSequences`). A channel not subscribed to counts nothing."""
        senders = self._heard.get(channel)
        return senders is None or senders.follows(sender, cseq)

    def _heard_everyone(self, now: float) -> bool:
        """Sharded: whether the subscriber has been subscribed on every channel for a stall
        threshold, time for every running sender beating at the same interval to have been heard
        on each, so that its first message, numbered above 0, comes as a gap before L1 is
        trusted rather than after. Counted from every (re)subscription, not only the first: the
        messages other senders sent while this one was deaf are gaps too, and would otherwise
        withdraw the trust just regained (a second flush)."""
        if not self._sharded:
            return True
        since = self._listening_since
        return since is not None and now - since >= self._stall_ms

    def on_down(self) -> None:
        """The subscription may have lost messages (an error, a reconnect): it is not connected
        until :meth:`on_ready`."""
        self._lost(connected=False)

    def _lost(self, *, connected: bool) -> None:
        with self.lock:
            self._on_lost()
            self._connected = connected
            if not connected:
                self._listening_since = None
            self._needed_seq = self._heartbeat_seq
            # Every drop starts a new epoch, even while untrusted: a fill that began before it
            # may carry a value whose invalidation was lost.
            if self._trusted:
                self._set_trust(False)
            else:
                self.epoch += 1

    def on_ready(self) -> None:
        """The subscriber is connected and subscribed to every channel."""
        with self.lock:
            self._connected = True
            self._listening_since = monotonic_ms()

    def _suspend(self, now: float) -> None:
        if self._resume_seq < 0:
            self._resume_seq = self._heartbeat_seq
            self._on_stall()
        self._last_tick_at = now

    def heartbeat(self) -> Heartbeat:
        """The tick: checks for a stall and for a silent subscription, then returns the next
        heartbeat to publish on every channel (each encoded with :meth:`encode_for`)."""
        now = monotonic_ms()
        with self.lock:
            if now - self._last_tick_at > self._stall_ms:
                self._suspend(now)
            self._last_tick_at = now
            if self._trusted and now - self._last_heartbeat_seen_at > self._timeout_ms:
                self._set_trust(False)
            message = Heartbeat(self._origin, self._heartbeat_seq, wall_clock_ms())
            self._heartbeat_seq += 1
        return message

    def encode_for(self, channel: str, message: Message) -> str:
        """``message`` as sent on ``channel``: with sharded Pub/Sub numbered with the channel's
        next ``cseq`` (MUST-MSG-8). Call it as the message is sent (a message not sent takes no
        number), and send in the order numbered: the front ends hold a lock per channel around
        both."""
        if not self._sharded:
            return self._codec.encode(message)
        with self.lock:
            cseq = self._sent[channel]
            self._sent[channel] = cseq + 1
        return self._codec.encode(dataclasses.replace(message, cseq=cseq))

    def check_liveness(self) -> None:
        """Withdraws trust when no own heartbeat came back in time (called between reads)."""
        with self.lock:
            now = monotonic_ms()
            if self._trusted and now - self._last_heartbeat_seen_at > self._timeout_ms:
                self._set_trust(False)

    def close(self) -> None:
        with self.lock:
            self._set_trust(False)
