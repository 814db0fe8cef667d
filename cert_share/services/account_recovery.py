"""What an operator does for a person who cannot sign in (``cert-share user unlock``,
``user reset-totp``); password resets and disabling an account are administration's, shared
with the admin pages.

    unlock       the failed sign-ins counted against the account, from every address, and the
                 wait after wrong two-factor codes are forgotten; sessions are left alone
    reset_totp   the authenticator is forgotten: the next sign-in sets up a new one (required
                 for CERT staff); every session of the account ends, since whoever holds the
                 lost device may hold a signed-in browser too
"""
from __future__ import annotations

from dataclasses import dataclass

from ..actor import Actor
from ..database import DbSession
from ..models import User
from ..store import audit
from . import signin_throttle, totp, web_sessions


@dataclass(frozen=True)
class Unlocked:
    addresses: int  # client addresses whose failures for the account were forgotten
    codes_were_blocked: bool  # the account's two-factor codes were being refused


def unlock(session: DbSession, user: User, *, actor: Actor) -> Unlocked:
    """Forget the account's failed sign-ins and wrong codes; audited (user.unlock). Commits."""
    addresses = signin_throttle.forget(session, signin_throttle.subject_for(user.email))
    blocked = totp.unblock(session, user)
    audit.record(session, actor, "user.unlock", "user", user.email, addresses=addresses, totp_blocked=blocked)
    session.commit()
    return Unlocked(addresses=addresses, codes_were_blocked=blocked)


def reset_totp(session: DbSession, user: User, *, actor: Actor) -> None:
    """Forget the account's authenticator and end its sessions, in one transaction; audited
    (user.totp_reset). Commits."""
    user.session_version += 1  # half-finished sign-ins end too
    web_sessions.end_others(session, user)
    totp.reset(session, user, actor=actor)
