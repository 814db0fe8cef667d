"""Signing in and out of the web pages: passwords, throttling, rate limit, CSRF, safe redirects."""
from __future__ import annotations

import pytest

from cert_share.actor import CLI
from cert_share.extensions import db
from cert_share.models import AuditEntry
from tests.conftest import PASSWORD
from tests.integration.web_login import csrf_token, login, page_token


@pytest.fixture
def analyst(factory):
    bank = factory.org("First Bank")
    return factory.user(bank, "analyst", email="soc@firstbank.example")


def audit_actions(app) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [(e.action, e.target_id) for e in db.session.query(AuditEntry).order_by(AuditEntry.id)]


def test_analyst_signs_in_lands_on_home_and_the_sign_in_is_audited(app, client, analyst):
    response = login(client, "SOC@firstbank.example ", PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    page = home.get_data(as_text=True)
    assert "soc@firstbank.example" in page and "First Bank" in page and "Report an incident" in page
    assert ("user.login", "soc@firstbank.example") in audit_actions(app)


def test_wrong_password_is_refused_with_a_message_and_no_session(app, client, analyst):
    response = login(client, analyst.email, "not the password")
    assert response.status_code == 401
    assert "Wrong e-mail address or password." in response.get_data(as_text=True)
    assert client.get("/incidents").status_code == 302  # still signed out
    assert ("user.login_failed", analyst.email) in audit_actions(app)


def test_unknown_account_gets_the_same_answer_as_a_wrong_password(client, analyst):
    response = login(client, "nobody@firstbank.example", PASSWORD)
    assert response.status_code == 401
    assert "Wrong e-mail address or password." in response.get_data(as_text=True)


def test_repeated_failures_make_that_address_wait_even_for_the_right_password(app, client, analyst):
    app.config["LOGIN_MAX_FAILURES"] = 3
    for _ in range(3):
        assert login(client, analyst.email, "guess-guess-guess").status_code == 401
    response = login(client, analyst.email, PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-in attempts for this account from your address" in response.get_data(as_text=True)
    assert ("user.login_throttled", analyst.email) in audit_actions(app)
    assert client.get("/").status_code == 302


def test_too_many_sign_in_attempts_from_one_address_get_429_page(app, client, analyst):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    statuses = [login(client, analyst.email, "wrong-password!").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    response = login(client, analyst.email, PASSWORD)
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert "Too many sign-in attempts" in page and "<html" in page
    # Viewing the form is not limited, only the attempts.
    assert client.get("/login").status_code == 200


def test_sign_in_without_csrf_token_is_rejected_with_400(client, analyst):
    response = client.post("/login", data={"email": analyst.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_sign_in_with_a_forged_csrf_token_is_rejected(client, analyst):
    page_token(client, "/login")
    response = client.post("/login", data={"csrf_token": "forged", "email": analyst.email, "password": PASSWORD})
    assert response.status_code == 400


@pytest.mark.parametrize("target,expected", [
    ("/incidents", "/incidents"),
    ("//evil.example/phish", "/"),
    ("https://evil.example/phish", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
])
def test_after_sign_in_next_only_goes_to_local_pages(client, analyst, target, expected):
    response = login(client, analyst.email, PASSWORD, next_path=target)
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_pages_need_a_session_and_send_back_to_sign_in(client):
    for path in ("/", "/incidents", "/incidents/new", "/incidents/1", "/incidents/1/stix"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next="), path


def test_sign_out_is_a_post_with_csrf_and_ends_the_session(app, client, analyst):
    login(client, analyst.email, PASSWORD)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert client.get("/").status_code == 200  # still signed in
    token = csrf_token(client.get("/").get_data(as_text=True))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "You are signed out." in client.get("/login").get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert ("user.logout", analyst.email) in audit_actions(app)


def test_a_password_change_ends_existing_sessions(app, client, analyst):
    from cert_share.models import User
    from cert_share.services.users import set_password

    login(client, analyst.email, PASSWORD)
    assert client.get("/").status_code == 200
    with app.app_context():
        set_password(db.session, db.session.get(User, analyst.id), "another long password", CLI)
    assert client.get("/").status_code == 302


def test_pages_carry_a_strict_content_security_policy_and_no_inline_code(client, analyst):
    login(client, analyst.email, PASSWORD)
    for path in ("/login", "/", "/incidents", "/incidents/new"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
        page = response.get_data(as_text=True)
        assert "style=" not in page and "<script" not in page and "<style" not in page, path
    css = client.get("/assets/app.css")
    assert css.status_code == 200 and b"#FF2B2B" in css.data and b"#FFC000" in css.data


def test_errors_render_as_a_page(client, analyst):
    login(client, analyst.email, PASSWORD)
    response = client.get("/no/such/page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "<html" in page and "Not Found" in page


@pytest.mark.parametrize("email,password", [
    ("soc@firstbank.example", "x" * 5000),
    ("soc\x00@firstbank.example", PASSWORD),
    ("", ""),
    ("not-an-email", PASSWORD),
])
def test_odd_sign_in_input_gets_a_4xx_page_never_a_500(client, analyst, email, password):
    response = login(client, email, password)
    assert 400 <= response.status_code < 500
    assert "<html" in response.get_data(as_text=True)
