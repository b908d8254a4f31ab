"""Fakes of pure logic for unit-level tests (never of Redis)."""

from __future__ import annotations

from typing import Any

from cachelab import Loaded


class Source:
    """A fake source of truth (unit-level stand-in for the database): versions per key."""

    def __init__(self) -> None:
        self.rows: dict[str, Loaded[Any]] = {}
        self.loads = 0

    def load(self, key: str) -> Loaded[Any]:
        self.loads += 1
        return self.rows.get(key, Loaded(None, 0))

    def write(self, key: str, value: Any) -> Loaded[Any]:
        row = Loaded(value, self.rows.get(key, Loaded(None, 0)).version + 1)
        self.rows[key] = row
        return row
