"""The machine channels' per-token limit, as a client sees it in every response's headers, and
where it keeps its counts."""
from __future__ import annotations

import logging
import re
import time
import uuid

import pytest

from cert_share import create_app
from tests.conftest import _config, auth
from tests.integration.test_workspace_ratelimit import REDIS, _redis_reachable

TAXII_MEDIA = "application/taxii+json;version=2.1"

# The apps below are made with settings of their own; the app fixture is taken for its teardown.
pytestmark = pytest.mark.usefixtures("app")


def _app(database_url, **settings):
    return create_app({**_config(database_url), "API_RATE_LIMIT": "3 per minute", "TAXII_RATE_LIMIT": "2 per minute",
                       **settings})


@pytest.fixture
def prefix(monkeypatch):
    """A key prefix of this test's own in Redis. The limiter is one object for all apps and keeps
    the first prefix an app gives it: put back as it was afterwards, for the next test's."""
    from cert_share.extensions import limiter

    monkeypatch.setattr(limiter, "_key_prefix", "")
    return f"cs-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def token(factory):
    return factory.token(factory.org("Header Bank"), "soc")


def test_taxii_answers_carry_the_limit_and_its_429_says_none_remain_and_when_to_retry(database_url, token):
    client = _app(database_url).test_client()
    headers = {**auth(token), "Accept": TAXII_MEDIA}
    first = client.get("/taxii2/", headers=headers)
    assert first.status_code == 200
    assert first.headers["X-RateLimit-Limit"] == "2" and first.headers["X-RateLimit-Remaining"] == "1"
    assert int(first.headers["X-RateLimit-Reset"]) > 0
    assert "Retry-After" not in first.headers  # a success asks for no retry
    assert client.get("/taxii2/api/collections/", headers=headers).headers["X-RateLimit-Remaining"] == "0"
    refused = client.get("/taxii2/", headers=headers)
    assert refused.status_code == 429 and refused.headers["Content-Type"] == TAXII_MEDIA
    assert refused.headers["X-RateLimit-Limit"] == "2" and refused.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(refused.headers["Retry-After"]) <= 60


def test_api_answers_carry_the_limit_even_when_refused_for_the_token(database_url, token):
    client = _app(database_url).test_client()
    unknown = client.get("/api/v1/incidents", headers=auth("no-such-token"))
    assert unknown.status_code == 401 and unknown.headers["X-RateLimit-Remaining"] == "2"
    assert "Retry-After" not in unknown.headers
    assert client.get("/api/v1/incidents", headers=auth(token)).headers["X-RateLimit-Remaining"] == "2"


def test_the_taxii_count_is_shared_between_workers_through_redis(database_url, token, prefix):
    if not _redis_reachable():
        pytest.skip(f"no Redis at {REDIS}")
    headers = {**auth(token), "Accept": TAXII_MEDIA}
    first = _app(database_url, RATELIMIT_STORAGE_URI=REDIS, RATELIMIT_KEY_PREFIX=prefix)
    assert [first.test_client().get("/taxii2/", headers=headers).status_code for _ in range(2)] == [200, 200]
    second = _app(database_url, RATELIMIT_STORAGE_URI=REDIS, RATELIMIT_KEY_PREFIX=prefix)
    assert second.test_client().get("/taxii2/", headers=headers).status_code == 429
    import redis

    # One counter, the token's on the TAXII channel, whichever route it polled.
    keys = [key.decode() for key in redis.Redis.from_url(REDIS).keys(f"*{prefix}*")]
    assert len(keys) == 1 and re.fullmatch(rf"LIMITS:LIMITER/{prefix}/token:\d+/taxii/2/1/minute", keys[0]), keys


def test_while_redis_fails_taxii_counts_in_memory_and_goes_back_to_redis_once_it_answers(
        database_url, token, prefix, monkeypatch, caplog):
    if not _redis_reachable():
        pytest.skip(f"no Redis at {REDIS}")
    from cert_share.extensions import limiter

    app = _app(database_url, RATELIMIT_STORAGE_URI=REDIS, RATELIMIT_KEY_PREFIX=prefix, TAXII_RATE_LIMIT="3 per minute")
    client = app.test_client()
    headers = {**auth(token), "Accept": TAXII_MEDIA}
    assert client.get("/taxii2/", headers=headers).headers["X-RateLimit-Remaining"] == "2"  # counted in Redis

    def unreachable(*args, **kwargs):
        raise ConnectionError("Redis is down")

    with caplog.at_level(logging.INFO, logger="cert_share.rate_limits"):
        with monkeypatch.context() as outage:
            outage.setattr(type(limiter.storage), "incr", unreachable)
            outage.setattr(type(limiter.storage), "check", lambda self: False)
            # This process's memory starts counting afresh, and still limits.
            assert [client.get("/taxii2/", headers=headers).headers["X-RateLimit-Remaining"]
                    for _ in range(3)] == ["2", "1", "0"]
            assert client.get("/taxii2/", headers=headers).status_code == 429
        monkeypatch.setattr(limiter, "_Limiter__last_check_backend", 0)  # due for its next try
        # Redis answers again: its count, where the first request left it.
        assert client.get("/taxii2/", headers=headers).headers["X-RateLimit-Remaining"] == "1"
    messages = [r.getMessage() for r in caplog.records if r.name == "cert_share.rate_limits"]
    assert "Rate limit storage unreachable - falling back to in-memory storage" in messages
    assert "Rate limit storage recovered" in messages


def _window(response) -> tuple[int, int]:
    return int(response.headers["X-RateLimit-Reset"]), int(response.headers["X-RateLimit-Remaining"])


def test_every_answer_of_a_window_shows_its_own_count_and_the_window_end_the_storage_keeps(database_url, token):
    from cert_share.extensions import limiter

    client = _app(database_url, TAXII_RATE_LIMIT="5 per minute").test_client()
    headers = {**auth(token), "Accept": TAXII_MEDIA}
    windows = [_window(client.get("/taxii2/", headers=headers)) for _ in range(5)]
    assert [remaining for _, remaining in windows] == [4, 3, 2, 1, 0]
    ends = {end for end, _ in windows}
    counter = next(key for key in limiter.storage.storage if key.endswith("/taxii/5/1/minute"))  # memory://
    assert ends == {int(limiter.storage.get_expiry(counter) + 1)}


def test_a_worker_that_did_not_open_the_window_shows_the_end_redis_keeps(database_url, token, prefix, monkeypatch):
    if not _redis_reachable():
        pytest.skip(f"no Redis at {REDIS}")
    import types

    from cert_share.auth import rate_limits
    from cert_share.extensions import limiter

    headers = {**auth(token), "Accept": TAXII_MEDIA}
    settings = {"RATELIMIT_STORAGE_URI": REDIS, "RATELIMIT_KEY_PREFIX": prefix, "TAXII_RATE_LIMIT": "5 per minute"}
    first = _window(_app(database_url, **settings).test_client().get("/taxii2/", headers=headers))
    # Another worker, ten seconds into the window: it never saw the window open (the check's
    # memory is per process), so the window's end is Redis's, not its own clock's.
    limiter.blueprint_checks["taxii"].__self__._window_ends.clear()
    monkeypatch.setattr(rate_limits, "time", types.SimpleNamespace(time=lambda: time.time() + 10))
    second = _window(_app(database_url, **settings).test_client().get("/taxii2/", headers=headers))
    assert first[1] == 4 and second[1] == 3
    assert abs(second[0] - first[0]) <= 1  # the same window (Redis keeps its end to the second)
