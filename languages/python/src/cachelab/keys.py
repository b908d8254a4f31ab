"""The key scheme, identical to the Node library's ``keys.ts``: no other module builds a key."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cachelab.errors import InvalidKeyError, InvalidOptionError

#: Longest cache key, in UTF-16 code units (as JavaScript counts string length).
MAX_KEY_LENGTH = 512
#: Slots of a Redis Cluster.
SLOTS = 16_384
#: Sharded Pub/Sub channels per namespace, each announcing 1/16th of the slot space.
CHANNEL_SHARDS = 16
NAMESPACE_RULE = "must be 1-32 characters of [A-Za-z0-9_.-]"
_NAMESPACE = re.compile(r"[A-Za-z0-9_.-]{1,32}")
# Braces would break the hash tag; whitespace, control characters and lone surrogates make keys
# unreadable or change them on their way to Redis (the same set as keys.ts's regular expression).
_FORBIDDEN_IN_KEY = re.compile("[{}\\s\\x00-\\x1f\\x7f-\\x9f\\ud800-\\udfff\\ufeff]")


def _crc16(data: bytes) -> int:
    """CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def key_slot(key: str) -> int:
    """The Redis Cluster slot of ``key`` (its ``{hash tag}`` if it has a non-empty one)."""
    raw = key.encode("utf-8", "surrogatepass")
    start = raw.find(b"{")
    if start >= 0:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            raw = raw[start + 1 : end]
    return _crc16(raw) % SLOTS


def shard_of_slot(slot: int) -> int:
    """The shard (0 … 15) whose channel announces the keys of ``slot``."""
    return slot * CHANNEL_SHARDS // SLOTS


def utf16_length(text: str) -> int:
    """``text.length`` as JavaScript counts it (characters outside the BMP count twice)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def is_valid_key(key: object) -> bool:
    """True when ``key`` can be used as a cache key."""
    return (
        isinstance(key, str)
        and len(key) > 0
        and utf16_length(key) <= MAX_KEY_LENGTH
        and _FORBIDDEN_IN_KEY.search(key) is None
    )


def check_key(key: str) -> str:
    """Returns ``key`` when it can be a cache key; raises :class:`InvalidKeyError` otherwise."""
    if is_valid_key(key):
        return key
    raise InvalidKeyError(
        f"cache keys are 1-{MAX_KEY_LENGTH} characters without braces, spaces, control "
        "characters or unpaired surrogates"
    )


def is_valid_namespace(namespace: object) -> bool:
    return isinstance(namespace, str) and _NAMESPACE.fullmatch(namespace) is not None


def _shard_channels(namespace: str) -> tuple[str, ...]:
    # Channel i is the first `ns:inv:{s<i>-<n>}` whose slot falls in shard i's range.
    channels = []
    for shard in range(CHANNEL_SHARDS):
        n = 0
        while shard_of_slot(key_slot(f"s{shard}-{n}")) != shard:
            n += 1
        channels.append(f"{namespace}:inv:{{s{shard}-{n}}}")
    return tuple(channels)


@dataclass(frozen=True)
class Keys:
    """Every Redis key and channel of one namespace, e.g. ``cl:{user:42}:ver``."""

    namespace: str
    shard_channels: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not is_valid_namespace(self.namespace):
            raise InvalidOptionError(f"`namespace` {NAMESPACE_RULE}")
        object.__setattr__(self, "shard_channels", _shard_channels(self.namespace))

    def _tag(self, key: str) -> str:
        return f"{self.namespace}:{{{check_key(key)}}}"

    def pointer(self, key: str) -> str:
        """The pointer to the current version, e.g. ``cl:{user:42}:ver``."""
        return f"{self._tag(key)}:ver"

    def data_prefix(self, key: str) -> str:
        """Prefix of the data entries, e.g. ``cl:{user:42}:v:`` (+ version)."""
        return f"{self._tag(key)}:v:"

    def data(self, key: str, version: int) -> str:
        """The data entry of one version, e.g. ``cl:{user:42}:v:7``."""
        return f"{self._tag(key)}:v:{version}"

    def lease(self, key: str) -> str:
        """The load lease of ``key``, e.g. ``cl:{user:42}:lease``."""
        return f"{self._tag(key)}:lease"

    def value(self, key: str) -> str:
        """Basic strategies' single entry, e.g. ``cl:{user:42}:val``."""
        return f"{self._tag(key)}:val"

    @property
    def channel(self) -> str:
        """The Pub/Sub channel of invalidations and heartbeats, e.g. ``cl:invalidations``."""
        return f"{self.namespace}:invalidations"

    def shard_channel(self, key: str) -> str:
        """Sharded Pub/Sub: the channel that announces ``key``."""
        return self.shard_channels[shard_of_slot(key_slot(check_key(key)))]

    @property
    def fence(self) -> str:
        """The snapshot fence, e.g. ``cl:fence``: the ``run_id`` of the Redis an instance last
        checked (outside :attr:`pattern`, so that deleting the namespace keeps it)."""
        return f"{self.namespace}:fence"

    @property
    def pattern(self) -> str:
        """A SCAN pattern of every key of this namespace, e.g. ``cl:{*``."""
        return f"{self.namespace}:{{*"
