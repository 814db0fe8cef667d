"""The account commands an operator runs at 3 a.m.: can the person sign in again afterwards, are
the sessions that should end ended, is each step in the audit log, and does a typo in the
address say so instead of doing nothing?"""
from __future__ import annotations

import re
import time
from datetime import timedelta

import pyotp
import pytest

from cert_share.extensions import db
from cert_share.models import AuditEntry, User
from cert_share.services import totp
from cert_share.services.signin_throttle import Throttling
from tests.conftest import PASSWORD

from .web_login import csrf_token, login

SIGNED_IN_PAGE = "/account/password"  # any page that needs a session


def signed_in(client) -> bool:
    return client.get(SIGNED_IN_PAGE).status_code == 200


def audit_rows(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.query(AuditEntry).filter_by(action=action).all()
        db.session.expunge_all()
        return rows


def enrol_at_sign_in(client, email: str, password: str = PASSWORD) -> str:
    """Sign in as CERT staff without an authenticator: the enrolment page, then a code. Returns the secret."""
    response = login(client, email, password)
    assert response.status_code == 302 and response.headers["Location"].endswith("/login/totp/enrol")
    page = client.get("/login/totp/enrol").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    done = client.post("/login/totp/enrol", data={"csrf_token": csrf_token(page), "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302, done.get_data(as_text=True)
    return secret


@pytest.fixture
def cert(factory):
    return factory.cert()


@pytest.fixture
def member(factory):
    bank = factory.org("First Bank")
    return factory.user(bank, "analyst", email="ana@first-bank.example")


def test_the_only_cert_admin_who_lost_their_phone_is_reset_and_enrols_again(app, runner, factory, cert):
    admin = factory.user(cert, "cert-admin", email="boss@cert.example")
    laptop = app.test_client()
    old_secret = enrol_at_sign_in(laptop, admin.email)
    assert signed_in(laptop)

    result = runner.invoke(args=["user", "reset-totp", "--email", "Boss@cert.example"])
    assert result.exit_code == 0, result.output
    assert "boss@cert.example: two-factor sign-in reset" in result.output

    # The browser that may have gone with the phone is signed out.
    assert not signed_in(laptop)
    # The password alone still does not sign in: enrolment comes first, with a new secret.
    phone = app.test_client()
    assert login(phone, admin.email).headers["Location"].endswith("/login/totp/enrol")
    assert phone.get("/admin/audit").status_code == 302
    new_secret = enrol_at_sign_in(app.test_client(), admin.email)
    assert new_secret != old_secret
    with app.app_context():
        user = db.session.get(User, admin.id)
        assert user.totp_enabled and user.totp_secret == new_secret
    [row] = audit_rows(app, "user.totp_reset")
    assert (row.actor, row.target_id) == ("cli", "boss@cert.example")


def test_reset_password_prints_a_temporary_one_that_must_be_changed(app, runner, member):
    browser = app.test_client()
    assert login(browser, member.email).status_code == 302 and signed_in(browser)

    result = runner.invoke(args=["user", "reset-password", "--email", member.email])
    assert result.exit_code == 0, result.output
    temporary = result.output.strip().splitlines()[-1]
    assert len(temporary) >= 10 and temporary != PASSWORD

    assert not signed_in(browser)  # every session ended
    assert login(app.test_client(), member.email, PASSWORD).status_code == 401
    fresh = app.test_client()
    response = login(fresh, member.email, temporary)
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/password")
    assert fresh.get("/incidents").headers["Location"].endswith("/account/password")
    [row] = audit_rows(app, "user.password_reset")
    assert (row.actor, row.target_id) == ("cli", member.email)
    assert temporary not in str(row.details)


def test_reset_password_from_stdin_sets_that_one_and_prints_nothing_secret(app, runner, member):
    chosen = "operator chose this one"
    result = runner.invoke(args=["user", "reset-password", "--email", member.email, "--stdin"], input=chosen + "\n")
    assert result.exit_code == 0, result.output
    assert chosen not in result.output
    response = login(app.test_client(), member.email, chosen)
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/password")


def test_a_too_short_password_from_stdin_changes_nothing(app, runner, member):
    result = runner.invoke(args=["user", "reset-password", "--email", member.email, "--stdin"], input="short\n")
    assert result.exit_code == 2
    assert result.output.startswith("Error: password must be at least 10 characters")
    assert "Traceback" not in result.output
    assert login(app.test_client(), member.email, PASSWORD).headers["Location"].endswith("/")
    assert audit_rows(app, "user.password_reset") == []


def test_unlock_lets_a_throttled_person_sign_in_at_once(app, runner, member):
    browser = app.test_client()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login(browser, member.email, "wrong password!").status_code == 401
    assert login(browser, member.email).status_code == 429  # even the right password must wait

    result = runner.invoke(args=["user", "unlock", "--email", member.email])
    assert result.exit_code == 0, result.output
    assert "failed sign-ins from 1 address(es) forgotten" in result.output

    assert login(browser, member.email).status_code == 302 and signed_in(browser)
    [row] = audit_rows(app, "user.unlock")
    assert (row.actor, row.target_id, row.details["addresses"]) == ("cli", member.email, 1)


def test_unlock_lifts_the_wait_after_wrong_two_factor_codes(app, runner, factory, cert):
    staff = factory.user(cert, "cert-analyst", email="duty@cert.example")
    secret = enrol_at_sign_in(app.test_client(), staff.email)
    throttling = Throttling(app.config["LOGIN_MAX_FAILURES"],
                            timedelta(minutes=app.config["LOGIN_BACKOFF_MAX_MINUTES"]))
    with app.app_context():
        user = db.session.get(User, staff.id)
        right = pyotp.TOTP(secret).now()
        wrong = "000000" if right != "000000" else "111111"
        for _ in range(totp.MAX_WRONG_CODES):
            totp.verify(db.session, user, wrong, throttling=throttling)
        assert totp.blocked_until(db.session, user) is not None

    result = runner.invoke(args=["user", "unlock", "--email", staff.email])
    assert result.exit_code == 0, result.output
    assert "two-factor codes are accepted again" in result.output
    with app.app_context():
        user = db.session.get(User, staff.id)
        assert totp.blocked_until(db.session, user) is None
        # The code of the next time step: the one in use at enrolment was consumed there.
        later = pyotp.TOTP(secret).at(time.time() + totp.STEP_SECONDS)
        assert totp.verify(db.session, user, later, throttling=throttling)


def test_disable_ends_the_sessions_and_enable_lets_them_back(app, runner, member):
    browser = app.test_client()
    assert login(browser, member.email).status_code == 302

    result = runner.invoke(args=["user", "disable", "--email", member.email])
    assert result.exit_code == 0, result.output
    assert f"{member.email} is disabled" in result.output
    assert not signed_in(browser)
    assert login(app.test_client(), member.email).status_code == 401

    result = runner.invoke(args=["user", "enable", "--email", member.email])
    assert result.exit_code == 0, result.output
    assert login(app.test_client(), member.email).status_code == 302
    rows = audit_rows(app, "user.update")
    assert [(r.actor, r.target_id, r.details) for r in rows] == [
        ("cli", member.email, {"active": False}), ("cli", member.email, {"active": True})]


@pytest.mark.parametrize("command", ["reset-password", "unlock", "reset-totp", "disable", "enable"])
def test_an_unknown_address_is_an_error_and_changes_nothing(app, runner, member, command):
    result = runner.invoke(args=["user", command, "--email", "nobody@first-bank.example"])
    assert result.exit_code == 2
    assert result.output == "Error: no user with the e-mail address nobody@first-bank.example\n"
    with app.app_context():
        assert db.session.query(AuditEntry).filter(AuditEntry.action.like("user.%"),
                                                   AuditEntry.action != "user.create").count() == 0
