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


# A cluster node also listens on its port + 10000 (the cluster bus): both stay below 32768.
CLUSTER_PORTS = range(20000, 22767)


def _binds(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port(ports: range = PORTS, bus: bool = False) -> int:
    """A port in ``ports`` that binds now (and its bus port, +10000, with ``bus``); tried from a
    random start so parallel runs spread out."""
    start = int.from_bytes(os.urandom(2), "big") % len(ports)
    for i in range(len(ports)):
        port = ports[(start + i) % len(ports)]
        if _binds(port) and (not bus or _binds(port + 10000)):
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop}")


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
    #: Whether stop() removes ``directory`` (not when the test gave it).
    owns_directory: bool = True

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
        if self.owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)


def start_redis(port: int | None = None, *extra: str, directory: str | None = None) -> RedisServer:
    """Starts redis-server with nothing persisted by itself and waits until it answers PING.
    With ``directory`` it runs there (and loads the ``dump.rdb`` a ``SAVE`` left there), and
    stop() leaves the directory."""
    given = directory
    for _ in range(5):
        chosen = port or (free_port(CLUSTER_PORTS, bus=True) if extra else free_port())
        directory = given or tempfile.mkdtemp(prefix="cachelab-redis-")
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
                *extra,
            ],
            stdout=subprocess.DEVNULL,
        )
        server = RedisServer(chosen, process, directory, owns_directory=given is None)
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


@dataclass
class RedisClusterServers:
    """A Redis Cluster of three masters with a replica each, started by this test run."""

    servers: list[RedisServer]

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self.servers]

    @property
    def nodes(self) -> str:
        """Seed URLs as ``REDIS_CLUSTER_NODES`` takes them."""
        return ",".join(server.url for server in self.servers)

    def client(self) -> redis.RedisCluster:
        return redis.RedisCluster(
            host="127.0.0.1", port=self.ports[0], decode_responses=True, socket_timeout=2
        )

    def masters(self) -> list[RedisServer]:
        """The servers that are masters now."""
        return [s for s in self.servers if s.client().info("replication")["role"] == "master"]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def start_cluster(size: int = 6) -> RedisClusterServers:
    """Starts ``size`` redis-servers in cluster mode, joins them with ``redis-cli --cluster
    create`` (one replica per master) and waits for ``cluster_state:ok`` on every node."""
    servers: list[RedisServer] = []
    try:
        for _ in range(size):
            config = f"nodes-{len(servers)}.conf"
            servers.append(
                start_redis(None, "--cluster-enabled", "yes", "--cluster-config-file", config)
            )
        cluster = RedisClusterServers(servers)
        subprocess.run(
            [
                os.environ.get("REDIS_CLI", shutil.which("redis-cli") or "/usr/bin/redis-cli"),
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in cluster.ports),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=60,
        )

        def ready() -> bool:
            for server in servers:
                info = server.client().execute_command("CLUSTER", "INFO")
                if "cluster_state:ok" not in info:
                    return False
            return True

        wait_for(ready, timeout_s=30, interval_s=0.05)
        return cluster
    except BaseException:
        for server in servers:
            server.stop()
        raise
