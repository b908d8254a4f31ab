"""Every claim the Python chapters make, checked against a real redis-server."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import redis

import cache_aside
import invalidation
import monitoring
from cache_aside import UserCache
from client_side_caching import server_gets, tracked_client
from connect import Settings, connect
from invalidation import Instance, pointer_key, stale_set_race
from monitoring import cold_warm_flush
from redis_server import RedisServer, wait_for
from slow_source import SlowUserSource
from ttl_eviction import fill_until_evicting, jittered_ttl_ms


def test_ch2_connects_with_settings_from_the_environment(
    redis_server: RedisServer, monkeypatch: object
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)  # type: ignore[attr-defined]
    monkeypatch.setenv("DB_LATENCY_S", "0.2")  # type: ignore[attr-defined]
    settings = Settings.from_env()
    assert settings.db_latency_s == 0.2
    assert connect(settings).ping()


def test_ch3_a_miss_loads_once_then_redis_answers(redis_server: RedisServer) -> None:
    r = redis_server.client()
    cache = UserCache(r, SlowUserSource(latency_s=0.01))
    r.delete(cache.key("42"), cache.key("nobody"))
    user, tier = cache.get_user("42")
    assert (tier, user and user["version"]) == ("MISS", 1)
    assert cache.get_user("42")[1] == "HIT"
    assert 0 < r.ttl(cache.key("42")) <= 60
    # "not found" is cached too, briefly, as JSON null
    assert cache.get_user("nobody") == (None, "MISS")
    assert cache.get_user("nobody") == (None, "HIT")
    assert r.get(cache.key("nobody")) == "null"
    assert 0 < r.ttl(cache.key("nobody")) <= 5
    assert cache.source.queries == 2


def test_ch3_a_write_deletes_so_the_next_read_loads_the_new_row(redis_server: RedisServer) -> None:
    cache = UserCache(redis_server.client(), SlowUserSource(latency_s=0))
    cache.r.delete(cache.key("7"))
    cache.get_user("7")
    cache.put_user("7", "Ada", "ada@example.com")
    user, tier = cache.get_user("7")
    assert tier == "MISS" and user and user["version"] == 2


def test_ch3_concurrent_misses_share_one_load(redis_server: RedisServer) -> None:
    cache = UserCache(redis_server.client(), SlowUserSource(latency_s=0.2))
    cache.r.delete(cache.key("77"))
    tiers: list[str] = []
    threads = [
        threading.Thread(target=lambda: tiers.append(cache.get_user("77")[1])) for _ in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(tiers) == 20
    assert cache.counters.loads == 1 and cache.source.queries == 1


def test_ch4_pubsub_invalidation_reaches_a_second_instance(redis_server: RedisServer) -> None:
    source = SlowUserSource(latency_s=0)
    a, b = (Instance(redis_server.client(), source, name) for name in ("app-1", "app-2"))
    redis_server.client().delete(pointer_key("42"))
    for instance in (a, b):
        instance.start()
    try:
        wait_for(lambda: redis_server.client().pubsub_numsub("tut:invalidations")[0][1] == 2)
        assert a.get_user("42")[2] == "MISS"
        assert b.get_user("42")[1:] == (1, "L2")
        assert b.get_user("42")[1:] == (1, "L1")
        version = a.put_user("42", "Ada", "ada@example.com")
        assert a.get_user("42")[1:] == (version, "L1")  # the writer reads its own write
        wait_for(lambda: b.received == 1)  # the announcement reached b's subscriber thread
        assert b.get_user("42")[1:] == (version, "L2")
    finally:
        a.stop()
        b.stop()


def test_ch4_stale_set_race_delete_loses_versioned_wins(redis_server: RedisServer) -> None:
    r = redis_server.client()
    assert stale_set_race(r, versioned=False) == 1  # stale until its TTL
    assert stale_set_race(r, versioned=True) == 2


def server_version(r: redis.Redis) -> tuple[int, ...]:
    return tuple(int(p) for p in str(r.info("server")["redis_version"]).split("."))


def test_ch4_redis_py_refuses_client_side_caching_before_redis_7_4(
    redis_server: RedisServer,
) -> None:
    if server_version(redis_server.client()) >= (7, 4):
        pytest.skip("this Redis supports client-side caching")
    with pytest.raises(redis.ConnectionError, match=r"7\.4 or later"):
        tracked_client(redis_server.url).ping()


def test_ch4_redis_py_client_side_caching_is_invalidated_by_the_server(
    redis_server: RedisServer,
) -> None:
    if server_version(redis_server.client()) < (7, 4):
        pytest.skip("redis-py's client-side caching needs Redis 7.4 or later")
    plain, tracked = redis_server.client(), tracked_client(redis_server.url)
    plain.set("tut:csc", "v1")
    before = server_gets(plain)
    assert [tracked.get("tut:csc") for _ in range(3)] == ["v1"] * 3
    assert server_gets(plain) - before == 1  # two of three were answered in-process
    plain.set("tut:csc", "v2")
    wait_for(lambda: tracked.get("tut:csc") == "v2")
    tracked.close()


def test_ch5_jitter_only_shortens_ttls() -> None:
    ttls = [jittered_ttl_ms(60_000, 0.1) for _ in range(1000)]
    assert all(54_000 <= t <= 60_000 for t in ttls) and len(set(ttls)) > 100


def test_ch5_maxmemory_allkeys_lru_evicts_cold_keys_and_keeps_the_hot_set(
    own_redis: RedisServer,
) -> None:
    r = own_redis.client()
    lru = fill_until_evicting(r, "allkeys-lru")
    assert lru.evicted >= 1900
    assert r.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"
    assert lru.hot_kept >= 0.9 * lru.hot
    r.flushdb()
    rand = fill_until_evicting(r, "allkeys-random")
    assert rand.evicted >= 1900 and rand.hot_kept < lru.hot_kept


def test_ch6_counters_and_times_with_and_without_the_cache(redis_server: RedisServer) -> None:
    r: redis.Redis = redis_server.client()
    cache = UserCache(r, SlowUserSource(latency_s=0.02))
    ids = [str(i) for i in range(101, 121)]
    cold, warm, no_cache, flushed = cold_warm_flush(cache, ids)
    assert (cold.hits, cold.misses) == (0, 20)
    assert (warm.hits, warm.misses, warm.hit_ratio) == (20, 0, 1.0)
    assert no_cache.median_ms >= 20 > 5 * warm.median_ms
    assert flushed.misses == 20
    assert (cache.counters.hits, cache.counters.misses) == (20, 40)
    assert json.loads(r.get(cache.key("101")) or "null")["version"] == 1


def test_the_programs_default_to_the_redis_chapter_2_starts() -> None:
    setup = (Path(__file__).parents[4] / "docs/tutorial/python/02-setup.md").read_text()
    assert "redis-server --port 6400 " in setup
    assert Settings().redis_url == "redis://127.0.0.1:6400"


def test_the_programs_print_what_the_chapters_show(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("DB_LATENCY_S", "0")
    for _ in range(2):  # twice: each run starts cold, so a second one prints the same
        cache_aside.main()
        assert capsys.readouterr().out.splitlines() == [
            "42 MISS 1",
            "42 HIT 1",
            "nobody MISS None",
            "nobody HIT None",
        ]  # chapters 1, 2 and 3
        invalidation.main()
        assert capsys.readouterr().out.splitlines() == [
            "app-1 reads 42: 1 MISS",
            "app-2 reads 42: 1 L2",
            "app-2 reads 42: 1 L1",
            "app-1 writes 42: 2",
            "app-1 reads 42: 2 L1",
            "app-2 reads 42: 2 L2",
        ]  # chapter 4
        monitoring.main()
        out = capsys.readouterr().out.splitlines()
        assert [line.split()[0] for line in out[:4]] == ["cold", "warm", "no", "flushed"]
        assert out[4] == "counters: hits=50 misses=100 loads=100 queries=150"  # chapter 6
