"""Signing in to the web workspace, as explicit steps.

    begin_sign_in      e-mail + password (argon2, lockout)  -> SignInResult
    [second factor]    added by the two-factor feature: a step between the two
    complete_sign_in   the session may start: audit "user.login"
    record_sign_out    audit "user.logout"

The web view calls these in order and only starts a Flask-Login session after
``complete_sign_in``; a second factor slots in by returning ``second_factor`` from
``begin_sign_in`` and asking for it before completing.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ..models import User
from . import audit
from .users import authenticate

MAX_EMAIL_IN_AUDIT = 254
GENERIC_FAILURE = "Wrong e-mail address or password."


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


@dataclass(frozen=True)
class SignInResult:
    user: User | None
    error: str | None = None
    # Name of a further factor the user must present before the session starts (None: none).
    second_factor: str | None = None

    @property
    def ok(self) -> bool:
        return self.user is not None and self.error is None


def begin_sign_in(session: Session, email: str, password: str, *, max_failures: int, lockout_minutes: int,
                  remote_addr: str | None = None) -> SignInResult:
    """Check the password (with lockout); a failure is audited and answered with a safe message."""
    email = email or ""
    if _has_control(email):
        # No address has control characters, and PostgreSQL refuses NUL in a query parameter.
        user, error = None, GENERIC_FAILURE
    else:
        user, error = authenticate(session, email, password, max_failures=max_failures,
                                   lockout_minutes=lockout_minutes, remote_addr=remote_addr)
    if user is None:
        attempted = "".join(ch if not _has_control(ch) else "?" for ch in email.strip())[:MAX_EMAIL_IN_AUDIT]
        audit.record(session, audit.Actor(label="anonymous", remote_addr=remote_addr),
                     "user.login_failed", "user", attempted)
        session.commit()
        return SignInResult(user=None, error=error)
    from .totp import second_factor_for

    return SignInResult(user=user, second_factor=second_factor_for(user))


def complete_sign_in(session: Session, user: User, *, remote_addr: str | None = None) -> None:
    """Every factor has been checked: record the sign-in."""
    audit.record(session, audit.actor_for_user(user, remote_addr), "user.login", "user", user.email)
    session.commit()


def record_sign_out(session: Session, user: User, *, remote_addr: str | None = None) -> None:
    audit.record(session, audit.actor_for_user(user, remote_addr), "user.logout", "user", user.email)
    session.commit()
