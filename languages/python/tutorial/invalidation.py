"""Chapter 4: invalidation and updates — versioned keys in Redis, Pub/Sub to every process's L1.

Each :class:`Instance` stands for one application process: an in-process L1 (a dict) in front of
Redis, a version pointer plus data entries per version in Redis, and a subscriber thread that
drops L1 entries older than an announced version.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import redis

from slow_source import SlowUserSource

NAMESPACE = "tut"
CHANNEL = f"{NAMESPACE}:invalidations"

# #region tutorial:lua
# Reads the pointer and the data entry it points to, in one round trip.
READ = """
local version = redis.call('GET', KEYS[1])
if not version then return nil end
return {version, redis.call('GET', ARGV[1] .. version)}
"""

# Stores a version's data and moves the pointer only forward; publishes when asked to.
FILL = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[2]) <= current then return 0 end
redis.call('SET', ARGV[1] .. ARGV[2], ARGV[3], 'EX', ARGV[4])
redis.call('SET', KEYS[1], ARGV[2], 'EX', 2 * tonumber(ARGV[4]))
if current >= 0 then redis.call('DEL', ARGV[1] .. current) end
if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return 1
"""
# #endregion tutorial:lua


def pointer_key(user_id: str) -> str:
    return f"{NAMESPACE}:{{user:{user_id}}}:ver"


def data_prefix(user_id: str) -> str:
    return f"{NAMESPACE}:{{user:{user_id}}}:v:"


class Instance:
    """One application process: L1, versioned Redis entries, and a Pub/Sub subscriber thread."""

    def __init__(self, r: redis.Redis, source: SlowUserSource, name: str, ttl_s: int = 60) -> None:
        self.r, self.source, self.name, self.ttl_s = r, source, name, ttl_s
        self.l1: dict[str, tuple[int, dict[str, Any] | None]] = {}
        self.marks: dict[str, int] = {}  # high-water marks: the highest version announced
        self.lock = threading.Lock()
        self.received = 0
        # redis-py's Script objects run by EVALSHA and load the text when Redis lacks it.
        self.read_script = r.register_script(READ)
        self.fill_script = r.register_script(FILL)
        self.pubsub = r.pubsub(ignore_subscribe_messages=True)
        self.thread: Any = None

    # #region tutorial:subscriber
    def start(self) -> None:
        """Subscribes, then runs the subscriber in a thread of its own."""
        self.pubsub.subscribe(**{CHANNEL: self.on_message})
        self.thread = self.pubsub.run_in_thread(sleep_time=0.01, daemon=True)

    def on_message(self, message: dict[str, Any]) -> None:
        """Another instance wrote a key: raise its mark, drop any older copy from L1."""
        announced = json.loads(message["data"])
        if announced["origin"] == self.name:
            return  # our own write: L1 already holds it
        user_id, version = announced["id"], announced["version"]
        with self.lock:
            self.received += 1
            self.marks[user_id] = max(self.marks.get(user_id, 0), version)
            held = self.l1.get(user_id)
            if held is not None and held[0] < version:
                del self.l1[user_id]

    # #endregion tutorial:subscriber

    def stop(self) -> None:
        if self.thread is not None:
            self.thread.stop()
            self.thread.join(timeout=5)
        self.pubsub.close()

    # #region tutorial:versioned-read
    def get_user(self, user_id: str) -> tuple[dict[str, Any] | None, int, str]:
        """The user, its version and the tier that answered: "L1", "L2" or "MISS"."""
        with self.lock:
            held = self.l1.get(user_id)
        if held is not None:
            return held[1], held[0], "L1"
        found = self.read_script(keys=[pointer_key(user_id)], args=[data_prefix(user_id)])
        if found and len(found) == 2:
            version, value = int(found[0]), json.loads(found[1])
            self.fill_l1(user_id, version, value)
            return value, version, "L2"
        row = self.source.get(user_id)
        version = row.version if row else 0
        value = row.__dict__ if row and not row.deleted else None
        self.fill(user_id, version, value, announce=False)
        return value, version, "MISS"

    def fill_l1(self, user_id: str, version: int, value: dict[str, Any] | None) -> None:
        with self.lock:  # never below a version that was announced meanwhile
            if version >= self.marks.get(user_id, 0):
                self.l1[user_id] = (version, value)

    # #endregion tutorial:versioned-read

    # #region tutorial:versioned-write
    def put_user(self, user_id: str, name: str, email: str) -> int:
        """Database first; then Redis moves forward and announces it, in one script."""
        row = self.source.put(user_id, name, email)
        with self.lock:
            self.marks[user_id] = max(self.marks.get(user_id, 0), row.version)
        self.fill(user_id, row.version, row.__dict__, announce=True)
        self.fill_l1(user_id, row.version, row.__dict__)  # read-your-writes on this instance
        return row.version

    def fill(self, user_id: str, version: int, value: Any, announce: bool) -> bool:
        message = json.dumps({"id": user_id, "version": version, "origin": self.name})
        args: list[str | int] = [data_prefix(user_id), version, json.dumps(value), self.ttl_s]
        args += [CHANNEL, message] if announce else ["", ""]
        return bool(self.fill_script(keys=[pointer_key(user_id)], args=args) == 1)

    # #endregion tutorial:versioned-write


# #region tutorial:stale-set-race
def stale_set_race(r: redis.Redis, versioned: bool) -> int:
    """A slow reader stores what it read after a write: which version does Redis end with?"""
    source = SlowUserSource(users=1, latency_s=0)
    reader, writer = Instance(r, source, "reader"), Instance(r, source, "writer")
    plain_key = f"{NAMESPACE}:{{user:1}}:val"
    r.delete(plain_key, pointer_key("1"))  # a clean slate for the demonstration
    old = source.rows["1"]  # 1. the reader misses and reads v1 ... then stalls
    new = source.put("1", "Ada", "ada@example.com")  # 2. the writer commits v2
    if versioned:
        writer.fill("1", new.version, new.__dict__, announce=True)
        reader.fill("1", old.version, old.__dict__, announce=False)  # 3. refused: v1 < v2
        return int(r.get(pointer_key("1")) or 0)
    r.delete(plain_key)  # 2b. ... and DELs the entry
    r.set(plain_key, json.dumps(old.__dict__))  # 3. the reader's late SET wins
    return int(json.loads(r.get(plain_key) or "{}")["version"])


# #endregion tutorial:stale-set-race


def main() -> None:
    """The steps of test_ch4_pubsub_invalidation_reaches_a_second_instance, against REDIS_URL."""
    import time

    from connect import Settings, connect

    settings = Settings.from_env()
    r = connect(settings)
    source = SlowUserSource(latency_s=settings.db_latency_s)
    a, b = Instance(r, source, "app-1"), Instance(r, source, "app-2")
    r.delete(pointer_key("42"))  # start from version 1, however often it runs
    listening = r.pubsub_numsub(CHANNEL)[0][1]  # a redis-cli SUBSCRIBE, say
    for instance in (a, b):
        instance.start()
    deadline = time.monotonic() + 5
    try:
        while r.pubsub_numsub(CHANNEL)[0][1] < listening + 2:  # both subscribed
            if time.monotonic() > deadline:
                raise SystemExit("the instances did not subscribe")
            time.sleep(0.01)
        for instance in (a, b, b):
            print(instance.name, "reads 42:", *instance.get_user("42")[1:])
        print("app-1 writes 42:", a.put_user("42", "Ada", "ada@example.com"))
        print("app-1 reads 42:", *a.get_user("42")[1:])
        deadline = time.monotonic() + 5
        while b.received == 0:  # the announcement is on its way to app-2's subscriber thread
            if time.monotonic() > deadline:
                raise SystemExit("no announcement reached app-2")
            time.sleep(0.01)
        print("app-2 reads 42:", *b.get_user("42")[1:])
    finally:
        a.stop()
        b.stop()


if __name__ == "__main__":
    main()
