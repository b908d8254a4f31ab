"""The small value types of the public API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

V = TypeVar("V")

#: Which tier answered a read.
Tier = Literal["L1", "L2", "MISS"]
#: ``eventual``: an L1 hit is served at once; ``strict``: only after Redis confirms its version.
Consistency = Literal["eventual", "strict"]


@dataclass(frozen=True, slots=True)
class Loaded(Generic[V]):
    """What a loader returns and a writer hands over: the value (None: not found) and its
    version, both from the same database row read."""

    value: V | None
    version: int


@dataclass(frozen=True, slots=True)
class CacheRead(Generic[V]):
    """A read's answer: the value, its version, and the tier that answered."""

    value: V | None
    version: int
    tier: Tier


#: Reads the source of truth for a key.
Loader = Callable[[str], Loaded[V]]
#: The same, for the asyncio API.
AsyncLoader = Callable[[str], Awaitable[Loaded[V]]]
