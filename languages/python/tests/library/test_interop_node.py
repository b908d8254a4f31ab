"""Coherence across languages: a Python cache and a Node.js cache (@cachelab/cache from this
repository, in a child process) on one Redis, each writing and reading what the other wrote."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cachelab import Cache, Loaded
from redis_server import RedisServer, wait_for

REPO = Path(__file__).resolve().parents[4]
PEER = Path(__file__).resolve().parents[1] / "node" / "peer.ts"


def _node_ready() -> bool:
    return shutil.which("node") is not None and (REPO / "node_modules" / "tsx").is_dir()


pytestmark = pytest.mark.skipif(
    not _node_ready(), reason="needs node and `npm ci` at the repository root"
)


class NodePeer:
    """The Node.js instance: one JSON command per line."""

    def __init__(self, url: str, namespace: str, origin: str, *extra: str) -> None:
        self.process = subprocess.Popen(
            ["node", "--import", "tsx", str(PEER), url, namespace, origin, *extra],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert json.loads(self._line()) == {"ready": True}

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the node peer exited ({self.process.wait(10)})")
        return line

    def call(self, **command: Any) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self._line())
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer["ok"]

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.call(op="close")
            finally:
                self.process.wait(10)


@pytest.fixture
def node_peer(redis_server: RedisServer, namespace: str) -> Iterator[Callable[..., NodePeer]]:
    peers: list[NodePeer] = []

    def start(origin: str = "node-1", *extra: str) -> NodePeer:
        peer = NodePeer(redis_server.url, namespace, origin, *extra)
        peers.append(peer)
        wait_for(lambda: peer.call(op="stats")["trusted"], timeout_s=10)
        return peer

    yield start
    for peer in peers:
        peer.close()


def row(value: Any, version: int) -> dict[str, Any]:
    return {"value": value, "version": version}


@pytest.mark.parametrize("pubsub", ["global", "sharded"])
@pytest.mark.parametrize("signed", [False, True])
def test_python_and_node_invalidate_each_other(
    make_cache: Callable[..., Cache[Any]],
    node_peer: Callable[..., NodePeer],
    pubsub: str,
    signed: bool,
) -> None:
    secret = "a-shared-secret-of-32-characters"
    extra = [pubsub, secret] if signed else [pubsub]
    node = node_peer("node-1", *extra)
    py = make_cache(origin="py-1", pubsub=pubsub, signing_secrets=[secret] if signed else [])
    user = {"id": "42", "name": "Ada", "tags": ["ü", "√"]}

    def loader(value: Any, version: int) -> Callable[[str], Loaded[Any]]:
        return lambda _key: Loaded(value, version)

    # Python misses and fills Redis; Node reads Python's fill from Redis, then from its L1.
    assert py.get_or_load("user:42", loader(user, 1)).tier == "MISS"
    assert node.call(op="get", key="user:42", row=row(None, 0)) == {**row(user, 1), "tier": "L2"}
    assert node.call(op="get", key="user:42")["tier"] == "L1"
    assert py.get_or_load("user:42", loader(None, 0)).tier == "L1"

    # Node writes v2: Python's L1 drops v1 on Node's announcement and reads v2 from Redis.
    node.call(op="set", key="user:42", value={**user, "name": "Grace"}, version=2)
    wait_for(lambda: py.stats()["invalidations_received"] == 1)
    read = py.get_or_load("user:42", loader(user, 1))
    assert (read.tier, read.version, read.value) == ("L2", 2, {**user, "name": "Grace"})

    # Python writes v3: Node's L1 drops v2 on Python's announcement and reads v3 from Redis.
    py.set("user:42", Loaded({**user, "name": "Lin"}, 3))
    wait_for(lambda: node.call(op="stats")["invalidationsReceived"] == 1)
    answer = node.call(op="get", key="user:42", row=row(user, 1))
    assert (answer["tier"], answer["version"], answer["value"]["name"]) == ("L2", 3, "Lin")

    # Neither accepted anything from the other as malformed, unsigned or forged.
    assert set(py.stats()["messages_rejected"].values()) == {0}
    assert set(node.call(op="stats")["messagesRejected"].values()) == {0}


def test_a_stale_fill_from_either_language_is_refused(
    make_cache: Callable[..., Cache[Any]], node_peer: Callable[..., NodePeer]
) -> None:
    node = node_peer("node-1")
    py = make_cache(origin="py-1")
    py.set("k", Loaded("v5", 5))
    # Node's loader answers v4 (a slow read of the database): Redis keeps v5.
    assert node.call(op="get", key="k", row=row("v4", 4))["version"] == 5
    node.call(op="set", key="j", value="v9", version=9)
    assert py.get_or_load("j", lambda _k: Loaded("v8", 8)).version == 9
