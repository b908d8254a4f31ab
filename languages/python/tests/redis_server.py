"""A real redis-server per test session (or per test), on a port outside the ephemeral range."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass

import redis

REDIS_SERVER = os.environ.get(
    "REDIS_SERVER", shutil.which("redis-server") or "/usr/bin/redis-server"
)
# Below the kernel's ephemeral range (32768-60999 here), so no outgoing connection takes it.
PORTS = range(20000, 32000)


def free_port() -> int:
    """A port in PORTS that binds now; tried from a random start so parallel runs spread out."""
    start = int.from_bytes(os.urandom(2), "big") % len(PORTS)
    for i in range(len(PORTS)):
        port = PORTS[(start + i) % len(PORTS)]
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-32000")


def wait_for(check: object, timeout_s: float = 10.0, interval_s: float = 0.01) -> None:
    """Polls `check()` until it is truthy, failing after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():  # type: ignore[operator]
                return
        except Exception:  # noqa: BLE001 - not ready yet
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true within {timeout_s} s: {check}")
        time.sleep(interval_s)


@dataclass
class RedisServer:
    """A redis-server this test run started; stop() ends it (and only it)."""

    port: int
    process: subprocess.Popen[bytes]
    directory: str

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_redis(port: int | None = None) -> RedisServer:
    """Starts redis-server with nothing persisted and waits until it answers PING."""
    for _ in range(5):
        chosen = port or free_port()
        directory = tempfile.mkdtemp(prefix="cachelab-redis-")
        process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(chosen),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                directory,
            ],
            stdout=subprocess.DEVNULL,
        )
        server = RedisServer(chosen, process, directory)
        try:
            wait_for(lambda s=server: s.process.poll() is not None or s.client().ping(), 10)
        except TimeoutError:
            server.stop()
            raise
        if process.poll() is None:
            return server
        server.stop()  # lost the port to someone else between the check and the bind
        if port is not None:
            break
    raise RuntimeError("could not start redis-server")
