"""Chapter 2: a slow data source — a dict of users behind an artificial delay.

The tutorial's programs need a source of truth that is slow enough for a cache to matter. This one
keeps users in memory, sleeps ``latency_s`` before every query (the "database"), counts its
queries, and gives each row a version that every write bumps, as the real database does.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class User:
    """One row of the ``users`` table."""

    id: str
    name: str
    email: str
    version: int
    deleted: bool = False


# #region tutorial:slow-source
class SlowUserSource:
    """The source of truth: every query waits ``latency_s`` seconds first."""

    def __init__(self, users: int = 1000, latency_s: float = 0.05) -> None:
        self.latency_s = latency_s
        self.queries = 0
        self._lock = threading.Lock()
        self.rows = {
            str(i): User(str(i), f"User {i}", f"user{i}@example.com", version=1)
            for i in range(1, users + 1)
        }

    def get(self, user_id: str) -> User | None:
        """The row of ``user_id`` (a tombstone if deleted), or None if it never existed."""
        time.sleep(self.latency_s)  # the simulated database round trip
        with self._lock:
            self.queries += 1
            return self.rows.get(user_id)

    def put(self, user_id: str, name: str, email: str) -> User:
        """Writes a user; its version goes up by one in the same step, as in the database."""
        time.sleep(self.latency_s)
        with self._lock:
            self.queries += 1
            old = self.rows.get(user_id)
            version = old.version + 1 if old else 1
            row = User(user_id, name, email, version)
            self.rows[user_id] = row
            return row

    # #endregion tutorial:slow-source

    def delete(self, user_id: str) -> User | None:
        """Soft-deletes a user: a tombstone with a bumped version, so versions only grow."""
        time.sleep(self.latency_s)
        with self._lock:
            self.queries += 1
            old = self.rows.get(user_id)
            if old is None or old.deleted:
                return None
            row = replace(old, deleted=True, version=old.version + 1)
            self.rows[user_id] = row
            return row
