"""Fixtures of the instance's tests: a real PostgreSQL 15 and redis-server on free ports, and the
``cachelab-instance`` process over them."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from redis_server import RedisServer, free_port, start_redis, wait_for

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
INSTANCE = Path(sys.executable).parent / "cachelab-instance"


@dataclass
class Postgres:
    url: str
    process: subprocess.Popen[bytes]
    directory: str


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL for the session (initdb into a temporary directory, trust auth)."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN} (set PG_BIN)")
    directory = tempfile.mkdtemp(prefix="cachelab-pg-")
    data = os.path.join(directory, "data")
    # PostgreSQL refuses to run as root: under root it runs as the system user `postgres`.
    user: dict[str, Any] = {}
    if os.getuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chmod(directory, 0o777)
        os.chown(directory, entry.pw_uid, entry.pw_gid)
        user = {"user": entry.pw_uid, "group": entry.pw_gid}
    subprocess.run(
        [
            PG_BIN / "initdb",
            "-D",
            data,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        **user,
    )
    port = free_port()
    process = subprocess.Popen(
        [
            PG_BIN / "postgres",
            "-D",
            data,
            "-p",
            str(port),
            "-k",
            directory,
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **user,
    )
    url = f"postgres://postgres@127.0.0.1:{port}/postgres"

    def answers() -> bool:
        with psycopg.connect(url, connect_timeout=1) as connection:
            connection.execute("SELECT 1")
        return True

    wait_for(answers, timeout_s=30)
    yield Postgres(url, process, directory)
    process.terminate()
    process.wait(timeout=30)
    shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Instance:
    url: str
    process: subprocess.Popen[bytes]
    database_url: str
    redis: RedisServer

    def request(
        self,
        path: str,
        method: str = "GET",
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """Status, headers (lower-case names) and the JSON body (None when there is none)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data, method=method)
        if data is not None:
            request.add_header("content-type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw, got = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, raw, got = error.code, error.read(), error.headers
        names = {name.lower(): value for name, value in got.items()}
        return status, names, json.loads(raw) if raw else None


@pytest.fixture
def instance(postgres: Postgres) -> Iterator[Instance]:
    """A ``cachelab-instance`` of this test alone, with its own Redis and namespace."""
    redis = start_redis()
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "INSTANCE_NAME": "py-test",
        "CLUSTER_RUN_ID": "pytest-run",
        "REDIS_URL": redis.url,
        "DATABASE_URL": postgres.url,
        "DB_LATENCY_MS": "0",
        "SEED_USERS": "20",
        "OUTBOX_POLL_MS": "50",
    }
    process = subprocess.Popen([INSTANCE], env=env)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert process.poll() is None, "the instance exited"
        with urllib.request.urlopen(url + "/readyz", timeout=1) as response:
            return bool(json.load(response)["run"] == "pytest-run")

    try:
        wait_for(ready, timeout_s=30)
        yield Instance(url, process, postgres.url, redis)
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
        if process.poll() is None:
            process.kill()
            process.wait()
        redis.stop()
