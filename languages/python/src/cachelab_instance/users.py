"""The users repository: the statements of ``packages/store/src/users-repository.ts`` over a
psycopg pool. Versions come from the database (its trigger bumps them on every write) and every
write returns the row it left, so value and version always come from one row."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from cachelab_instance.errors import PRECONDITION_FAILED, HttpError, db_unavailable
from cachelab_instance.validation import UserInput

_COLUMNS = "id, name, email, age, version, deleted, updated_at"
SELECT_ONE = f"SELECT {_COLUMNS} FROM users WHERE id = %s"
# This instance announces its own writes: each sets cachelab.wake_relay = off (no NOTIFY to wake
# the relays, schema.py says why) for its own transaction only, in the statement itself, so that
# no session setting reaches another client of a pooler in transaction mode (PgBouncer). The
# `quiet` CTE is joined so that it runs before the statement's triggers.
_QUIET = "quiet AS (SELECT set_config('cachelab.wake_relay', 'off', true) AS wake)"
# `prev` reads the row as it was before: `created` is true for a new id and a revived tombstone.
UPSERT = f"""
WITH {_QUIET}, prev AS (SELECT deleted FROM users WHERE id = %(id)s)
INSERT INTO users AS u (id, name, email, age)
SELECT %(id)s::text, %(name)s::text, %(email)s::text, %(age)s::integer FROM quiet
ON CONFLICT (id) DO UPDATE SET
  name = EXCLUDED.name, email = EXCLUDED.email, age = EXCLUDED.age,
  deleted = false, updated_at = now()
RETURNING {_COLUMNS}, COALESCE((SELECT deleted FROM prev), true) AS created"""
INSERT = f"""
WITH {_QUIET}
INSERT INTO users (id, name, email, age)
SELECT %s::text, %s::text, %s::text, %s::integer FROM quiet
RETURNING {_COLUMNS}"""
SOFT_DELETE = f"""
WITH {_QUIET}
UPDATE users SET deleted = true, updated_at = now() FROM quiet
WHERE id = %s AND NOT deleted
RETURNING {_COLUMNS}"""
# If-Match: the version check is part of the write itself, so nothing slips in between.
CONDITIONAL_UPDATE = f"""
WITH {_QUIET}
UPDATE users SET name = %(name)s, email = %(email)s, age = %(age)s, version = version + 1,
  updated_at = now()
FROM quiet
WHERE id = %(id)s AND NOT deleted
  AND (%(versions)s::bigint[] IS NULL OR version = ANY(%(versions)s::bigint[]))
RETURNING {_COLUMNS}"""
CONDITIONAL_DELETE = f"""
WITH {_QUIET}
UPDATE users SET deleted = true, version = version + 1, updated_at = now() FROM quiet
WHERE id = %(id)s AND NOT deleted
  AND (%(versions)s::bigint[] IS NULL OR version = ANY(%(versions)s::bigint[]))
RETURNING {_COLUMNS}"""

_ID_ALPHABET = "useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict"


@dataclass(frozen=True, slots=True)
class User:
    """A row of ``users``."""

    id: str
    name: str
    email: str
    age: int
    version: int
    deleted: bool
    updated_at: str

    def body(self) -> dict[str, Any]:
        """The API's JSON of a live user (and what the cache stores, as Node's instance does)."""
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "age": self.age,
            "version": self.version,
            "updatedAt": self.updated_at,
        }


def _iso(moment: datetime) -> str:
    """As JavaScript's ``Date.toISOString()``: UTC, milliseconds, ``Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _user(row: dict[str, Any]) -> User:
    return User(
        id=str(row["id"]),
        name=str(row["name"]),
        email=str(row["email"]),
        age=int(row["age"]),
        version=int(row["version"]),
        deleted=row["deleted"] is True,
        updated_at=_iso(row["updated_at"]),
    )


def _precondition_failed() -> HttpError:
    return HttpError(
        412,
        PRECONDITION_FAILED,
        "the user is not at a version If-Match names (changed or deleted meanwhile); read it again",
    )


class UsersRepository:
    """Queries of the users API, each after ``latency_ms`` (but the ping), counted for /stats."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        *,
        latency_ms: int = 0,
        on_query: Callable[[str, float, bool], None] | None = None,
    ) -> None:
        self._pool = pool
        self._latency_s = latency_ms / 1000
        self.on_query = on_query
        self.counters = {"queries": 0, "errors": 0, "failedFast": 0}

    async def _query(self, operation: str, text: str, params: Any) -> list[dict[str, Any]]:
        started = time.perf_counter()
        if self._latency_s > 0 and operation != "ping":
            await asyncio.sleep(self._latency_s)
        self.counters["queries"] += 1
        ok = False
        try:
            async with self._pool.connection() as connection:
                cursor = connection.cursor(row_factory=dict_row)
                await cursor.execute(text, params)
                rows = await cursor.fetchall() if cursor.description else []
            ok = True
            return rows
        except (psycopg.OperationalError, PoolTimeout, OSError) as error:
            self.counters["errors"] += 1
            raise db_unavailable() from error
        except psycopg.Error:
            self.counters["errors"] += 1
            raise
        finally:
            if self.on_query is not None:
                self.on_query(operation, time.perf_counter() - started, ok)

    async def get(self, user_id: str) -> User | None:
        """The row of ``user_id`` (a tombstone included), or None."""
        rows = await self._query("get", SELECT_ONE, (user_id,))
        return _user(rows[0]) if rows else None

    async def put(
        self, user_id: str, data: UserInput, versions: list[int] | bool | None = False
    ) -> tuple[User, bool]:
        """Full replace (creates when absent): the row and whether it was created.

        ``versions``: False, no condition; None, ``If-Match: *``; a list, the versions accepted."""
        params = {"id": user_id, "name": data.name, "email": data.email, "age": data.age}
        if versions is not False:
            rows = await self._query("put", CONDITIONAL_UPDATE, {**params, "versions": versions})
            if not rows:
                raise _precondition_failed()
            return _user(rows[0]), False
        rows = await self._query("put", UPSERT, params)
        return _user(rows[0]), rows[0]["created"] is True

    async def create(self, data: UserInput) -> User:
        """A new user with a generated id (21 characters, as Node's nanoid)."""
        new_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(21))
        rows = await self._query("create", INSERT, (new_id, data.name, data.email, data.age))
        return _user(rows[0])

    async def delete(self, user_id: str, versions: list[int] | bool | None = False) -> User | None:
        """Soft delete: the tombstone (with its new version), or None when there was no user."""
        if versions is not False:
            rows = await self._query(
                "delete", CONDITIONAL_DELETE, {"id": user_id, "versions": versions}
            )
            if not rows:
                raise _precondition_failed()
            return _user(rows[0])
        rows = await self._query("delete", SOFT_DELETE, (user_id,))
        return _user(rows[0]) if rows else None

    async def ping(self) -> None:
        """``SELECT 1``, without the simulated latency."""
        await self._query("ping", "SELECT 1", ())
