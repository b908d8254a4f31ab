"""The versioned protocol against a real Redis; two caches in one process are two instances."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from cachelab import (
    Cache,
    CacheOptions,
    InvalidKeyError,
    Loaded,
    OverloadedError,
    VersionUnavailableError,
)
from cachelab.keys import Keys
from fakes import Source
from redis_server import RedisServer, wait_for


def test_a_miss_fills_redis_with_pointer_and_data_and_l1_serves_the_next_read(
    make_cache: Callable[..., Cache[Any]], redis_server: RedisServer, namespace: str
) -> None:
    source = Source()
    source.write("user:42", {"name": "Ada"})
    cache = make_cache()
    assert cache.get_or_load("user:42", source.load).tier == "MISS"
    read = cache.get_or_load("user:42", source.load)
    assert (read.tier, read.version, read.value) == ("L1", 1, {"name": "Ada"})
    r = redis_server.client()
    keys = Keys(namespace)
    assert r.get(keys.pointer("user:42")) == "1"
    assert json.loads(r.get(keys.data("user:42", 1)) or "") == {"name": "Ada"}
    assert 0 < r.pttl(keys.data("user:42", 1)) <= 60_000 < r.pttl(keys.pointer("user:42"))
    assert source.loads == 1


def test_a_write_reaches_the_other_instance_l1_through_pub_sub(
    make_cache: Callable[..., Cache[Any]],
) -> None:
    source = Source()
    source.write("k", "v1")
    writer, reader = make_cache(origin="writer"), make_cache(origin="reader")
    reader.get_or_load("k", source.load)
    assert reader.get_or_load("k", source.load).tier == "L1"
    writer.set("k", source.write("k", "v2"))
    assert writer.get_or_load("k", source.load).tier == "L1"  # read-your-writes on the writer
    wait_for(lambda: reader.stats()["invalidations_received"] == 1)
    read = reader.get_or_load("k", source.load)
    assert (read.tier, read.version, read.value) == ("L2", 2, "v2")


def test_a_late_fill_of_an_older_version_is_refused_in_redis_and_l1(
    make_cache: Callable[..., Cache[Any]],
) -> None:
    """The stale-set race: a reader holds v1 from the database while v2 is written."""
    source = Source()
    v1 = source.write("k", "v1")
    slow, writer = make_cache(origin="slow"), make_cache(origin="writer")
    loaded, release = threading.Event(), threading.Event()

    def held_loader(key: str) -> Loaded[Any]:
        row = source.load(key)
        loaded.set()
        assert release.wait(5)
        return row

    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(slow.get_or_load("k", held_loader)))
    thread.start()
    assert loaded.wait(5)
    writer.set("k", source.write("k", "v2"))
    wait_for(lambda: slow.stats()["invalidations_received"] == 1)
    release.set()
    thread.join(5)
    assert result[0].version == v1.version  # the read itself answers what it read
    assert slow.get_or_load("k", source.load).version == 2
    assert writer.get_or_load("k", source.load).version == 2


def test_concurrent_misses_share_one_load(make_cache: Callable[..., Cache[Any]]) -> None:
    source = Source()
    source.write("hot", 1)
    cache = make_cache()
    gate = threading.Event()

    def slow_load(key: str) -> Loaded[Any]:
        gate.wait(5)
        return source.load(key)

    threads = [
        threading.Thread(target=cache.get_or_load, args=("hot", slow_load)) for _ in range(10)
    ]
    for t in threads:
        t.start()
    wait_for(lambda: cache.stats()["misses"] == 10)
    gate.set()
    for t in threads:
        t.join(5)
    assert source.loads == 1


def test_loads_beyond_the_bound_are_shed(make_cache: Callable[..., Cache[Any]]) -> None:
    cache = make_cache(max_concurrent_loads=1)
    gate, started = threading.Event(), threading.Event()

    def held(key: str) -> Loaded[Any]:
        started.set()
        gate.wait(5)
        return Loaded(None, 0)

    thread = threading.Thread(target=cache.get_or_load, args=("a", held))
    thread.start()
    assert started.wait(5)
    with pytest.raises(OverloadedError):
        cache.get_or_load("b", Source().load)
    gate.set()
    thread.join(5)


def test_strict_reads_confirm_l1_with_redis(
    make_cache: Callable[..., Cache[Any]], redis_server: RedisServer, namespace: str
) -> None:
    source = Source()
    source.write("k", "v1")
    cache = make_cache()
    cache.get_or_load("k", source.load)
    assert cache.get_or_load("k", source.load, consistency="strict").tier == "L1"
    # Redis moves on behind this instance's back (no announcement reaches it).
    keys = Keys(namespace)
    r = redis_server.client()
    r.set(keys.pointer("k"), "2")
    r.set(keys.data("k", 2), json.dumps("v2"))
    assert cache.get_or_load("k", source.load).tier == "L1"  # eventual: the local copy
    read = cache.get_or_load("k", source.load, consistency="strict")
    assert (read.tier, read.value) == ("L2", "v2")
    assert cache.stats()["strict_refuted"] == 1


def test_min_version_tokens_are_never_answered_below(
    make_cache: Callable[..., Cache[Any]],
) -> None:
    source = Source()
    source.write("k", "v1")
    cache = make_cache()
    cache.get_or_load("k", source.load)
    source.write("k", "v2")  # written elsewhere; this instance has not heard of it
    read = cache.get_or_load("k", source.load, min_version=2)
    assert (read.tier, read.version) == ("MISS", 2)
    with pytest.raises(VersionUnavailableError) as raised:
        cache.get_or_load("k", source.load, min_version=3)
    assert raised.value.code == "E_VERSION_UNAVAILABLE"


def test_not_found_is_cached_briefly_and_a_create_replaces_it(
    make_cache: Callable[..., Cache[Any]], redis_server: RedisServer, namespace: str
) -> None:
    source = Source()
    a, b = make_cache(origin="a"), make_cache(origin="b")
    assert a.get_or_load("nobody", source.load).value is None
    assert b.get_or_load("nobody", source.load).tier == "L2"
    assert 0 < redis_server.client().pttl(Keys(namespace).data("nobody", 0)) <= 5_000
    a.set("nobody", source.write("nobody", "created"))
    wait_for(lambda: b.get_or_load("nobody", source.load).value == "created")


def test_trust_is_withdrawn_when_the_subscriber_is_killed_and_l1_is_flushed_after(
    make_cache: Callable[..., Cache[Any]], redis_server: RedisServer
) -> None:
    source = Source()
    source.write("k", "v1")
    cache = make_cache(origin="victim")
    cache.get_or_load("k", source.load)
    assert cache.get_or_load("k", source.load).tier == "L1"
    killed = redis_server.client().client_kill_filter(_type="pubsub")
    assert killed >= 1
    wait_for(lambda: cache.stats()["trust_lost"] >= 1)
    wait_for(lambda: cache.trusted and cache.stats()["l1_flushes"] >= 2)
    assert cache.stats()["l1_size"] == 0
    assert cache.get_or_load("k", source.load).tier == "L2"


def test_a_silent_subscription_loses_trust_by_heartbeat_timeout(
    own_redis: RedisServer, namespace: str
) -> None:
    cache: Cache[Any] = Cache(
        own_redis.client(),
        CacheOptions(namespace=namespace, heartbeat_interval_ms=50, heartbeat_timeout_ms=300),
    )
    try:
        assert cache.wait_until_trusted(5)
        # Frozen Redis: commands and Pub/Sub stall, no FIN, no error.
        own_redis.process.send_signal(19)  # SIGSTOP
        try:
            wait_for(lambda: not cache.trusted, timeout_s=5)
        finally:
            own_redis.process.send_signal(18)  # SIGCONT
        wait_for(lambda: cache.trusted, timeout_s=10)
    finally:
        cache.close()


def test_invalid_keys_are_refused_before_redis(make_cache: Callable[..., Cache[Any]]) -> None:
    cache = make_cache(trusted=False)
    for key in ["", "a{b", "a b", "x" * 513, "\x00", "a\ud800"]:
        with pytest.raises(InvalidKeyError):
            cache.get_or_load(key, Source().load)


def test_signed_messages_are_accepted_and_forged_ones_counted(
    make_cache: Callable[..., Cache[Any]], redis_server: RedisServer, namespace: str
) -> None:
    secret = "s" * 32
    source = Source()
    source.write("k", 1)
    a = make_cache(origin="a", signing_secrets=[secret])
    b = make_cache(origin="b", signing_secrets=["other-secret-1234", secret])
    b.get_or_load("k", source.load)
    a.set("k", source.write("k", 2))
    wait_for(lambda: b.stats()["invalidations_received"] == 1)
    r = redis_server.client()
    forged = json.dumps({"type": "inv", "key": "k", "version": 9, "origin": "x", "seq": 0, "ts": 1})
    r.publish(f"{namespace}:invalidations", forged)
    r.publish(f"{namespace}:invalidations", "A" * 43 + "." + forged)
    wait_for(lambda: b.stats()["messages_rejected"] == {"malformed": 0, "unsigned": 1, "forged": 1})
    assert b.get_or_load("k", source.load).version == 2


def test_sharded_pubsub_carries_invalidations_on_the_keys_shard_channel(
    make_cache: Callable[..., Cache[Any]],
) -> None:
    source = Source()
    source.write("user:7", "v1")
    a = make_cache(origin="a", pubsub="sharded")
    b = make_cache(origin="b", pubsub="sharded")
    b.get_or_load("user:7", source.load)
    a.set("user:7", source.write("user:7", "v2"))
    wait_for(lambda: b.stats()["invalidations_received"] == 1)
    assert b.get_or_load("user:7", source.load).version == 2
