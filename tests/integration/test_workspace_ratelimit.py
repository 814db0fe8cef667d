"""Sign-in rate limits: kept in Redis when REDIS_URL is set, so they hold across workers."""
from __future__ import annotations

import uuid

import pytest

from cert_share import create_app
from tests.conftest import _config
from tests.integration.web_login import page_token

REDIS = "redis://127.0.0.1:6379/15"

# The workers below are apps of their own; the app fixture is taken only for its teardown, which
# empties a PostgreSQL test database. Without it the failed sign-ins one test records (per
# account and address) would still count in the next test.
pytestmark = pytest.mark.usefixtures("app")


def _redis_reachable() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping())
    except Exception:
        return False


def worker(database_url: str, storage: str, prefix: str):
    """A fresh app, as a second gunicorn worker (or host) would build it."""
    return create_app({**_config(database_url), "RATELIMIT_STORAGE_URI": storage, "RATELIMIT_KEY_PREFIX": prefix,
                       "LOGIN_RATE_LIMIT": "3 per minute"})


def attempt(app) -> int:
    client = app.test_client()
    token = page_token(client, "/login")
    return client.post("/login", data={"csrf_token": token, "email": "nobody@bank.example",
                                       "password": "wrong password 123"}).status_code


def test_login_limit_is_shared_between_workers_through_redis(database_url):
    if not _redis_reachable():
        pytest.skip(f"no Redis at {REDIS}")
    prefix = f"cs-test-{uuid.uuid4().hex[:8]}"
    first = worker(database_url, REDIS, prefix)
    assert [attempt(first) for _ in range(3)] == [401, 401, 401]
    second = worker(database_url, REDIS, prefix)  # another process: only Redis carries the count
    assert attempt(second) == 429
    import redis

    assert redis.Redis.from_url(REDIS).keys(f"*{prefix}*")  # the count lives in Redis


def test_without_redis_the_limit_is_per_process_memory(database_url):
    first = worker(database_url, "memory://", "mem")
    assert [attempt(first) for _ in range(3)] == [401, 401, 401]
    assert attempt(first) == 429
    second = worker(database_url, "memory://", "mem")  # a new process starts counting afresh
    assert attempt(second) == 401
