"""Redis Cluster for the asyncio cache: as :mod:`cachelab.cluster`, a ``PubSub`` per node that
owns a channel's slot, each read by a task of its own into one queue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import SSLConnection

from cachelab.cluster import REDIS_FAILURES, SUBSCRIBER_FAILURES, check_message, group_by_node

#: The cluster's connection settings that a node's own subscriber client takes over.
_NODE_SETTINGS = (
    "username",
    "password",
    "credential_provider",
    "client_name",
    "encoding",
    "encoding_errors",
    "decode_responses",
    "socket_connect_timeout",
    "socket_keepalive",
    "ssl_keyfile",
    "ssl_certfile",
    "ssl_cert_reqs",
    "ssl_ca_certs",
    "ssl_ca_data",
    "ssl_check_hostname",
)


def _node_client(cluster: aioredis.RedisCluster, host: str, port: int) -> aioredis.Redis:
    settings = cluster.get_connection_kwargs()
    kwargs: Any = {name: settings[name] for name in _NODE_SETTINGS if name in settings}
    if settings.get("connection_class") is SSLConnection:
        kwargs["ssl"] = True
    return aioredis.Redis(host=host, port=port, **kwargs)


class AsyncClusterSubscriber:
    """The channels of one cache on a ``redis.asyncio.RedisCluster``; ``get_message`` raises
    whatever broke any node's subscription."""

    def __init__(self, on_reconnect: Callable[[Any], None]) -> None:
        self._on_reconnect = on_reconnect
        self._clients: list[aioredis.Redis] = []
        self._pubsubs: list[Any] = []
        self._readers: list[asyncio.Task[None]] = []
        self._queue: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue()

    @classmethod
    async def open(
        cls,
        cluster: aioredis.RedisCluster,
        channels: tuple[str, ...],
        *,
        sharded: bool,
        timeout_s: float,
        on_message: Callable[[dict[str, Any]], None],
        on_reconnect: Callable[[Any], None],
    ) -> AsyncClusterSubscriber:
        """Subscribes every channel on the node that owns its slot, each acknowledged."""
        subscriber = cls(on_reconnect)
        await cluster.initialize()  # the slot map, read once (again by refresh_slots)
        nodes: Any = cluster  # redis-py leaves its node look-ups untyped
        groups = group_by_node(channels, lambda channel: nodes.get_node_from_key(channel).name)
        try:
            async with asyncio.timeout(timeout_s):
                for name, owned in groups.items():
                    node = nodes.get_node(node_name=name)
                    await subscriber._subscribe(
                        _node_client(cluster, node.host, node.port), owned, sharded, on_message
                    )
        except BaseException:
            await subscriber.aclose()
            raise
        return subscriber

    async def _subscribe(
        self,
        client: aioredis.Redis,
        channels: list[str],
        sharded: bool,
        on_message: Callable[[dict[str, Any]], None],
    ) -> None:
        self._clients.append(client)
        pubsub = client.pubsub()
        self._pubsubs.append(pubsub)
        # One SSUBSCRIBE per channel: their slots differ, even on one node.
        for channel in channels:
            await (pubsub.ssubscribe if sharded else pubsub.subscribe)(channel)
        confirmed = 0
        while confirmed < len(channels):
            reply = check_message(await pubsub.get_message(timeout=0.05))
            if reply is None:
                continue
            if reply["type"] in ("subscribe", "ssubscribe"):
                confirmed += 1
            elif reply["type"] in ("message", "smessage"):
                on_message(reply)
        # redis-py reconnects and re-subscribes by itself; that may have lost messages.
        connection: Any = pubsub.connection
        connection.register_connect_callback(self._on_reconnect)
        self._readers.append(asyncio.create_task(self._read(pubsub), name="cachelab-shard"))

    async def _read(self, pubsub: Any) -> None:
        try:
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is not None:
                    self._queue.put_nowait(message)
        except SUBSCRIBER_FAILURES as error:
            self._queue.put_nowait(error)

    async def get_message(self, timeout: float) -> dict[str, Any] | None:
        """The next message of any node, waiting up to ``timeout`` s for one."""
        try:
            async with asyncio.timeout(timeout):
                item = await self._queue.get()
        except TimeoutError:
            return None
        if isinstance(item, BaseException):
            raise item
        return check_message(item)

    async def aclose(self) -> None:
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        for pubsub in self._pubsubs:
            await aclose_pubsub(pubsub, self._on_reconnect)
        for client in self._clients:
            with contextlib.suppress(*REDIS_FAILURES, OSError):
                await client.aclose()
        self._readers, self._pubsubs, self._clients = [], [], []


async def aclose_pubsub(pubsub: Any, on_reconnect: Callable[[Any], None]) -> None:
    """Closes ``pubsub``, with the reconnect callback off its connection first (the pool may
    hand that connection to commands, whose reconnects must not withdraw trust)."""
    connection: Any = pubsub.connection
    if connection is not None:
        connection.deregister_connect_callback(on_reconnect)
    with contextlib.suppress(*REDIS_FAILURES, OSError):
        await pubsub.aclose()


async def refresh_slots(cluster: aioredis.RedisCluster) -> None:
    """Reads the cluster's slot map again (after a break: a slot may have moved)."""
    with contextlib.suppress(*REDIS_FAILURES, OSError):
        await cluster.nodes_manager.initialize()
