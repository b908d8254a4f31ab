"""The outbox relay's choice of rows: what any cache could announce goes, the rest is set aside."""

from __future__ import annotations

import pytest

from cachelab_instance.outbox import problem_of


@pytest.mark.parametrize(
    ("key", "version"),
    [("user:7", 3), ("product:eu:sku%201", 1)],  # the second: a table of sql/track-table.sql
)
def test_relays_every_cache_key_of_any_table(key: str, version: int) -> None:
    assert problem_of(key, version) is None


@pytest.mark.parametrize(
    ("key", "version", "reason"),
    [
        ("not a key", 1, "key outside the key scheme"),
        ("user:{7}", 1, "key outside the key scheme"),
        ("user:7", 0, "version is not a positive safe integer"),
        ("user:7", 2**53, "version is not a positive safe integer"),
    ],
)
def test_sets_aside_what_no_cache_could_announce(key: str, version: int, reason: str) -> None:
    assert problem_of(key, version) == reason
