"""Failed sign-ins counted per account name and client address, with a growing wait.

An attacker guessing passwords (or codes) for an account from one address gets
``max_failures`` tries, then must wait one minute, then two, four … up to ``backoff_max``
between tries. The owner of the account, from another address, is not slowed at all: there is
no account lock that an outsider can set off. The address's total attempts are capped
separately by the rate limiter on the sign-in routes.

Rows are keyed by a digest of the e-mail address as typed, whether or not such an account
exists, so an unknown address is throttled exactly like a known one. A row is dropped on
success and, once it has been quiet for ``PRUNE_AFTER``, by the next failure anywhere.
"""
from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import CursorResult, delete, or_, select, update

from ..database import DbSession
from ..models import SignInThrottle
from ..store.rows import insert_unless_exists

FIRST_WAIT = timedelta(minutes=1)
PRUNE_AFTER = timedelta(days=1)
_TABLE = SignInThrottle.__table__


@dataclass(frozen=True)
class Throttling:
    """The settings (config.py: LOGIN_MAX_FAILURES, LOGIN_BACKOFF_MAX_MINUTES)."""

    max_failures: int
    backoff_max: timedelta


def subject_for(email: str | None) -> str:
    """The throttle key of an account name: case and spacing as the sign-in form ignores them."""
    text = unicodedata.normalize("NFC", (email or "").strip()).lower()
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def _addr(remote_addr: str | None) -> str:
    return (remote_addr or "")[:64]


def blocked_until(session: DbSession, subject: str, remote_addr: str | None, now: datetime) -> datetime | None:
    """When this address may try this account again, if it must wait; else None."""
    until = session.execute(select(_TABLE.c.blocked_until).where(
        _TABLE.c.subject == subject, _TABLE.c.remote_addr == _addr(remote_addr))).scalar_one_or_none()
    return until if until is not None and until > now else None


def wait_after(failures: int, throttling: Throttling) -> timedelta | None:
    """The wait imposed after the ``failures``-th failure in a row (None: no wait yet)."""
    if failures < throttling.max_failures:
        return None
    doublings = min(failures - throttling.max_failures, 20)
    return min(FIRST_WAIT * (2 ** doublings), throttling.backoff_max)


def record_failure(session: DbSession, subject: str, remote_addr: str | None, now: datetime,
                   throttling: Throttling) -> None:
    """Count one failure (in the caller's transaction); concurrent failures are all counted."""
    addr = _addr(remote_addr)
    match = (_TABLE.c.subject == subject, _TABLE.c.remote_addr == addr)
    bump = update(_TABLE).where(*match).values(failures=_TABLE.c.failures + 1, last_failure_at=now) \
        .returning(_TABLE.c.failures)
    failures = session.execute(bump).scalar_one_or_none()
    if failures is None:
        first = {"subject": subject, "remote_addr": addr, "failures": 1, "last_failure_at": now}
        if insert_unless_exists(session, _TABLE, first, returning=("id",)).first() is not None:
            failures = 1
        else:  # another request from the same address made the row first
            failures = session.execute(bump).scalar_one()
    wait = wait_after(failures, throttling)
    if wait is not None:
        session.execute(update(_TABLE).where(*match).values(blocked_until=now + wait))
    session.execute(delete(_TABLE).where(_TABLE.c.last_failure_at < now - PRUNE_AFTER,
                                         or_(_TABLE.c.blocked_until.is_(None), _TABLE.c.blocked_until < now)))


def clear(session: DbSession, subject: str, remote_addr: str | None) -> None:
    """A successful sign-in from this address forgets its failures for this account."""
    session.execute(delete(_TABLE).where(_TABLE.c.subject == subject, _TABLE.c.remote_addr == _addr(remote_addr)))


def forget(session: DbSession, subject: str) -> int:
    """An operator's unlock: the account's failures from every address are forgotten (in the
    caller's transaction); returns how many addresses had to wait or had failures counted."""
    # A DELETE's result is a CursorResult, which Session.execute's annotation does not say.
    return cast(CursorResult, session.execute(delete(_TABLE).where(_TABLE.c.subject == subject))).rowcount
