"""Web sessions kept on the server: started at sign-in, checked on every page, ended at sign-out.

The browser's (signed, but readable) session cookie holds a random key; the ``user_sessions``
row, found by the key's SHA-256, decides whether it still signs anyone in:

    start        a new row for a completed sign-in; returns the key for the cookie (and drops
                 the user's ended rows)
    resume       the signed-in user for a key, or None when the session was ended, has been idle
                 longer than the idle timeout, is older than the absolute lifetime, belongs to an
                 earlier password/role of the user, or is used from another client (address and
                 user agent differ from sign-in: the session ends)
    end          sign-out: the row is revoked, so a copy of the cookie no longer works
    end_others   every other session of a user (password change)

``resume`` runs once per signed-in request: one lookup by primary key (the user comes in the
same query), and ``last_seen_at`` is written at most once a minute.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import contains_eager

from ..clock import utcnow
from ..database import DbSession
from ..models import User, UserSession

# last_seen_at is written at most this often per session, not on every page.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def fingerprint(remote_addr: str | None, user_agent: str | None) -> str:
    """The client a session is bound to: the TCP peer's address (never a forwarding header the
    client writes itself) and its user agent."""
    return hashlib.sha256(f"{remote_addr or ''}|{user_agent or ''}".encode("utf-8", "replace")).hexdigest()


def start(session: DbSession, user: User, *, client: str, lifetime: timedelta, now: datetime | None = None) -> str:
    """A session row for ``user`` in the caller's transaction; returns the key for the cookie.
    The user's ended and expired rows go at the same time, so the table holds live sessions."""
    now = now or utcnow()
    session.execute(delete(UserSession).where(
        UserSession.user_id == user.id,
        or_(UserSession.revoked_at.is_not(None), UserSession.created_at < now - lifetime)))
    key = secrets.token_urlsafe(32)
    session.add(UserSession(id=_digest(key), user_id=user.id, fingerprint=client, created_at=now,
                            last_seen_at=now))
    return key


def resume(session: DbSession, key: str | None, *, user_id: int, version: int, client: str,
           idle: timedelta, lifetime: timedelta, now: datetime | None = None) -> User | None:
    """The user signed in by ``key``, if that session is still alive; may commit (last seen)."""
    if not key or not isinstance(key, str) or len(key) > 100:
        return None
    row = session.execute(
        select(UserSession).join(User, User.id == UserSession.user_id).options(contains_eager(UserSession.user))
        .where(UserSession.id == _digest(key))).scalar_one_or_none()
    if row is None or row.revoked_at is not None or row.user_id != user_id:
        return None
    user = row.user
    now = now or utcnow()
    if not hmac.compare_digest(row.fingerprint, client):
        row.revoked_at = now  # the cookie turned up on another client: this session is over
        session.commit()
        return None
    if (not user.can_sign_in or user.session_version != version
            or now - row.last_seen_at > idle or now - row.created_at > lifetime):
        return None
    if now - row.last_seen_at > LAST_SEEN_RESOLUTION:
        row.last_seen_at = now
        session.commit()
    return user


def end(session: DbSession, key: str | None, *, now: datetime | None = None) -> None:
    """Revoke the session of ``key`` in the caller's transaction."""
    if key and isinstance(key, str):
        session.execute(update(UserSession).where(UserSession.id == _digest(key), UserSession.revoked_at.is_(None))
                        .values(revoked_at=now or utcnow()))


def end_others(session: DbSession, user: User, *, keep: str | None = None, now: datetime | None = None) -> None:
    """Revoke every session of ``user`` except the one of ``keep``, in the caller's transaction."""
    statement = update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
    if keep:
        statement = statement.where(UserSession.id != _digest(keep))
    session.execute(statement.values(revoked_at=now or utcnow()))
