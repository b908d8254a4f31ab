"""The instance over a real PostgreSQL and redis-server: the HTTP contract end to end."""

from __future__ import annotations

import urllib.request

import psycopg

from conftest import Instance
from redis_server import wait_for

ADA = {"name": "Ada", "email": "ada@example.com", "age": 36}


def test_reports_ready_with_its_run_and_serves_seeded_users_from_l1_after_a_miss(
    instance: Instance,
) -> None:
    status, _, ready = instance.request("/readyz")
    assert (status, ready["status"], ready["run"]) == (200, "ready", "pytest-run")
    status, headers, user = instance.request("/users/3")
    assert (status, headers["x-cache"], user["id"], user["name"]) == (200, "MISS", "3", "User 3")
    assert headers["etag"] == f'"v{user["version"]}"'
    assert headers["x-instance"].startswith("py-test/")
    wait_for(lambda: instance.request("/users/3")[1]["x-cache"] == "L1")
    status, headers, body = instance.request("/users/3", headers={"If-None-Match": headers["etag"]})
    assert (status, body) == (304, None)


def test_writes_bump_versions_in_the_database_and_deletes_leave_tombstones(
    instance: Instance,
) -> None:
    status, headers, created = instance.request("/users/new-1", "PUT", ADA)
    assert (status, created["version"], headers["x-version"]) == (201, 1, "1")
    status, _, replaced = instance.request("/users/new-1", "PUT", {**ADA, "age": 37})
    assert (status, replaced["version"], replaced["age"]) == (200, 2, 37)
    status, _, error = instance.request("/users/new-1", "PUT", ADA, headers={"If-Match": '"v1"'})
    assert (status, error["error"]["code"]) == (412, "E_PRECONDITION_FAILED")
    status, headers, _ = instance.request("/users/new-1", "DELETE", headers={"If-Match": '"v2"'})
    assert (status, headers["x-version"]) == (204, "3")
    assert instance.request("/users/new-1")[0] == 404
    status, _, again = instance.request("/users/new-1", "PUT", ADA)
    assert (status, again["version"]) == (201, 4)
    status, headers, posted = instance.request("/users", "POST", ADA)
    assert status == 201
    assert headers["location"] == f"/users/{posted['id']}"


def test_a_write_straight_in_sql_reaches_its_l1_through_the_outbox(instance: Instance) -> None:
    instance.request("/users/5")
    wait_for(lambda: instance.request("/users/5")[1]["x-cache"] == "L1")
    with psycopg.connect(instance.database_url, autocommit=True) as connection:
        connection.execute("UPDATE users SET name = 'behind the cache' WHERE id = '5'")
    wait_for(lambda: instance.request("/users/5")[2]["name"] == "behind the cache", timeout_s=10)
    _, _, stats = instance.request("/stats")
    assert stats["outbox"]["relayed"] >= 1


def test_stats_and_metrics_use_the_names_of_a_node_instance(instance: Instance) -> None:
    instance.request("/users/1")
    _, _, stats = instance.request("/stats")
    assert set(stats) == {
        "instance",
        "uptimeSeconds",
        "http",
        "cache",
        "database",
        "outbox",
        "memory",
    }
    assert stats["cache"]["reads"] >= 1
    assert stats["instance"]["name"] == "py-test"
    assert {"l1Hits", "l2Hits", "misses", "trusted", "propagationMs", "hitRatio"} <= set(
        stats["cache"]
    )
    with urllib.request.urlopen(instance.url + "/metrics") as response:
        text = response.read().decode()
    for name in (
        "cachelab_cache_reads_total",
        "cachelab_db_queries_total",
        "cachelab_instance_info",
    ):
        assert name in text


def test_without_redis_it_serves_from_the_database_and_says_degraded(instance: Instance) -> None:
    instance.redis.stop()
    status, _, user = instance.request("/users/7")
    assert (status, user["id"]) == (200, "7")
    status, _, ready = instance.request("/readyz")
    assert (status, ready["status"], ready["checks"]["redis"]) == (200, "degraded", "down")
    status, _, written = instance.request("/users/7", "PUT", ADA)
    assert (status, written["name"]) == (200, "Ada")
