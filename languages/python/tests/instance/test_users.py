"""The users repository over a real PostgreSQL: what its writes leave in the database session."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from cachelab_instance.schema import prepare_database
from cachelab_instance.users import UsersRepository
from cachelab_instance.validation import UserInput
from conftest import Postgres

ADA = UserInput(name="Ada", email="ada@example.com", age=36)


def test_writes_wake_no_relay_and_leave_the_session_as_it_was(postgres: Postgres) -> None:
    asyncio.run(_writes_wake_no_relay(postgres.url))


async def _writes_wake_no_relay(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as listener:
        await prepare_database(listener, 0)
        await listener.execute("LISTEN cachelab_outbox")
        # One connection, so that the session the writes ran in is the one checked afterwards.
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url, min_size=1, max_size=1, kwargs={"autocommit": True}, open=False
        )
        await pool.open()
        try:
            users = UsersRepository(pool)
            put, _ = await users.put("quiet-1", ADA)
            await users.put("quiet-1", ADA, [put.version])
            created = await users.create(ADA)
            await users.delete(created.id, None)
            await users.delete("quiet-1")
            # Notifications arrive in commit order: once the marker is in, the writes' would be.
            await listener.execute("SELECT pg_notify('cachelab_outbox', 'marker')")
            payloads = []
            async for notify in listener.notifies(timeout=5):
                payloads.append(notify.payload)
                if notify.payload == "marker":
                    break
            assert payloads == ["marker"]
            # The setting lived for each write's transaction only: a pooler in transaction mode
            # (PgBouncer) would hand this session to another client.
            async with pool.connection() as connection:
                cursor = await connection.execute(
                    "SELECT current_setting('cachelab.wake_relay', true)"
                )
                row = await cursor.fetchone()
            assert row is not None
            assert (row[0] or "") == ""
        finally:
            await pool.close()
