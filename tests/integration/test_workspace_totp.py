"""Two-factor sign-in: who must enrol, which codes count, and that a code works only once."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pyotp
import pytest

from cert_share.actor import CLI
from cert_share.errors import Conflict, InputError
from cert_share.extensions import db
from cert_share.models import AuditEntry, User
from cert_share.services import totp
from cert_share.services.signin_throttle import Throttling

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
THROTTLING = Throttling(max_failures=5, backoff_max=timedelta(minutes=15))


@pytest.fixture
def people(factory):
    cert = factory.cert()
    bank = factory.org("First Bank")
    return {"staff": factory.user(cert, "cert-analyst").id, "member": factory.user(bank, "analyst").id}


def code_at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def check(user: User, code: str) -> bool:
    return totp.verify(db.session, user, code, throttling=THROTTLING, now=NOW)


def enrolled(user_id: int) -> tuple[User, str]:
    user = db.session.get(User, user_id)
    secret = totp.start_enrolment(db.session, user)
    totp.confirm_enrolment(db.session, user, code_at(secret, NOW - timedelta(minutes=5)), actor=CLI,
                           now=NOW - timedelta(minutes=5))
    return user, secret


def test_cert_staff_must_enrol_members_may(ctx, people):
    staff, member = db.session.get(User, people["staff"]), db.session.get(User, people["member"])
    assert totp.second_factor_for(staff) == "totp-enrol"
    assert totp.second_factor_for(member) is None
    enrolled(people["member"])
    assert totp.second_factor_for(member) == "totp"


def test_enrolment_needs_a_matching_code(ctx, people):
    user = db.session.get(User, people["staff"])
    secret = totp.start_enrolment(db.session, user)
    with pytest.raises(InputError):
        totp.confirm_enrolment(db.session, user, "000000" if code_at(secret, NOW) != "000000" else "111111",
                               actor=CLI, now=NOW)
    with pytest.raises(InputError):
        totp.confirm_enrolment(db.session, user, "12ab56", actor=CLI, now=NOW)
    assert not user.totp_enabled
    totp.confirm_enrolment(db.session, user, code_at(secret, NOW), actor=CLI, now=NOW)
    assert user.totp_enabled
    with pytest.raises(Conflict):
        totp.start_enrolment(db.session, user)


def test_codes_one_step_either_side_count_and_further_do_not(ctx, people):
    user, secret = enrolled(people["staff"])
    assert check(user, code_at(secret, NOW - timedelta(seconds=30)))
    assert check(user, code_at(secret, NOW + timedelta(seconds=30)))
    assert not check(user, code_at(secret, NOW + timedelta(seconds=90)))
    assert not check(user, "")


def test_a_code_works_only_once(ctx, people):
    user, secret = enrolled(people["staff"])
    code = code_at(secret, NOW)
    assert check(user, code)
    assert not check(user, code)
    # An older code than one already used is refused too.
    assert not check(user, code_at(secret, NOW - timedelta(seconds=30)))
    failures = db.session.query(AuditEntry).filter_by(action="user.totp_failed").count()
    assert failures == 2


def test_wrong_codes_are_counted_per_account_then_even_the_right_code_waits(ctx, people):
    user, secret = enrolled(people["staff"])
    valid = {code_at(secret, NOW + timedelta(seconds=30 * d)) for d in (-1, 0, 1)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)
    for _ in range(totp.MAX_WRONG_CODES):
        assert not check(user, wrong)
    assert totp.blocked_until(db.session, user, NOW) == NOW + timedelta(minutes=1)
    assert not check(user, code_at(secret, NOW))
    later = NOW + timedelta(minutes=2)
    assert totp.verify(db.session, user, code_at(secret, later), throttling=THROTTLING, now=later)
    assert totp.blocked_until(db.session, user, later) is None


def test_admin_reset_forces_a_new_enrolment(ctx, people):
    user, _ = enrolled(people["staff"])
    totp.reset(db.session, user, actor=CLI)
    assert totp.second_factor_for(user) == "totp-enrol" and user.totp_secret is None


def test_members_may_turn_it_off_staff_may_not(ctx, people):
    member, secret = enrolled(people["member"])
    totp.disable_own(db.session, member, code_at(secret, datetime.now(timezone.utc)), actor=CLI,
                     throttling=THROTTLING)
    assert not member.totp_enabled
    staff, secret = enrolled(people["staff"])
    with pytest.raises(InputError):
        totp.disable_own(db.session, staff, code_at(secret, datetime.now(timezone.utc)), actor=CLI,
                         throttling=THROTTLING)


def test_qr_code_is_an_svg_data_uri(ctx, people):
    user = db.session.get(User, people["member"])
    uri = totp.provisioning_uri(user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "cert-share")
    assert uri.startswith("otpauth://totp/cert-share:") and "secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" in uri
    assert totp.qr_data_uri(uri).startswith("data:image/svg+xml")
