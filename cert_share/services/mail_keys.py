"""A person's OpenPGP public key, for encrypted alert mail: registered from the account page or
``cert-share user key``, checked by ``mail.pgp.inspect_key`` (not expired, not revoked, able to
encrypt, a user id naming the account's address), removed by its owner."""
from __future__ import annotations

from datetime import datetime

from flask_babel import gettext
from sqlalchemy import func, select

from ..actor import Actor
from ..clock import utcnow
from ..database import DbSession
from ..errors import NotFound
from ..mail.pgp import KeyInfo, inspect_key
from ..models import User
from ..store.audit import record


def register_key(session: DbSession, user: User, data: str | bytes, *, actor: Actor,
                 now: datetime | None = None) -> KeyInfo:
    """Check ``data`` for ``user``'s address and keep it in place of any earlier key; commits.
    InputError (nothing changed) names what is wrong with the key."""
    info = inspect_key(data, user.email, now=now or utcnow())
    user.pgp_key = info.armored
    user.pgp_fingerprint = info.fingerprint
    user.pgp_expires_at = info.expires_at
    record(session, actor, "user.pgp_key", "user", user.id, fingerprint=info.fingerprint,
           expires_at=info.expires_at.isoformat() if info.expires_at else None)
    session.commit()
    return info


def remove_key(session: DbSession, user: User, *, actor: Actor) -> None:
    """Forget ``user``'s key: marked mail reaches them as a notice again; commits."""
    if user.pgp_key is None:
        return
    record(session, actor, "user.pgp_key_removed", "user", user.id, fingerprint=user.pgp_fingerprint)
    user.pgp_key = user.pgp_fingerprint = user.pgp_expires_at = None
    session.commit()


def user_by_email(session: DbSession, email: str) -> User:
    user = session.execute(select(User).where(func.lower(User.email) == email.strip().lower())).scalar_one_or_none()
    if user is None:
        raise NotFound(gettext("no user with the e-mail address %(email)s", email=email))
    return user
