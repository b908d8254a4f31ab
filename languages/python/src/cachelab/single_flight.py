"""One load per key at a time: concurrent misses of a key share the first one's result."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from cachelab.errors import OverloadedError

T = TypeVar("T")


class _Flight(Generic[T]):
    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None


class SingleFlight(Generic[T]):
    """For threads: the first caller of a key runs ``load``; the others wait for its outcome."""

    def __init__(self, max_in_flight: int, on_shed: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight[T]] = {}
        self._max = max_in_flight
        self._on_shed = on_shed

    def has(self, key: str) -> bool:
        return key in self._flights

    def __len__(self) -> int:
        return len(self._flights)

    def run(self, key: str, load: Callable[[], T]) -> T:
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                if len(self._flights) >= self._max:
                    self._on_shed()
                    raise OverloadedError(f"{self._max} loads in flight: {key} refused")
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.done.wait()
        else:
            try:
                flight.result = load()
            except BaseException as error:  # noqa: BLE001 - handed to every waiter
                flight.error = error
            finally:
                with self._lock:
                    del self._flights[key]
                flight.done.set()
        if flight.error is not None:
            raise flight.error
        return flight.result  # type: ignore[return-value]


class AsyncSingleFlight(Generic[T]):
    """For one event loop: the first caller of a key runs ``load``; the others await it."""

    def __init__(self, max_in_flight: int, on_shed: Callable[[], None]) -> None:
        self._flights: dict[str, asyncio.Future[T]] = {}
        self._max = max_in_flight
        self._on_shed = on_shed

    def has(self, key: str) -> bool:
        return key in self._flights

    def __len__(self) -> int:
        return len(self._flights)

    async def run(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        flight = self._flights.get(key)
        if flight is not None:
            # Shielded: a waiter that is cancelled does not cancel the load the others share.
            return await asyncio.shield(flight)
        if len(self._flights) >= self._max:
            self._on_shed()
            raise OverloadedError(f"{self._max} loads in flight: {key} refused")
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            result = await load()
        except BaseException as error:
            flight.set_exception(error)
            # Retrieved here, so that a load nobody else joined logs no "never retrieved".
            flight.exception()
            raise
        else:
            flight.set_result(result)
            return result
        finally:
            del self._flights[key]
