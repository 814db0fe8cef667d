"""Sign-in and sessions as an attacker tries them: guessing codes and passwords, replaying cookies,
locking others out, probing which accounts exist, and reading secrets out of cookies.

Two member organizations (a bank, a telecom) and the CERT; the attacker works from address
10.6.6.6, the people it targets from their own addresses.
"""
from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone

import pyotp
import pytest
from sqlalchemy import update

from cert_share import create_app
from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import AuditEntry, User, UserSession
from cert_share.services import totp
from cert_share.services.signin_throttle import Throttling, blocked_until, subject_for
from tests.conftest import PASSWORD, _config, auth
from tests.integration.staff_login import enrol, next_code
from tests.integration.web_login import csrf_token, page_token

ATTACKER = "10.6.6.6"
ADMIN_DESK = "10.1.1.1"


@pytest.fixture
def world(app, factory):
    cert, bank, telco = factory.cert(), factory.org("First Bank"), factory.org("Telco", sector="telecommunications")
    admin = factory.user(cert, "cert-admin", email="admin@cert.example")
    return {
        "cert": cert, "bank": bank, "telco": telco, "admin": admin, "admin_secret": enrol(app, admin),
        "analyst": factory.user(bank, "analyst", email="soc@bank.example"),
        "bank_admin": factory.user(bank, "member-admin", email="admin@bank.example"),
        "telco_admin": factory.user(telco, "member-admin", email="admin@telco.example"),
    }


def client_from(app, addr: str = "127.0.0.1"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = addr
    return client


def post_login(client, email: str, password: str = PASSWORD):
    token = page_token(client, "/login")
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password})


def post_code(client, code: str):
    token = page_token(client, "/login/totp")
    return client.post("/login/totp", data={"csrf_token": token, "code": code})


def signed_in(client) -> bool:
    return client.get("/incidents").status_code == 200


def wrong_code(secret: str) -> str:
    now = int(utcnow().timestamp()) // 30
    valid = {pyotp.TOTP(secret).generate_otp(now + d) for d in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def audit_count(app, action: str) -> int:
    with app.app_context():
        return db.session.query(AuditEntry).filter_by(action=action).count()


# ---- TOTP: counted on the server, used once --------------------------------------------------

def test_replaying_the_cookie_from_after_the_password_step_does_not_buy_more_code_guesses(app, world):
    admin, secret = world["admin"], world["admin_secret"]
    attacker = client_from(app, ATTACKER)  # knows the password, not the authenticator
    assert post_login(attacker, admin.email).headers["Location"].endswith("/login/totp")
    after_password = session_cookie(attacker)
    answers = []
    for _ in range(totp.MAX_WRONG_CODES):
        attacker.set_cookie("session", after_password)
        answers.append(post_code(attacker, wrong_code(secret)).status_code)
    assert answers[:-1] == [401] * (totp.MAX_WRONG_CODES - 1) and answers[-1] == 302
    # Even the right code, with the cookie replayed, is refused now: the count is the account's.
    attacker.set_cookie("session", after_password)
    answer = post_code(attacker, next_code(secret))
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login")
    assert "Too many wrong codes" in attacker.get("/login").get_data(as_text=True)
    assert not signed_in(attacker)
    with app.app_context():
        assert totp.blocked_until(db.session, db.session.get(User, admin.id)) is not None


def test_a_wrong_code_is_said_next_to_the_code_field(app, world):
    desk = client_from(app, ADMIN_DESK)
    assert post_login(desk, world["admin"].email).headers["Location"].endswith("/login/totp")
    answer = post_code(desk, wrong_code(world["admin_secret"]))
    assert answer.status_code == 401 and "That code is not valid" in _field_errors(answer, "code")


def test_wrong_codes_count_toward_the_accounts_throttle_from_that_address(app, world):
    admin, secret = world["admin"], world["admin_secret"]
    attacker = client_from(app, ATTACKER)
    post_login(attacker, admin.email)
    for _ in range(totp.MAX_WRONG_CODES):
        post_code(attacker, wrong_code(secret))
    # The attacker's address must now wait even at the password step ...
    assert post_login(attacker, admin.email).status_code == 429
    # ... while the admin's own desk is not slowed at the password step.
    desk = client_from(app, ADMIN_DESK)
    assert post_login(desk, admin.email).headers["Location"].endswith("/login/totp")


def test_the_same_code_presented_by_two_sessions_at_once_is_accepted_once(app, world):
    """Two threads, each with its own database session, present the same code at the same moment."""
    user_id = world["admin"].id
    secret = world["admin_secret"]
    rounds, throttling = 8, Throttling(max_failures=5, backoff_max=timedelta(minutes=15))
    t0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
    for i in range(rounds):
        now = t0 + timedelta(seconds=30 * i)
        code = pyotp.TOTP(secret).at(now)
        barrier = threading.Barrier(2)
        results: list[bool] = []

        def attempt(barrier, results, code, now):
            with app.app_context():
                user = db.session.get(User, user_id)
                barrier.wait()
                results.append(totp.verify(db.session, user, code, throttling=throttling, now=now))
                db.session.remove()

        threads = [threading.Thread(target=attempt, args=(barrier, results, code, now)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(results) == [False, True], (i, results)


def test_the_same_code_in_two_browsers_signs_in_only_one(app, world):
    admin, secret = world["admin"], world["admin_secret"]
    first, second = client_from(app, ADMIN_DESK), client_from(app, ATTACKER)
    for client in (first, second):
        post_login(client, admin.email)
    code = next_code(secret)
    tokens = [page_token(c, "/login/totp") for c in (first, second)]
    barrier = threading.Barrier(2)
    statuses: dict[int, int] = {}

    def present(i, client):
        barrier.wait()
        statuses[i] = client.post("/login/totp", data={"csrf_token": tokens[i], "code": code}).status_code

    threads = [threading.Thread(target=present, args=(i, c)) for i, c in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses.values()) == [302, 401]
    assert [signed_in(first), signed_in(second)].count(True) == 1


# ---- sessions: ended on the server --------------------------------------------------------

def sign_in_member(app, email: str, addr: str = "127.0.0.1"):
    client = client_from(app, addr)
    assert post_login(client, email).status_code == 302
    return client


def test_a_cookie_copied_before_sign_out_no_longer_works_after_it(app, world):
    victim = sign_in_member(app, world["analyst"].email)
    stolen = session_cookie(victim)
    token = csrf_token(victim.get("/").get_data(as_text=True))
    assert victim.post("/logout", data={"csrf_token": token}).status_code == 302
    thief = client_from(app)
    thief.set_cookie("session", stolen)
    assert thief.get("/incidents").status_code == 302
    with app.app_context():
        assert db.session.query(UserSession).filter(UserSession.revoked_at.is_(None)).count() == 0


def _age_sessions(app, **columns) -> None:
    with app.app_context():
        db.session.execute(update(UserSession).values(**columns))
        db.session.commit()


def test_a_session_idle_longer_than_the_timeout_ends(app, world):
    client = sign_in_member(app, world["analyst"].email)
    idle = app.config["SESSION_IDLE_MINUTES"]
    _age_sessions(app, last_seen_at=utcnow() - timedelta(minutes=idle - 2))
    assert signed_in(client)  # within the timeout: still signed in, and "last seen" moves to now
    with app.app_context():
        seen = db.session.query(UserSession).one().last_seen_at
    assert utcnow() - seen < timedelta(minutes=1)
    _age_sessions(app, last_seen_at=utcnow() - timedelta(minutes=idle + 1))
    assert not signed_in(client)


def test_a_session_ends_at_its_absolute_lifetime_however_busy(app, world):
    client = sign_in_member(app, world["analyst"].email)
    hours = app.config["SESSION_MAX_HOURS"]
    _age_sessions(app, created_at=utcnow() - timedelta(hours=hours) + timedelta(minutes=5))
    assert signed_in(client)
    _age_sessions(app, created_at=utcnow() - timedelta(hours=hours, minutes=1), last_seen_at=utcnow())
    assert not signed_in(client)


def test_defaults_suit_a_cert():
    from cert_share.config import Config

    assert Config.SESSION_IDLE_MINUTES == 30 and Config.SESSION_MAX_HOURS == 12


def test_a_session_cookie_used_from_another_address_ends_and_x_forwarded_for_is_not_trusted(app, world):
    victim = sign_in_member(app, world["analyst"].email, addr="192.0.2.10")
    stolen = session_cookie(victim)
    # The victim's own browser may send any X-Forwarded-For: the peer address is what counts.
    assert victim.get("/incidents", headers={"X-Forwarded-For": "203.0.113.99"}).status_code == 200
    thief = client_from(app, ATTACKER)
    thief.set_cookie("session", stolen)
    # Claiming the victim's address in X-Forwarded-For does not make the thief the victim.
    assert thief.get("/incidents", headers={"X-Forwarded-For": "192.0.2.10"}).status_code == 302
    # And that use ended the session for good, for the victim too.
    assert victim.get("/incidents").status_code == 302


def _field_errors(response, field: str) -> str:
    """The messages listed under one field of the page's form."""
    page = response.get_data(as_text=True)
    found = re.search(rf'<ul class="field-errors" id="{field}-errors">(.*?)</ul>', page, re.S)
    return found.group(1) if found else ""


def change_password(client, current: str, new: str, confirm: str | None = None):
    token = page_token(client, "/account/password")
    return client.post("/account/password", data={"csrf_token": token, "current_password": current,
                                                   "new_password": new, "confirm_password": confirm or new})


def test_changing_ones_password_needs_the_current_one_and_the_policy(app, world):
    client = sign_in_member(app, world["analyst"].email)
    # Each refusal is said next to the field it is about.
    refused = change_password(client, "not my password", "a brand new password")
    assert refused.status_code == 400
    assert "current password is not right" in _field_errors(refused, "current_password")
    short = change_password(client, PASSWORD, "short")
    assert short.status_code == 400 and "at least 10 characters" in _field_errors(short, "new_password")
    differ = change_password(client, PASSWORD, "a brand new password", "another new password")
    assert differ.status_code == 400 and "differ" in _field_errors(differ, "confirm_password")
    with app.app_context():
        assert audit_count(app, "user.password") == 0
        assert db.session.get(User, world["analyst"].id).session_version == 1


def test_a_password_change_ends_every_other_session_but_not_this_one(app, world):
    email = world["analyst"].email
    laptop, phone = sign_in_member(app, email), sign_in_member(app, email)
    other_user = sign_in_member(app, world["bank_admin"].email)
    response = change_password(laptop, PASSWORD, "a brand new password")
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/security")
    assert "Every other session" in laptop.get("/account/security").get_data(as_text=True)
    assert signed_in(laptop)
    assert not signed_in(phone)
    assert signed_in(other_user)  # another person's session is not touched
    assert post_login(client_from(app), email, PASSWORD).status_code == 401
    with app.app_context():
        user = db.session.get(User, world["analyst"].id)
        assert user.password_hash.startswith("$argon2id$")
    assert post_login(client_from(app), email, "a brand new password").status_code == 302
    assert audit_count(app, "user.password") == 1


def test_a_token_keeps_working_after_its_issuers_sessions_end(app, world, factory):
    token = factory.token(world["bank"])
    client = sign_in_member(app, world["bank_admin"].email)
    change_password(client, PASSWORD, "a brand new password")
    csrf = csrf_token(client.get("/").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": csrf})
    assert app.test_client().get("/api/v1/incidents", headers=auth(token)).status_code == 200


# ---- password guessing: slowed per account and address, nobody locked out -------------------

def test_an_attacker_cannot_lock_the_cert_admin_out(app, world):
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"  # the per-address cap is tested on its own
    admin = world["admin"]
    attacker = client_from(app, ATTACKER)
    statuses = [post_login(attacker, admin.email, f"guess number {i}").status_code for i in range(20)]
    limit = app.config["LOGIN_MAX_FAILURES"]
    assert statuses[:limit] == [401] * limit and set(statuses[limit:]) == {429}
    # From the attacker's address even the right password waits: the guesses are no longer checked.
    assert post_login(attacker, admin.email, PASSWORD).status_code == 429
    # The admin at their desk signs in, second factor and all.
    desk = client_from(app, ADMIN_DESK)
    assert post_login(desk, admin.email).headers["Location"].endswith("/login/totp")
    assert post_code(desk, next_code(world["admin_secret"])).status_code == 302
    assert signed_in(desk)


def test_the_wait_grows_with_each_failure_and_ends(app, world):
    from cert_share.services import signin

    throttling = Throttling(max_failures=3, backoff_max=timedelta(minutes=15))
    t = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    email = world["analyst"].email
    with app.app_context():
        for _ in range(3):
            assert signin.begin_sign_in(db.session, email, "wrong guess!", throttling=throttling,
                                        remote_addr=ATTACKER, now=t).error == signin.GENERIC_FAILURE
        assert signin.begin_sign_in(db.session, email, PASSWORD, throttling=throttling, remote_addr=ATTACKER,
                                    now=t + timedelta(seconds=59)).throttled
        waits = []
        for _ in range(6):
            t += timedelta(minutes=20)  # past any wait: the guess is checked, and fails
            assert not signin.begin_sign_in(db.session, email, "wrong guess!", throttling=throttling,
                                            remote_addr=ATTACKER, now=t).throttled
            waits.append(blocked_until(db.session, subject_for(email), ATTACKER, t) - t)
        assert waits == [timedelta(minutes=m) for m in (2, 4, 8, 15, 15, 15)]
        # After the wait, the right password works from that address too, and clears the count.
        result = signin.begin_sign_in(db.session, email, PASSWORD, throttling=throttling, remote_addr=ATTACKER,
                                      now=t + timedelta(minutes=16))
        assert result.ok


def _answer(app, email: str, password: str):
    """Status, page and flashed messages, less the CSRF token and the address as typed (echoed)."""
    client = client_from(app, ATTACKER)
    response = post_login(client, email, password)
    with client.session_transaction() as flask_session:
        flashes = flask_session.get("_flashes")
    page = re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", response.get_data(as_text=True))
    return response.status_code, page.replace(email, "EMAIL"), flashes


def test_known_and_unknown_addresses_get_the_same_answer_after_the_same_work(app, world, monkeypatch):
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    from cert_share.services import users

    verified = []

    class CountingHasher:
        """argon2 as before, counting the verifications (the work a sign-in costs)."""

        def __init__(self, real):
            self.real = real

        def verify(self, hashed, password):
            verified.append(hashed)
            return self.real.verify(hashed, password)

        def __getattr__(self, name):
            return getattr(self.real, name)

    monkeypatch.setattr(users, "_hasher", CountingHasher(users._hasher))
    known, unknown = world["analyst"].email, "nobody@bank.example"
    for attempt in range(app.config["LOGIN_MAX_FAILURES"] + 2):
        verified.clear()
        known_answer = _answer(app, known, "wrong password!")
        known_work = len(verified)
        verified.clear()
        unknown_answer = _answer(app, unknown, "wrong password!")
        assert known_answer == unknown_answer, attempt
        assert known_work == len(verified), attempt  # one argon2 verify each, none once throttled
    assert known_answer[0] == 429 and "Too many failed sign-in attempts" in known_answer[1]
    # A malformed address answers the same way too.
    assert _answer(app, "not-an-address", "wrong password!")[:2] == _answer(app, "x@y.example", "wrong password!")[:2]


# ---- secrets and trust -------------------------------------------------------------------------

def _decoded_session(app, client) -> str:
    cookie = client.get_cookie("session")
    if cookie is None:
        return ""
    return repr(app.session_interface.get_signing_serializer(app).loads(cookie.value))


def test_a_new_tokens_secret_is_shown_in_the_answer_and_never_put_in_the_cookie(app, world):
    client = sign_in_member(app, world["bank_admin"].email)
    token = page_token(client, "/tokens")
    response = client.post("/tokens", data={"csrf_token": token, "name": "soc feed", "org": world["bank"].slug})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    secret = re.search(r'id="new-token-secret">([^<]+)<', page).group(1)
    assert secret.startswith("cs_")
    assert secret not in _decoded_session(app, client) and secret not in response.headers.get("Set-Cookie", "")
    assert secret not in client.get("/tokens").get_data(as_text=True)  # shown once
    assert app.test_client().get("/api/v1/incidents", headers=auth(secret)).status_code == 200


def test_revoking_a_token_goes_back_to_the_tokens_page_whatever_the_referer(app, world, factory):
    factory.token(world["bank"])
    factory.token(world["telco"])
    with app.app_context():
        from cert_share.models import ApiToken

        bank_token = db.session.query(ApiToken).filter_by(org_id=world["bank"].id).one().id
        telco_token = db.session.query(ApiToken).filter_by(org_id=world["telco"].id).one().id
    member = sign_in_member(app, world["bank_admin"].email)
    token = page_token(member, "/tokens")
    evil = {"Referer": "https://evil.example/tokens"}
    response = member.post(f"/tokens/{bank_token}/revoke", data={"csrf_token": token}, headers=evil)
    assert response.status_code == 302 and response.headers["Location"] == "/tokens"
    # Another organization's token is not the bank admin's to revoke.
    assert member.post(f"/tokens/{telco_token}/revoke", data={"csrf_token": token}, headers=evil).status_code == 404


def test_taxii_discovery_names_the_configured_base_url_not_the_host_header(app, world, factory):
    app.config["BASE_URL"] = "https://share.cert.example"
    token = factory.token(world["bank"])
    response = app.test_client().get("/taxii2/", headers={**auth(token), "Host": "evil.example",
                                                          "Accept": "application/taxii+json;version=2.1"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["default"] == "https://share.cert.example/taxii2/api1/" or \
        body["default"].startswith("https://share.cert.example/taxii2/")
    assert all(url.startswith("https://share.cert.example/") for url in body["api_roots"])
    assert "evil.example" not in response.get_data(as_text=True)


def _config_base_url(monkeypatch, **env: str) -> str:
    """BASE_URL on a development machine as read from this environment, in a fresh interpreter:
    reloading cert_share.config here would replace its classes (SettingError among them) under
    every test module that imported them before, on the same worker."""
    import os
    import subprocess
    import sys

    environ = {k: v for k, v in os.environ.items() if k != "BASE_URL"} | env
    result = subprocess.run([sys.executable, "-c", "from cert_share.config import DevelopmentConfig as c; "
                             "print(c.BASE_URL)"], env=environ, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_development_base_url_defaults_to_the_local_port(monkeypatch):
    assert _config_base_url(monkeypatch, PORT="8123") == "http://127.0.0.1:8123"


def test_a_base_url_written_with_a_trailing_slash_makes_the_same_links(monkeypatch):
    assert _config_base_url(monkeypatch, BASE_URL="https://share.cert.example/") == "https://share.cert.example"


def test_production_cookies_are_secure_httponly_and_lax(database_url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "s" * 40,
                      "BASE_URL": "https://share.cert.example"}, env="production")
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    cookie = app.test_client().get("/login", base_url="https://share.cert.example").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    development = create_app({"SQLALCHEMY_DATABASE_URI": database_url}, env="development")
    assert not development.config["SESSION_COOKIE_SECURE"]
    assert not create_app(_config(database_url)).config["SESSION_COOKIE_SECURE"]
    with app.app_context():
        db.engine.dispose()
    with development.app_context():
        db.engine.dispose()


def test_exporting_the_audit_log_is_a_post_and_a_get_writes_nothing(app, world):
    client = client_from(app, ADMIN_DESK)
    post_login(client, world["admin"].email)
    post_code(client, next_code(world["admin_secret"]))
    before = audit_count(app, "audit.export")
    assert client.get("/admin/audit.csv").status_code == 405
    assert client.post("/admin/audit.csv").status_code == 400  # no CSRF token
    assert audit_count(app, "audit.export") == before
    token = csrf_token(client.get("/admin/audit").get_data(as_text=True))
    response = client.post("/admin/audit.csv", data={"csrf_token": token, "action": "user.login"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "user.login" in response.get_data(as_text=True)
    assert audit_count(app, "audit.export") == before + 1
    # A member-admin may not export it.
    member = sign_in_member(app, world["bank_admin"].email)
    member_token = csrf_token(member.get("/").get_data(as_text=True))
    assert member.post("/admin/audit.csv", data={"csrf_token": member_token}).status_code == 403
