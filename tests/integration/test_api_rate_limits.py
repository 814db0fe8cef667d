"""Does a token that floods the API or TAXII get 429 with Retry-After, while other tokens go on?
And when Redis, where the limits are counted, is down: does sign-in still work, still limited?"""
from __future__ import annotations

import logging
import socket

import pytest

from cert_share import create_app
from tests.conftest import _config, auth
from tests.integration.web_login import page_token

TAXII_MEDIA = "application/taxii+json;version=2.1"

# The apps below are made with settings of their own; the app fixture is taken for its teardown,
# which empties a PostgreSQL test database, and for the factory.
pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def limited(database_url):
    return create_app({**_config(database_url), "API_RATE_LIMIT": "3 per minute", "TAXII_RATE_LIMIT": "2 per minute"})


@pytest.fixture
def tokens(factory):
    bank = factory.org("Rate Bank")
    return factory.token(bank, "soc"), factory.token(bank, "siem")


def test_a_token_over_the_api_limit_gets_429_with_retry_after_and_another_token_goes_on(limited, tokens):
    client = limited.test_client()
    soc, siem = tokens
    # One bucket per token across routes, not one per route.
    assert [client.get(path, headers=auth(soc)).status_code
            for path in ("/api/v1/incidents", "/api/v1/warnings", "/api/v1/incidents")] == [200, 200, 200]
    refused = client.get("/api/v1/warnings", headers=auth(soc))
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    body = refused.get_json()
    assert body["status"] == 429 and body["error"] == "Too Many Requests"
    assert "3 per minute per API token" in body["message"] and "Retry-After" in body["message"]
    # The same address, another token: its own bucket.
    assert client.get("/api/v1/incidents", headers=auth(siem)).status_code == 200


def test_requests_without_a_valid_token_are_limited_by_address(limited):
    client = limited.test_client()
    guesses = [client.get("/api/v1/incidents", headers=auth(f"guess-{n}")).status_code for n in range(4)]
    assert guesses == [401, 401, 401, 429]


def test_taxii_has_its_own_limit_and_answers_it_with_a_taxii_error(limited, tokens):
    client = limited.test_client()
    soc, _ = tokens
    headers = {**auth(soc), "Accept": TAXII_MEDIA}
    assert [client.get("/taxii2/", headers=headers).status_code for _ in range(2)] == [200, 200]
    refused = client.get("/taxii2/api/collections/", headers=headers)
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == TAXII_MEDIA
    assert int(refused.headers["Retry-After"]) > 0
    error = refused.get_json()
    assert error["http_status"] == "429" and error["title"] == "Too Many Requests"
    assert "per API token" in error["description"]
    # TAXII polling used none of the token's API requests.
    assert client.get("/api/v1/incidents", headers=auth(soc)).status_code == 200


def test_every_api_operation_documents_429(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    operations = [(path, method, op) for path, ops in paths.items() for method, op in ops.items()
                  if isinstance(op, dict) and "responses" in op]
    assert len(operations) > 20
    missing = [f"{method.upper()} {path}" for path, method, op in operations if "429" not in op["responses"]]
    assert missing == []
    assert "Retry-After" in operations[0][2]["responses"]["429"]["headers"]


@pytest.mark.parametrize("setting", ["API_RATE_LIMIT", "TAXII_RATE_LIMIT"])
def test_a_malformed_rate_limit_in_the_environment_is_refused_naming_it(monkeypatch, setting):
    from cert_share import config

    monkeypatch.setattr(config, "PROBLEMS", [])
    assert config._checked(setting, "lots per minute", config.rate_limit, "600 per minute") == "600 per minute"
    assert config.PROBLEMS == [f"{setting} must be a rate such as '600 per minute' or '10/second; 1000/hour', "
                               "got 'lots per minute': set one, or unset it for the default (600 per minute)"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_with_redis_down_sign_in_works_limited_per_process_and_the_log_says_so(database_url, tokens, caplog):
    redis_down = f"redis://127.0.0.1:{_closed_port()}/0"
    app = create_app({**_config(database_url), "RATELIMIT_STORAGE_URI": redis_down, "LOGIN_RATE_LIMIT": "3 per minute",
                      "API_RATE_LIMIT": "3 per minute"})
    client = app.test_client()
    with caplog.at_level(logging.WARNING):
        attempts = []
        for _ in range(4):
            token = page_token(client, "/login")
            attempts.append(client.post("/login", data={"csrf_token": token, "email": "nobody@bank.example",
                                                        "password": "wrong password 123"}).status_code)
    assert attempts == [401, 401, 401, 429]
    assert [r for r in caplog.records if r.name == "cert_share.rate_limits"
            and "falling back to in-memory storage" in r.getMessage()]
    # The API too is served, and limited, from this process's memory.
    soc, _ = tokens
    assert [app.test_client().get("/api/v1/incidents", headers=auth(soc)).status_code
            for _ in range(4)] == [200, 200, 200, 429]
