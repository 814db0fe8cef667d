"""Server-side sign-in state: the web sessions a person holds and the throttle on failed sign-ins.

A browser's session cookie carries only a random session key; whether that key still signs
anyone in (logged out, idle too long, too old, password changed since) is decided here, on the
server, so that a copied cookie dies with its session.
"""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .types import BigIntPK, UTCDateTime


class UserSession(Model):
    """One signed-in browser. ``id`` is the SHA-256 of the key in the cookie (services/web_sessions.py)."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    # SHA-256 of the client address and user agent at sign-in: a cookie used from elsewhere ends.
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at = mapped_column(UTCDateTime, nullable=False)
    last_seen_at = mapped_column(UTCDateTime, nullable=False)
    revoked_at = mapped_column(UTCDateTime)

    user = relationship("User")


class SignInThrottle(Model):
    """Failed sign-ins for one account name from one client address (services/signin.py).

    ``subject`` is the SHA-256 of the e-mail address as typed (normalised), whether or not such
    an account exists, so that throttling behaves the same for unknown addresses."""

    __tablename__ = "signin_throttle"
    __table_args__ = (UniqueConstraint("subject", "remote_addr", name="uq_signin_throttle"),
                      Index("ix_signin_throttle_last_failure", "last_failure_at"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), nullable=False)
    remote_addr: Mapped[str] = mapped_column(String(64), nullable=False)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_failure_at = mapped_column(UTCDateTime, nullable=False)
    blocked_until = mapped_column(UTCDateTime)
