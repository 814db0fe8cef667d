"""Behind a reverse proxy, does each client get its own sign-in limit, and is the client's address
the one in the audit log? And can a client that reaches the app directly pass itself off as
another by writing X-Forwarded-For? (TRUSTED_PROXIES, cert_share/proxies.py)"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from cert_share import create_app
from cert_share.config import SettingError
from cert_share.extensions import db
from cert_share.models import AuditEntry
from tests.conftest import _config
from tests.integration.web_login import page_token

PROXY = "10.0.0.5"
ALICE, BOB = "198.51.100.1", "198.51.100.2"
OUTSIDER = "203.0.113.9"

# The apps below are made with settings of their own; the app fixture is taken for its teardown,
# which empties a PostgreSQL test database.
pytestmark = pytest.mark.usefixtures("app")


def make_app(database_url: str, trusted: str):
    return create_app({**_config(database_url), "TRUSTED_PROXIES": trusted, "LOGIN_RATE_LIMIT": "3 per minute"})


def browser(app, peer: str, forwarded_for: str | None = None, proto: str | None = None):
    """A test client whose TCP peer is ``peer``, sending X-Forwarded-* as a proxy would."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = peer
    if forwarded_for is not None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    if proto is not None:
        client.environ_base["HTTP_X_FORWARDED_PROTO"] = proto
    return client


def failed_sign_in(client, email: str = "nobody@bank.example") -> int:
    token = page_token(client, "/login")
    return client.post("/login", data={"csrf_token": token, "email": email,
                                       "password": "wrong password 123"}).status_code


def audited_addresses(app, email: str) -> list[str | None]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry.remote_addr).where(
            AuditEntry.action == "user.login_failed", AuditEntry.target_id == email).order_by(AuditEntry.id)))


@pytest.mark.parametrize("trusted", [PROXY, "10.0.0.0/8", "1"])
def test_two_clients_behind_a_trusted_proxy_get_separate_sign_in_limits(database_url, trusted):
    app = make_app(database_url, trusted)
    alice, bob = browser(app, PROXY, ALICE), browser(app, PROXY, BOB)
    assert [failed_sign_in(alice, "alice@bank.example") for _ in range(3)] == [401, 401, 401]
    assert failed_sign_in(alice, "alice@bank.example") == 429
    # Bob shares the proxy, not Alice's bucket.
    assert failed_sign_in(bob, "bob@bank.example") == 401
    assert audited_addresses(app, "alice@bank.example") == [ALICE] * 3
    assert audited_addresses(app, "bob@bank.example") == [BOB]


def test_without_trusted_proxies_the_proxy_is_everyone(database_url):
    """The default: what the operator meets before setting TRUSTED_PROXIES."""
    app = make_app(database_url, "")
    alice, bob = browser(app, PROXY, ALICE), browser(app, PROXY, BOB)
    assert [failed_sign_in(alice) for _ in range(3)] == [401, 401, 401]
    assert failed_sign_in(bob, "bob@bank.example") == 429
    assert audited_addresses(app, "nobody@bank.example") == [PROXY] * 3


@pytest.mark.parametrize("trusted", [PROXY, "10.0.0.0/8", ""])
def test_a_forged_x_forwarded_for_from_an_untrusted_peer_is_ignored(database_url, trusted):
    app = make_app(database_url, trusted)
    # A new forged address on every attempt: were it believed, each would get a fresh bucket.
    forged = [browser(app, OUTSIDER, f"192.0.2.{n}") for n in range(4)]
    assert [failed_sign_in(client) for client in forged] == [401, 401, 401, 429]
    assert audited_addresses(app, "nobody@bank.example") == [OUTSIDER] * 3


def test_with_a_list_the_client_is_the_first_address_that_is_not_a_listed_proxy(database_url):
    """A chain of listed proxies is walked through; what the client wrote to the left of the
    address the first proxy saw stays unbelieved."""
    app = make_app(database_url, "10.0.0.0/8, 2001:db8::/32")
    edge = "10.9.9.9"
    assert failed_sign_in(browser(app, PROXY, f"192.0.2.66, {ALICE}, {edge}"), "chain@bank.example") == 401
    assert failed_sign_in(browser(app, "2001:db8::1", f"{BOB}"), "v6@bank.example") == 401
    assert audited_addresses(app, "chain@bank.example") == [ALICE]
    assert audited_addresses(app, "v6@bank.example") == [BOB]


def test_with_a_count_the_client_is_that_many_addresses_from_the_right(database_url):
    app = make_app(database_url, "2")
    assert failed_sign_in(browser(app, PROXY, f"192.0.2.66, {ALICE}, 10.9.9.9"), "two@bank.example") == 401
    assert audited_addresses(app, "two@bank.example") == [ALICE]


def test_https_is_taken_from_the_trusted_proxy_only(database_url):
    app = make_app(database_url, PROXY)
    seen = {}

    @app.get("/_scheme")
    def _scheme():
        from flask import request

        seen["secure"] = request.is_secure
        return ""

    browser(app, PROXY, ALICE, proto="https").get("/_scheme")
    assert seen["secure"] is True
    browser(app, OUTSIDER, ALICE, proto="https").get("/_scheme")
    assert seen["secure"] is False


@pytest.mark.parametrize("value", ["10.0.0.300", "proxy.example", "1, 2"])
def test_a_malformed_trusted_proxies_setting_is_refused_naming_it(database_url, value):
    with pytest.raises(SettingError, match="TRUSTED_PROXIES must be a number of proxy hops or a comma-separated"):
        make_app(database_url, value)
