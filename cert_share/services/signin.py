"""Signing in to the web workspace, as explicit steps.

    begin_sign_in      e-mail + password (argon2, throttled per account and address) -> SignInResult
    [second factor]    services/totp.py: a step between the two
    complete_sign_in   the session starts: a server-side session row, audit "user.login"
    record_sign_out    the session row is revoked, audit "user.logout"

The web view calls these in order and only starts a Flask-Login session after
``complete_sign_in``; a second factor slots in by returning ``second_factor`` from
``begin_sign_in`` and asking for it before completing.

Every failure, for a known or an unknown address, gets the same answer after the same work;
a throttled attempt (signin_throttle.py) is answered before any password is checked, again the
same for every address.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..actor import Actor, actor_for_user
from ..clock import utcnow
from ..database import DbSession
from ..limits import MAX_EMAIL
from ..models import User
from ..store import audit
from . import signin_throttle, web_sessions
from .signin_throttle import Throttling
from .totp import second_factor_for
from .users import verify_credentials

GENERIC_FAILURE = "Wrong e-mail address or password."
THROTTLED = ("Too many failed sign-in attempts for this account from your address. "
             "Wait a few minutes, then try again.")


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


@dataclass(frozen=True)
class SignInResult:
    user: User | None
    error: str | None = None
    # Name of a further factor the user must present before the session starts (None: none).
    second_factor: str | None = None
    throttled: bool = False

    @property
    def ok(self) -> bool:
        return self.user is not None and self.error is None


def _audit_attempt(session: DbSession, email: str, remote_addr: str | None, action: str) -> None:
    attempted = "".join(ch if not _has_control(ch) else "?" for ch in email.strip())[:MAX_EMAIL]
    audit.record(session, Actor(label="anonymous", remote_addr=remote_addr), action, "user", attempted)


def begin_sign_in(session: DbSession, email: str, password: str, *, throttling: Throttling,
                  remote_addr: str | None = None, now: datetime | None = None) -> SignInResult:
    """Check the password; a failure is counted, audited and answered with a safe message. Commits."""
    email = email or ""
    now = now or utcnow()
    subject = signin_throttle.subject_for(email)
    if signin_throttle.blocked_until(session, subject, remote_addr, now) is not None:
        _audit_attempt(session, email, remote_addr, "user.login_throttled")
        session.commit()
        return SignInResult(user=None, error=THROTTLED, throttled=True)
    # No address has control characters, and PostgreSQL refuses NUL in a query parameter.
    user = verify_credentials(session, "" if _has_control(email) else email, password)
    if user is None:
        signin_throttle.record_failure(session, subject, remote_addr, now, throttling)
        _audit_attempt(session, email, remote_addr, "user.login_failed")
        session.commit()
        return SignInResult(user=None, error=GENERIC_FAILURE)
    signin_throttle.clear(session, subject, remote_addr)
    session.commit()
    return SignInResult(user=user, second_factor=second_factor_for(user))


def awaiting_second_factor(session: DbSession, user_id: int, session_version: int) -> User | None:
    """The user whose password was accepted, if they may still finish signing in: still active,
    and no password or role change has ended their sessions since."""
    user = session.get(User, user_id)
    if user is None or not user.can_sign_in or user.session_version != session_version:
        return None
    return user


def complete_sign_in(session: DbSession, user: User, *, client: str, lifetime: timedelta,
                     remote_addr: str | None = None) -> str:
    """Every factor has been checked: the server-side session and the audit entry; commits.
    Returns the session key for the cookie."""
    key = web_sessions.start(session, user, client=client, lifetime=lifetime)
    user.last_login_at = utcnow()
    audit.record(session, actor_for_user(user, remote_addr), "user.login", "user", user.email)
    session.commit()
    return key


def record_sign_out(session: DbSession, user: User, key: str | None, *, remote_addr: str | None = None) -> None:
    """End the session of ``key`` on the server (a copied cookie stops working) and audit it."""
    web_sessions.end(session, key)
    audit.record(session, actor_for_user(user, remote_addr), "user.logout", "user", user.email)
    session.commit()
