"""The channel sequence number (``cseq``, SPEC MUST-MSG-8 and MUST-TRUST-8) on a real Redis
Cluster: every message a cache SPUBLISHes on a shard channel is numbered 0, 1, 2… there, and a
number skipped by any sender withdraws trust as a dropped subscription does."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import redis

import cachelab.asyncio as cl_async
from cachelab import Cache, Loaded
from cachelab.codec import encode_value
from cachelab.keys import Keys, key_slot, shard_of_slot
from cachelab.scripts import script_text
from fakes import Source
from redis_server import RedisClusterServers, RedisServer, wait_for


def keys_of_shard(shard: int, count: int) -> list[str]:
    """``count`` keys ``user:<n>`` announced on shard channel ``shard``."""
    found: list[str] = []
    n = 0
    while len(found) < count:
        if shard_of_slot(key_slot(f"user:{n}")) == shard:
            found.append(f"user:{n}")
        n += 1
    return found


class ChannelListener:
    """A plain sharded subscriber of one channel, collecting what every sender published."""

    def __init__(self, cluster: redis.RedisCluster, channel: str) -> None:
        self._pubsub = cluster.pubsub()
        self._pubsub.ssubscribe(channel)
        self.messages: list[dict[str, Any]] = []
        # Subscribed before anything is sent: the first message heard is the first sent.
        wait_for(
            lambda: (
                (self._pubsub.get_sharded_message(timeout=0.01) or {}).get("type") == "ssubscribe"
            )
        )

    def drain(self) -> list[dict[str, Any]]:
        while (raw := self._pubsub.get_sharded_message(timeout=0.01)) is not None:
            if raw["type"] == "smessage":
                self.messages.append(json.loads(raw["data"]))
        return self.messages

    def of(self, origin: str) -> list[dict[str, Any]]:
        return [message for message in self.drain() if message["origin"] == origin]

    def close(self) -> None:
        self._pubsub.close()


def test_every_message_a_cache_sends_on_a_shard_channel_is_numbered_from_0_in_order(
    cluster_cache: Callable[..., Cache[Any]],
    redis_cluster: RedisClusterServers,
    cluster_namespace: str,
) -> None:
    keys = keys_of_shard(3, 8)
    listener = ChannelListener(redis_cluster.client(), Keys(cluster_namespace).shard_channels[3])
    try:
        writer = cluster_cache(origin="writer")
        source = Source()
        # Eight threads writing at once beside the heartbeat thread: numbered and sent in order.
        threads = [
            threading.Thread(
                target=lambda key=key: [writer.set(key, source.write(key, i)) for i in range(10)]
            )
            for key in keys
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wait_for(lambda: sum(m["type"] == "inv" for m in listener.of("writer")) == 80)
        sent = listener.of("writer")
        assert [message["cseq"] for message in sent] == list(range(len(sent)))
        assert {message["type"] for message in sent} == {"hb", "inv"}
        assert writer.stats()["trust_lost"] == 0
    finally:
        listener.close()


def test_an_asyncio_cache_numbers_its_messages_in_order_too(
    redis_cluster: RedisClusterServers,
    cluster_namespace: str,
    async_cluster_cache: Callable[[], AbstractAsyncContextManager[cl_async.Cache[Any]]],
) -> None:
    keys = keys_of_shard(5, 8)
    listener = ChannelListener(redis_cluster.client(), Keys(cluster_namespace).shard_channels[5])
    source = Source()

    async def scenario() -> None:
        async with async_cluster_cache() as cache:
            for _ in range(5):
                await asyncio.gather(*(cache.set(key, source.write(key, "v")) for key in keys))
            assert cache.stats()["trust_lost"] == 0

    try:
        asyncio.run(scenario())
        wait_for(lambda: sum(m["type"] == "inv" for m in listener.of("async")) == 40)
        sent = listener.of("async")
        assert [message["cseq"] for message in sent] == list(range(len(sent)))
    finally:
        listener.close()


def test_a_sender_whose_cseq_skips_a_number_makes_the_reader_distrust_its_l1(
    cluster_cache: Callable[..., Cache[Any]],
    redis_cluster: RedisClusterServers,
    cluster_namespace: str,
) -> None:
    """An announcement lost on a shard channel (its slot moved while the reader was paused, say)
    is seen by the next message of the same sender, and the reader's L1 serves no more."""
    key = keys_of_shard(7, 1)[0]
    cluster = redis_cluster.client()
    keys = Keys(cluster_namespace)
    channel = keys.shard_channels[7]
    source = Source()
    source.write(key, "v1")
    reader = cluster_cache(origin="reader")
    reader.get_or_load(key, source.load)
    assert reader.get_or_load(key, source.load).tier == "L1"

    def send(cseq: int, version: int) -> None:
        received = reader.stats()["invalidations_received"]
        message = {"type": "inv", "key": "other", "version": version, "origin": "x", "seq": 0}
        cluster.spublish(channel, json.dumps({**message, "ts": 0, "cseq": cseq}))
        wait_for(lambda: reader.stats()["invalidations_received"] > received, timeout_s=5)

    # Sender x's first message (0), then a resend: no gap.
    send(0, 1)
    send(0, 1)
    assert reader.stats()["trust_lost"] == 0
    assert reader.get_or_load(key, source.load).tier == "L1"
    # x's message 1, announcing v2 of the key, is lost: the pointer moves, nothing is published.
    v2 = source.write(key, "v2")
    fill = cluster.register_script(script_text("fill.lua"))
    fill(
        keys=[keys.pointer(key), keys.data(key, 2)],
        args=[keys.data_prefix(key), "2", "60000", "120000", encode_value("v2"), "", "", "always"],
    )
    assert reader.get_or_load(key, source.load).version == 1  # stale, as nothing told it
    send(2, 1)
    assert reader.stats()["trust_lost"] == 1
    read = reader.get_or_load(key, source.load)
    assert (read.tier, read.version) == ("L2", v2.version)
    wait_for(lambda: reader.trusted, timeout_s=5)
    assert reader.stats()["l1_flushes"] == 2  # at start, and on regaining trust


def test_a_sender_first_heard_above_0_is_a_gap_and_a_restart_from_0_is_not(
    cluster_cache: Callable[..., Cache[Any]],
    redis_cluster: RedisClusterServers,
    cluster_namespace: str,
) -> None:
    cluster = redis_cluster.client()
    channel = Keys(cluster_namespace).shard_channels[0]
    reader = cluster_cache(origin="reader")

    def send(cseq: Any, origin: str = "y") -> None:
        heard = reader.stats()["invalidations_received"]
        rejected = reader.stats()["messages_rejected"]["malformed"]
        message = {"type": "inv", "key": "k", "version": 1, "origin": origin, "seq": 0, "ts": 0}
        cluster.spublish(channel, json.dumps({**message, "cseq": cseq}))
        wait_for(
            lambda: (
                reader.stats()["invalidations_received"] > heard
                or reader.stats()["messages_rejected"]["malformed"] > rejected
            ),
            timeout_s=5,
        )

    for cseq in [0, 1, 2, 2, 1, 0, 1]:  # in order, a resend, an older one, a restart and on
        send(cseq)
    # Malformed numbers are refused before they are counted.
    for bad in [None, -1, 1.5, "3", 2**53]:
        send(bad)
    assert reader.stats()["messages_rejected"]["malformed"] == 5
    assert reader.stats()["trust_lost"] == 0
    send(7, origin="z")
    assert reader.stats()["trust_lost"] == 1
    wait_for(lambda: reader.trusted, timeout_s=5)


def test_global_pubsub_messages_carry_no_cseq(
    redis_server: RedisServer, make_cache: Callable[..., Cache[Any]], namespace: str
) -> None:
    pubsub = redis_server.client().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(Keys(namespace).channel)
    try:
        cache = make_cache(origin="global")
        cache.set("k", Loaded("v", 1))
        seen: list[dict[str, Any]] = []

        def drain() -> bool:
            while (raw := pubsub.get_message(timeout=0.01)) is not None:
                seen.append(json.loads(raw["data"]))
            return {m["type"] for m in seen} == {"hb", "inv"}

        wait_for(drain)
        assert all("cseq" not in message for message in seen)
    finally:
        pubsub.close()
