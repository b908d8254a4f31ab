"""The protocol's test vectors (protocol/vectors/*.json), run against the Python implementation:
keys and channels, message decoding and signing, versions, and the Lua scripts on a real Redis.

Read from the repository's protocol/vectors, or from CACHELAB_VECTORS (a directory) when set."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest
import redis

from cachelab import InvalidKeyError, Keys
from cachelab.codec import parse_version
from cachelab.keys import is_valid_key, is_valid_namespace, key_slot, shard_of_slot
from cachelab.messages import Clear, Heartbeat, Invalidation, MessageCodec, Signer, to_fields
from cachelab.scripts import SCRIPT_NAMES, script_text
from cachelab.sequences import SenderSequences
from redis_server import RedisServer, wait_for

_namespaces = itertools.count()
VECTORS = Path(
    os.environ.get("CACHELAB_VECTORS")
    or Path(__file__).resolve().parents[4] / "protocol" / "vectors"
)


def cases(file: str, group: str) -> list[Any]:
    path = VECTORS / f"{file}.json"
    if not path.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no {path}"))]
    return [pytest.param(case, id=case["id"]) for case in json.loads(path.read_text())[group]]


@pytest.mark.parametrize("case", cases("keys", "namespaces"))
def test_namespaces(case: dict[str, Any]) -> None:
    assert is_valid_namespace(case["input"]["namespace"]) is case["expected"]["valid"]


@pytest.mark.parametrize("case", cases("keys", "shardChannels"))
def test_shard_channels(case: dict[str, Any]) -> None:
    assert list(Keys(case["input"]["namespace"]).shard_channels) == case["expected"]


@pytest.mark.parametrize("case", cases("keys", "keys"))
def test_keys(case: dict[str, Any]) -> None:
    keys, key, expected = Keys(case["input"]["namespace"]), case["input"]["key"], case["expected"]
    assert is_valid_key(key) is expected["valid"]
    if not expected["valid"]:
        with pytest.raises(InvalidKeyError):
            keys.pointer(key)
        return
    assert keys.pointer(key) == expected["pointer"]
    assert keys.data_prefix(key) == expected["dataPrefix"]
    assert keys.data(key, 7) == expected["data7"]
    assert keys.lease(key) == expected["lease"]
    assert keys.channel == expected["channel"]
    assert key_slot(key) == expected["slot"]
    assert shard_of_slot(key_slot(key)) == expected["shard"]
    assert keys.shard_channel(key) == expected["shardChannel"]


@pytest.mark.parametrize("case", cases("messages", "sign"))
def test_signing(case: dict[str, Any]) -> None:
    given = case["input"]
    assert Signer((given["secret"],), given["channel"]).sign(given["payload"]) == case["expected"]


def as_json(message: Invalidation | Heartbeat | Clear) -> dict[str, Any]:
    """The decoded message as the vectors write it (``cseq`` only when the message had one)."""
    return to_fields(message)


@pytest.mark.parametrize("case", cases("messages", "decode"))
def test_decoding(case: dict[str, Any]) -> None:
    given, expected = case["input"], case["expected"]
    decoded = MessageCodec(given["channel"], tuple(given["secrets"])).decode(given["raw"])
    if expected["accepted"]:
        assert not isinstance(decoded, str), decoded
        assert as_json(decoded) == expected["message"]
    else:
        assert decoded == expected["reason"]


@pytest.mark.parametrize("case", cases("cseq", "sequences"))
def test_sender_sequences(case: dict[str, Any]) -> None:
    senders = SenderSequences()
    gaps = [not senders.follows(m["origin"], m["cseq"]) for m in case["input"]["messages"]]
    assert gaps == case["expected"]["gaps"]


def test_sender_sequences_forget_the_least_recently_heard_past_their_bound() -> None:
    senders = SenderSequences(max_senders=2)
    assert senders.follows("a", 0) and senders.follows("b", 0) and senders.follows("a", 1)
    assert senders.follows("c", 0)  # b forgotten, the least recently heard
    assert len(senders) == 2
    assert senders.follows("a", 2)
    assert not senders.follows("b", 1)  # heard anew, above 0: a gap


@pytest.mark.parametrize("case", cases("versions", "pointer"))
def test_pointers(case: dict[str, Any]) -> None:
    version = parse_version(case["input"])
    if case["expected"].get("corrupt"):
        assert version is None
    else:
        assert version == case["expected"]["version"]


def fill(value: Any, namespace: str) -> Any:
    if isinstance(value, str):
        return value.replace("$ns", namespace)
    if isinstance(value, list):
        return [fill(item, namespace) for item in value]
    if isinstance(value, dict):
        return {fill(k, namespace): fill(v, namespace) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", cases("versions", "compare"))
def test_comparisons_through_fill(case: dict[str, Any], redis_server: RedisServer) -> None:
    r = redis_server.client()
    ns = f"cmp{next(_namespaces)}"
    a, b = case["input"]["a"], case["input"]["b"]
    r.set(f"{ns}:{{k}}:ver", b, px=60_000)
    args = [f"{ns}:{{k}}:v:", a, 60_000, 120_000, "x", "", "", "advanced"]
    reply = r.eval(script_text("fill.lua"), 2, f"{ns}:{{k}}:ver", f"{ns}:{{k}}:v:{a}", *args)
    assert reply[0] == {"gt": 1, "eq": 0, "lt": -1}[case["expected"]]


@pytest.mark.parametrize("case", cases("scripts", "cases"))
def test_scripts(case: dict[str, Any], redis_server: RedisServer) -> None:
    namespace = f"vec{next(_namespaces)}"
    given, expected = fill(case["input"], namespace), fill(case["expected"], namespace)
    r = redis_server.client()
    for command in given["setup"]:
        r.execute_command(*command)
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    channels = {m["channel"] for m in expected["published"]} | {f"{namespace}:invalidations"}
    pubsub.subscribe(*channels)
    wait_for(lambda: r.pubsub_numsub(*channels) == [(c, 1) for c in channels])
    script = r.register_script(script_text(f"{given['script']}.lua"))
    assert script(keys=given["keys"], args=given["argv"]) == expected["reply"]
    for key, after in expected["after"].items():
        assert r.get(key) == after["value"], key
        if "pttl" in after:
            low, high = after["pttl"]
            assert low <= r.pttl(key) <= high, key
    received: list[dict[str, str]] = []
    if expected["published"]:
        wait_for(lambda: _drain(pubsub, received) >= len(expected["published"]), timeout_s=5)
    # A marker published last: nothing else arrived before it.
    r.publish(f"{namespace}:invalidations", "end")
    wait_for(lambda: _drain(pubsub, received) > 0 and received[-1]["message"] == "end")
    assert received[:-1] == expected["published"]
    pubsub.close()


def _drain(pubsub: redis.client.PubSub, into: list[dict[str, str]]) -> int:
    while (message := pubsub.get_message(timeout=0.01)) is not None:
        into.append({"channel": message["channel"], "message": message["data"]})
    return len(into)


SCRIPTS = VECTORS.parent / "scripts"


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_packaged_scripts_are_the_protocols(name: str) -> None:
    """The package runs protocol/scripts byte for byte (the same SHA1 as every other language)."""
    if not (SCRIPTS / name).is_file():
        pytest.skip(f"no {SCRIPTS / name}")
    assert script_text(name) == (SCRIPTS / name).read_text("utf-8")
