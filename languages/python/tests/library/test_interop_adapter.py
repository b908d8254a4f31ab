"""The interop adapter (protocol/INTEROP.md), two processes of it on one Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from redis_server import RedisServer, wait_for

ADAPTER = Path(__file__).resolve().parents[2] / "interop_adapter.py"


class AdapterProcess:
    def __init__(self, url: str, namespace: str, origin: str) -> None:
        env = {
            **os.environ,
            "REDIS_URL": url,
            "CACHELAB_NAMESPACE": namespace,
            "CACHELAB_ORIGIN": origin,
            "CACHELAB_HEARTBEAT_MS": "50",
            "CACHELAB_SECRETS": "secret-number-one-xx,secret-number-two-xx",
        }
        self.process = subprocess.Popen(
            [sys.executable, str(ADAPTER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.ids = count(1)
        assert json.loads(self.line()) == {"event": "ready", "impl": "python", "version": "0.1.0"}

    def line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the adapter exited"
        return line

    def send(self, **request: Any) -> int:
        assert self.process.stdin is not None
        request.setdefault("id", next(self.ids))
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return int(request["id"])

    def call(self, **request: Any) -> dict[str, Any]:
        sent = self.send(**request)
        answer: dict[str, Any] = json.loads(self.line())
        assert answer["id"] == sent, answer
        return answer


@pytest.fixture
def adapter(redis_server: RedisServer, namespace: str) -> Iterator[Callable[[str], AdapterProcess]]:
    started: list[AdapterProcess] = []

    def start(origin: str) -> AdapterProcess:
        process = AdapterProcess(redis_server.url, namespace, origin)
        started.append(process)
        wait_for(lambda: process.call(op="stats")["trusted"])
        return process

    yield start
    for process in started:
        if process.process.poll() is None:
            assert process.process.stdin is not None
            process.process.stdin.close()
            assert process.process.wait(10) == 0


def test_write_read_and_a_held_load_answered_after_a_later_set(
    adapter: Callable[[str], AdapterProcess],
) -> None:
    x, y = adapter("py-x"), adapter("py-y")
    source = {"value": {"name": "Ada"}, "version": 1}
    first = y.call(op="read", key="user:1", source=source)
    assert (first["tier"], first["loaded"]) == ("MISS", True)
    assert y.call(op="peek", key="user:1")["found"] is True
    assert x.call(op="set", key="user:1", value={"name": "Grace"}, version=2)["ok"]
    wait_for(lambda: y.call(op="peek", key="user:1")["found"] is False)
    second = y.call(op="read", key="user:1", source=source)
    assert (second["tier"], second["version"], second["loaded"]) == ("L2", 2, False)
    # Requests are handled as they arrive: a held load does not hold the next request.
    held = y.send(op="read", key="user:2", source={"value": "v1", "version": 1}, loadDelayMs=1500)
    quick = y.call(op="stats")  # Redis has nothing for user:2: the held read is loading
    assert quick["trusted"] and quick["rejected"] == {"malformed": 0, "unsigned": 0, "forged": 0}
    assert x.call(op="delete", key="user:2", version=2)["ok"]
    late = json.loads(y.line())
    assert late["id"] == held
    # Loaded (v1, the usual case) or, had the delete landed before its Redis read, v2 from L2.
    assert (late["loaded"], late["version"]) in {(True, 1), (False, 2)}
    wait_for(lambda: y.call(op="stats")["invalidationsReceived"] >= 2)
    peek = y.call(op="peek", key="user:2")
    assert not peek["found"] or peek["version"] == 2  # v1 never reached L1
    final = y.call(op="read", key="user:2", source=None)
    assert (final["value"], final["version"]) == (None, 2)
    assert final["tier"] in {"L1", "L2"}  # L1 when the tombstone was read before the load


def test_errors_have_codes(adapter: Callable[[str], AdapterProcess]) -> None:
    y = adapter("py-y")
    assert y.call(op="read", key="a b", source=None)["error"]["code"] == "E_INVALID_KEY"
    answer = y.call(op="read", key="k", source={"value": 1, "version": 1}, minVersion=5)
    assert answer["error"]["code"] == "E_VERSION_UNAVAILABLE"
    assert y.call(op="nope")["error"]["code"] == "E_BAD_REQUEST"
    assert y.call(op="close")["ok"] is True
    assert y.process.wait(10) == 0
