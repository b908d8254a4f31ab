"""Redis Cluster: the invalidation channels subscribed on the nodes that own them (SPEC §6.3).

redis-py's ``ClusterPubSub`` repairs sharded subscriptions by itself (after a slot moved or a
node failed), out of sight of the caller; trust (SPEC §7) must see every such break. So each
node that owns a channel's slot gets a plain ``PubSub`` of its own here, with one ``SSUBSCRIBE``
per channel, and anything that may have lost a message (an error, a reconnect, a ``SUNSUBSCRIBE``
pushed by the server when a slot moves) ends the whole subscription: the cache withdraws trust
and subscribes again from the cluster's current slot map.
"""

from __future__ import annotations

import contextlib
import select
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

import redis
from redis.exceptions import RedisClusterException, RedisError

N = TypeVar("N", bound=Hashable)

#: What a Redis call may raise: a cluster client's own failures (no node reachable, a slot not
#: covered) are not ``RedisError``s.
REDIS_FAILURES: tuple[type[Exception], ...] = (RedisError, RedisClusterException)
#: What ends a subscription: the subscriber withdraws trust and subscribes again.
SUBSCRIBER_FAILURES: tuple[type[Exception], ...] = (*REDIS_FAILURES, OSError, ValueError)

#: Message types that end a subscription: the server unsubscribed us (a slot moved away).
ENDED = ("unsubscribe", "sunsubscribe")


def group_by_node(channels: Iterable[str], node_of: Callable[[str], N]) -> dict[N, list[str]]:
    """The channels by the node that owns their slot, in the order given."""
    groups: dict[N, list[str]] = {}
    for channel in channels:
        groups.setdefault(node_of(channel), []).append(channel)
    return groups


def check_message(message: dict[str, Any] | None) -> dict[str, Any] | None:
    """``message``, unless it says the server ended a subscription: then raises, so that the
    caller withdraws trust and subscribes again where the channel lives now."""
    if message is not None and message["type"] in ENDED:
        raise redis.ConnectionError(f"the server ended the subscription to {message['channel']!r}")
    return message


class ClusterSubscriber:
    """The channels of one cache on a :class:`redis.RedisCluster`: a ``PubSub`` per node owning
    a channel's slot. Has the ``get_message``/``close`` of a ``PubSub``; any break raises."""

    def __init__(
        self,
        cluster: redis.RedisCluster,
        channels: tuple[str, ...],
        *,
        sharded: bool,
        timeout_s: float,
        on_message: Callable[[dict[str, Any]], None],
        on_reconnect: Callable[[Any], None],
    ) -> None:
        self._pubsubs: list[Any] = []
        self._on_reconnect = on_reconnect
        nodes: Any = cluster  # redis-py leaves its node look-ups untyped
        # Global Pub/Sub on a cluster: one SUBSCRIBE, on the node of the channel's own slot.
        groups = group_by_node(channels, lambda channel: nodes.get_node_from_key(channel).name)
        try:
            for name, owned in groups.items():
                pubsub = cluster.get_redis_connection(nodes.get_node(node_name=name)).pubsub()
                self._pubsubs.append(pubsub)
                # One SSUBSCRIBE per channel: their slots differ, even on one node.
                for channel in owned:
                    (pubsub.ssubscribe if sharded else pubsub.subscribe)(channel)
                _confirm(pubsub, len(owned), timeout_s, on_message)
                # redis-py reconnects and re-subscribes by itself; that may have lost messages.
                connection: Any = pubsub.connection
                connection.register_connect_callback(on_reconnect)
        except BaseException:
            self.close()
            raise

    def get_message(self, timeout: float) -> dict[str, Any] | None:
        """The next message of any node, waiting up to ``timeout`` s for one."""
        message = self._poll()
        if message is not None:
            return message
        sockets: list[Any] = [getattr(p.connection, "_sock", None) for p in self._pubsubs]
        if any(sock is None for sock in sockets):
            raise redis.ConnectionError("a node's subscriber connection is closed")
        # Waits on every node's socket at once; the parsers' buffers were drained just above.
        select.select(sockets, [], [], timeout)
        return self._poll()

    def _poll(self) -> dict[str, Any] | None:
        for pubsub in self._pubsubs:
            message = check_message(pubsub.get_message(timeout=0))
            if message is not None:
                return message
        return None

    def close(self) -> None:
        for pubsub in self._pubsubs:
            close_pubsub(pubsub, self._on_reconnect)
        self._pubsubs = []


def close_pubsub(pubsub: Any, on_reconnect: Callable[[Any], None]) -> None:
    """Closes ``pubsub``. Its connection goes back to the pool and may serve commands: the
    reconnect callback comes off it first, or a later reconnect there would withdraw trust."""
    connection: Any = pubsub.connection
    if connection is not None:
        connection.deregister_connect_callback(on_reconnect)
    with contextlib.suppress(*REDIS_FAILURES, OSError):
        pubsub.close()


def _confirm(
    pubsub: Any, count: int, timeout_s: float, on_message: Callable[[dict[str, Any]], None]
) -> None:
    """Waits for ``count`` subscribe confirmations, so that trust never precedes them."""
    confirmed = 0
    while confirmed < count:
        reply = check_message(pubsub.get_message(timeout=timeout_s))
        if reply is None:
            raise redis.TimeoutError("no SUBSCRIBE confirmation")
        if reply["type"] in ("subscribe", "ssubscribe"):
            confirmed += 1
        elif reply["type"] in ("message", "smessage"):
            on_message(reply)


def refresh_slots(cluster: redis.RedisCluster) -> None:
    """Reads the cluster's slot map again (after a break: a slot may have moved)."""
    with contextlib.suppress(*REDIS_FAILURES, OSError):
        cluster.nodes_manager.initialize()
