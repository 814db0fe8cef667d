"""TOTP two-factor sign-in (RFC 6238, 30 s steps, 6 digits): enrolment, verification, reset.

Required for CERT roles (a first sign-in without it goes through enrolment before any page),
offered to members. A code is accepted one step either side of now (clock drift), and each
code is accepted at most once: the last used time step is kept per user (``totp_uses``), so a
code read over a shoulder cannot be replayed within its window.
"""
from __future__ import annotations

from datetime import datetime

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..errors import Conflict, InputError
from ..models import User
from ..models.totp import TotpUse
from . import audit

STEP_SECONDS = 30
VALID_WINDOW = 1  # steps either side


def required_for(user: User) -> bool:
    return user.is_cert_staff


def second_factor_for(user: User) -> str | None:
    """What the sign-in must still ask for after the password: "totp", "totp-enrol" or None."""
    if user.totp_enabled and user.totp_secret:
        return "totp"
    if required_for(user):
        return "totp-enrol"
    return None


def provisioning_uri(user: User, secret: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_data_uri(uri: str) -> str:
    """The QR code as an SVG data URI (img-src allows data:, no script, no extra request)."""
    import segno  # only the enrolment page draws a QR code; importing it cost every command 60 ms

    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def start_enrolment(session: Session, user: User) -> str:
    """A new secret, stored but not active until a code from it is confirmed; commits."""
    if user.totp_enabled:
        raise Conflict("two-factor sign-in is already set up for this account")
    secret = pyotp.random_base32()
    user.totp_secret = secret
    session.commit()
    return secret


def _clean(code: str) -> str:
    text = "".join((code or "").split())
    if not (len(text) == 6 and text.isdigit()):
        raise InputError("enter the 6-digit code from your authenticator app", field="code")
    return text


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // STEP_SECONDS
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        candidate = step + offset
        if pyotp.utils.strings_equal(totp.generate_otp(candidate), code):
            return candidate
    return None


def _consume(session: Session, user: User, step: int) -> bool:
    row = session.get(TotpUse, user.id)
    if row is not None and step <= row.last_step:
        return False
    if row is None:
        session.add(TotpUse(user_id=user.id, last_step=step))
    else:
        row.last_step = step
    return True


def confirm_enrolment(session: Session, user: User, code: str, *, actor: audit.Actor,
                      now: datetime | None = None) -> None:
    """Activate the pending secret when ``code`` matches it; commits. InputError otherwise."""
    if not user.totp_secret or user.totp_enabled:
        raise Conflict("no two-factor enrolment in progress")
    step = _matching_step(user.totp_secret, _clean(code), now or utcnow())
    if step is None or not _consume(session, user, step):
        raise InputError("that code does not match: check the time on your phone and try the next code",
                         field="code")
    user.totp_enabled = True
    audit.record(session, actor, "user.totp_enable", "user", user.email)
    session.commit()


def verify(session: Session, user: User, code: str, *, remote_addr: str | None = None,
           now: datetime | None = None) -> bool:
    """The sign-in step: True when ``code`` is current and unused; a failure is audited. Commits."""
    try:
        cleaned = _clean(code)
    except InputError:
        cleaned = None
    ok = False
    if cleaned and user.totp_enabled and user.totp_secret:
        step = _matching_step(user.totp_secret, cleaned, now or utcnow())
        ok = step is not None and _consume(session, user, step)
    if not ok:
        audit.record(session, audit.actor_for_user(user, remote_addr), "user.totp_failed", "user", user.email)
    session.commit()
    return ok


def reset(session: Session, user: User, *, actor: audit.Actor) -> None:
    """An admin clears a lost authenticator: the user enrols again at the next sign-in. Commits."""
    user.totp_enabled = False
    user.totp_secret = None
    row = session.get(TotpUse, user.id)
    if row is not None:
        session.delete(row)
    audit.record(session, actor, "user.totp_reset", "user", user.email)
    session.commit()


def disable_own(session: Session, user: User, code: str, *, actor: audit.Actor) -> None:
    """A member turns two-factor off with a current code (CERT staff cannot: it is required)."""
    if required_for(user):
        raise InputError("two-factor sign-in is required for CERT staff", field="code")
    if not verify(session, user, code, remote_addr=actor.remote_addr):
        raise InputError("that code does not match", field="code")
    reset(session, user, actor=actor)


def user_by_id(session: Session, user_id: int) -> User | None:
    return session.execute(select(User).where(User.id == user_id)).scalar_one_or_none()
