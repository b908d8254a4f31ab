"""Messages on the invalidation channel: the JSON of ``bus/messages.ts``, optionally signed
(HMAC-SHA256 over the channel name and the payload, as ``bus/signing.ts``), so that Node and
Python instances accept each other's messages."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Literal

from cachelab.codec import dumps, is_count, is_finite_number, loads
from cachelab.keys import MAX_KEY_LENGTH, is_valid_key, utf16_length

#: Messages longer than this (UTF-16 units) are not ours.
MAX_MESSAGE_LENGTH = 2 * MAX_KEY_LENGTH + 1024
_MAX_SIGNED_LENGTH = MAX_MESSAGE_LENGTH + 44
_ORIGIN = re.compile(r"[A-Za-z0-9_.:/-]{1,64}")
_SIGNED = re.compile(r"[A-Za-z0-9_-]{43}\.")
#: Why a received message was dropped.
RejectReason = Literal["malformed", "unsigned", "forged"]


@dataclass(frozen=True, slots=True)
class Invalidation:
    """Sent after every write: ``key`` now has ``version``. Never carries the value."""

    key: str
    version: int
    origin: str
    seq: int
    ts: float
    #: Sharded Pub/Sub: the sender's channel sequence number (see :class:`Heartbeat`).
    cseq: int | None = None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Published by each instance to itself: seeing it come back proves the subscription works."""

    origin: str
    seq: int
    ts: float
    #: Sharded Pub/Sub only (SPEC MUST-MSG-8): how many messages (announcements, clears and
    #: heartbeats) the sender published on this channel before this one since it started; a
    #: receiver that sees it skip a number lost a message there. None with global Pub/Sub.
    cseq: int | None = None


@dataclass(frozen=True, slots=True)
class Clear:
    """Sent by an instance that cleared the namespace (SPEC §5.8): every receiver drops its
    whole L1 and voids the fills of loads it started before."""

    origin: str
    seq: int
    ts: float
    #: Sharded Pub/Sub: the sender's channel sequence number (see :class:`Heartbeat`).
    cseq: int | None = None


Message = Invalidation | Heartbeat | Clear


def wall_clock_ms() -> float:
    """Milliseconds since the epoch, sub-millisecond: the clock senders stamp (``ts``)."""
    return time.time_ns() / 1e6


def to_fields(message: Message) -> dict[str, object]:
    """The message's fields as ``messages.ts`` writes them, in its order (``cseq`` last, and
    only when set)."""
    fields: dict[str, object]
    if isinstance(message, Invalidation):
        fields = {"type": "inv", "key": message.key, "version": message.version}
    else:
        fields = {"type": "clr" if isinstance(message, Clear) else "hb"}
    fields |= {"origin": message.origin, "seq": message.seq, "ts": message.ts}
    if message.cseq is not None:
        fields["cseq"] = message.cseq
    return fields


def to_json(message: Message) -> str:
    """The message's JSON, with the fields of ``messages.ts``."""
    return dumps(to_fields(message))


def parse_message(raw: str) -> Message | None:
    """The validated message, or None for anything malformed."""
    if len(raw) > MAX_MESSAGE_LENGTH or utf16_length(raw) > MAX_MESSAGE_LENGTH:
        return None
    try:
        m = loads(raw)
    except ValueError:
        return None
    if not isinstance(m, dict):
        return None
    origin, seq, ts = m.get("origin"), m.get("seq"), m.get("ts")
    if not isinstance(origin, str) or _ORIGIN.fullmatch(origin) is None:
        return None
    if not is_count(seq) or not is_finite_number(ts):
        return None
    assert isinstance(seq, (int, float)) and isinstance(ts, (int, float))
    # Optional, but when present a count like seq: null, a string or a fraction is malformed.
    cseq = m.get("cseq")
    if "cseq" in m and not is_count(cseq):
        return None
    assert cseq is None or isinstance(cseq, (int, float))
    channel_seq = None if cseq is None else int(cseq)
    if m.get("type") == "hb":
        return Heartbeat(origin, int(seq), float(ts), channel_seq)
    if m.get("type") == "clr":
        return Clear(origin, int(seq), float(ts), channel_seq)
    key, version = m.get("key"), m.get("version")
    if m.get("type") != "inv" or not is_valid_key(key) or not is_count(version):
        return None
    assert isinstance(key, str) and isinstance(version, (int, float))
    return Invalidation(key, int(version), origin, int(seq), float(ts), channel_seq)


class Signer:
    """Signs with the first secret, verifies with every one (so secrets rotate without a flag
    day). The MAC covers the channel name: no replay into another namespace's channel."""

    def __init__(self, secrets: tuple[str, ...], channel: str) -> None:
        if not secrets:
            raise ValueError("at least one secret is needed to sign")
        self._keys = [secret.encode("utf-8") for secret in secrets]
        self._channel = channel.encode("utf-8") + b"\n"

    def _mac(self, key: bytes, payload: str) -> str:
        digest = hmac.new(key, self._channel + payload.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def sign(self, payload: str) -> str:
        return f"{self._mac(self._keys[0], payload)}.{payload}"

    def open(self, raw: str) -> str | None:
        """The payload when one of the secrets signed ``raw``, else None."""
        if _SIGNED.match(raw) is None:
            return None
        given, payload = raw[:43], raw[44:]
        for key in self._keys:
            # Constant time: response timing reveals nothing about the expected MAC.
            if hmac.compare_digest(given, self._mac(key, payload)):
                return payload
        return None


class MessageCodec:
    """What travels on the channel and back: plain JSON, or signed when secrets are given."""

    def __init__(self, channel: str, secrets: tuple[str, ...] = ()) -> None:
        self._signer = Signer(secrets, channel) if secrets else None

    def encode(self, message: Message) -> str:
        payload = to_json(message)
        return self._signer.sign(payload) if self._signer else payload

    def decode(self, raw: str | bytes) -> Message | RejectReason:
        """The validated message, or why it is dropped. Never raises."""
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError:
                return "malformed"
        if self._signer is None:
            return parse_message(raw) or "malformed"
        # Checked first, so that no MAC is ever computed over a huge string.
        if len(raw) > _MAX_SIGNED_LENGTH:
            return "malformed"
        if _SIGNED.match(raw) is None:
            return "unsigned"
        payload = self._signer.open(raw)
        if payload is None:
            return "forged"
        return parse_message(payload) or "malformed"
