"""TOTP two-factor sign-in (RFC 6238, 30 s steps, 6 digits): enrolment, verification, reset.

Required for CERT roles (a first sign-in without it goes through enrolment before any page),
offered to members. A code is accepted one step either side of now (clock drift), and each
code is accepted at most once: the last used time step is kept per user (``totp_uses``) and
moved forward by one conditional UPDATE, so a code read over a shoulder cannot be replayed
within its window, not even by two sessions presenting it at the same instant.

Wrong codes are counted on the server, per account (``totp_uses.failures``), whichever browser
or address sends them: after ``MAX_WRONG_CODES`` in a row the account's codes are refused for
one minute, then two, four … (signin_throttle.wait_after), until a right code. Each wrong code
also counts toward the password throttle of that account from that address.
"""
from __future__ import annotations

from datetime import datetime
from typing import cast

import pyotp
from flask_babel import gettext
from sqlalchemy import CursorResult, or_, select, update

from .. import policy
from ..actor import Actor, actor_for_user
from ..clock import utcnow
from ..database import DbSession
from ..errors import Conflict, InputError, NotFound
from ..models import User
from ..models.totp import TotpUse
from ..store import audit
from ..store.rows import insert_unless_exists
from . import signin_throttle
from .signin_throttle import Throttling

STEP_SECONDS = 30
VALID_WINDOW = 1  # steps either side
MAX_WRONG_CODES = 5  # in a row, per account, before the account's codes must wait
_USES = TotpUse.__table__


def required_for(user: User) -> bool:
    return policy.is_cert_staff_account(user)


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
    import segno  # only the enrolment page draws a QR code; at the top it would cost every command 60 ms

    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def start_enrolment(session: DbSession, user: User) -> str:
    """A new secret, stored but not active until a code from it is confirmed; commits."""
    if user.totp_enabled:
        raise Conflict(gettext("two-factor sign-in is already set up for this account"))
    secret = pyotp.random_base32()
    user.totp_secret = secret
    session.commit()
    return secret


def _clean(code: str) -> str:
    text = "".join((code or "").split())
    if not (len(text) == 6 and text.isdigit()):
        raise InputError(gettext("enter the 6-digit code from your authenticator app"), field="code")
    return text


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // STEP_SECONDS
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        candidate = step + offset
        if pyotp.utils.strings_equal(totp.generate_otp(candidate), code):
            return candidate
    return None


def _ensure_state(session: DbSession, user: User) -> None:
    """The user's ``totp_uses`` row exists (an enrolment made before this row was kept has none;
    a concurrent sign-in may be making it)."""
    insert_unless_exists(session, _USES, {"user_id": user.id, "last_step": -1, "failures": 0})


def _consume(session: DbSession, user: User, step: int, now: datetime) -> bool:
    """Accept ``step`` once: one conditional UPDATE, so of two sessions presenting the same code
    at the same moment exactly one moves ``last_step`` forward (rowcount 1), the other finds it
    done. Refused while the account must wait after wrong codes."""
    _ensure_state(session, user)
    # An UPDATE's result is a CursorResult, which Session.execute's annotation does not say.
    result = cast(CursorResult, session.execute(
        update(_USES).where(_USES.c.user_id == user.id, _USES.c.last_step < step,
                            or_(_USES.c.blocked_until.is_(None), _USES.c.blocked_until <= now))
        .values(last_step=step, failures=0, blocked_until=None)))
    return result.rowcount == 1


def blocked_until(session: DbSession, user: User, now: datetime | None = None) -> datetime | None:
    """Until when the account's codes are refused after wrong ones (None: they are not)."""
    until = session.execute(select(_USES.c.blocked_until).where(_USES.c.user_id == user.id)).scalar_one_or_none()
    return until if until is not None and until > (now or utcnow()) else None


def _count_wrong_code(session: DbSession, user: User, now: datetime, throttling: Throttling,
                      remote_addr: str | None) -> None:
    _ensure_state(session, user)
    failures = session.execute(update(_USES).where(_USES.c.user_id == user.id)
                               .values(failures=_USES.c.failures + 1).returning(_USES.c.failures)).scalar_one()
    wait = signin_throttle.wait_after(failures, Throttling(MAX_WRONG_CODES, throttling.backoff_max))
    if wait is not None:
        session.execute(update(_USES).where(_USES.c.user_id == user.id).values(blocked_until=now + wait))
    signin_throttle.record_failure(session, signin_throttle.subject_for(user.email), remote_addr, now, throttling)


def confirm_enrolment(session: DbSession, user: User, code: str, *, actor: Actor,
                      now: datetime | None = None) -> None:
    """Activate the pending secret when ``code`` matches it; commits. InputError otherwise."""
    if not user.totp_secret or user.totp_enabled:
        raise Conflict(gettext("no two-factor enrolment in progress"))
    now = now or utcnow()
    step = _matching_step(user.totp_secret, _clean(code), now)
    if step is None or not _consume(session, user, step, now):
        raise InputError(gettext("that code does not match: check the time on your phone and try the next code"),
                         field="code")
    user.totp_enabled = True
    audit.record(session, actor, "user.totp_enable", "user", user.email)
    session.commit()


def verify(session: DbSession, user: User, code: str, *, throttling: Throttling, remote_addr: str | None = None,
           now: datetime | None = None) -> bool:
    """The sign-in step: True when ``code`` is current and unused and the account need not wait;
    a wrong code is counted and audited. Commits."""
    now = now or utcnow()
    try:
        cleaned = _clean(code)
    except InputError:
        cleaned = None
    ok = False
    if cleaned and user.totp_enabled and user.totp_secret:
        step = _matching_step(user.totp_secret, cleaned, now)
        ok = step is not None and _consume(session, user, step, now)
    if not ok:
        if blocked_until(session, user, now) is None:
            _count_wrong_code(session, user, now, throttling, remote_addr)
        audit.record(session, actor_for_user(user, remote_addr), "user.totp_failed", "user", user.email)
    session.commit()
    return ok


def reset_user(session: DbSession, user_id: int, *, actor: Actor) -> User:
    """``reset`` for the user with this id, by an administrator who manages that account
    (NotFound otherwise, as for an id nobody has); returns the user."""
    user = session.get(User, user_id)
    if user is None or not policy.can_manage_user(actor, user):
        raise NotFound(gettext("no such user"))
    reset(session, user, actor=actor)
    return user


def reset(session: DbSession, user: User, *, actor: Actor) -> None:
    """An admin clears a lost authenticator: the user enrols again at the next sign-in. Commits."""
    user.totp_enabled = False
    user.totp_secret = None
    session.execute(_USES.delete().where(_USES.c.user_id == user.id))
    audit.record(session, actor, "user.totp_reset", "user", user.email)
    session.commit()


def unblock(session: DbSession, user: User) -> bool:
    """An operator's unlock: the account's count of wrong codes and its wait after them are
    cleared (in the caller's transaction); True when its codes were being refused."""
    waiting = blocked_until(session, user) is not None
    session.execute(update(_USES).where(_USES.c.user_id == user.id).values(failures=0, blocked_until=None))
    return waiting


def disable_own(session: DbSession, user: User, code: str, *, actor: Actor, throttling: Throttling) -> None:
    """A member turns two-factor off with a current code (CERT staff cannot: it is required)."""
    if required_for(user):
        raise InputError(gettext("two-factor sign-in is required for CERT staff"), field="code")
    if not verify(session, user, code, throttling=throttling, remote_addr=actor.remote_addr):
        raise InputError(gettext("that code does not match"), field="code")
    reset(session, user, actor=actor)
