"""Users: creation, password hashing (argon2id), checking and changing passwords."""
from __future__ import annotations

import re
import unicodedata
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext
from sqlalchemy import func, select

from .. import policy
from ..actor import CLI, Actor
from ..database import DbSession
from ..errors import Conflict, InputError, NotFound
from ..models import Organization, User
from ..models.user import CERT_ROLES, MEMBER_ROLES, ROLES
from ..store import audit
from . import web_sessions

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so timing does not reveal which accounts
    exist. Made on first use: hashing at import would cost every CLI command 0.15 s."""
    return _hasher.hash("not-a-real-password")


EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_strength(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(gettext("password must be at least %(min_password_length)s characters long",
                                 min_password_length=MIN_PASSWORD_LENGTH), field="password")


def normalize_email(email: str) -> str:
    email = unicodedata.normalize("NFC", (email or "").strip()).lower()
    # PostgreSQL refuses NUL in text; no address has control characters anyway.
    if not EMAIL_RE.match(email) or any(unicodedata.category(ch) == "Cc" for ch in email):
        raise InputError(gettext("%(email)r is not a valid e-mail address", email=email), field="email")
    return email


def create_user(session: DbSession, *, email: str, org: Organization, role: str, password: str,
                name: str | None = None, actor: Actor = CLI, must_change_password: bool = False) -> User:
    """A new account. CERT administrators create them in any organization, a member-admin only in
    their own (another answers NotFound). ``must_change_password``: the password was chosen by
    an administrator, so the user sets their own at first sign-in. Commits."""
    if not policy.can_manage_org(actor, org.id):
        raise NotFound(gettext("no such organization"))
    email = normalize_email(email)
    if role not in ROLES:
        raise InputError(gettext("role must be one of %(roles)s", roles=', '.join(ROLES)), field="role")
    if org.is_cert and role not in CERT_ROLES:
        raise InputError(gettext("users of the CERT have role %(cert_roles)s",
                                 cert_roles=' or '.join(CERT_ROLES)), field="role")
    if not org.is_cert and role not in MEMBER_ROLES:
        raise InputError(gettext("users of a member or partner organization have role %(member_roles)s",
                                 member_roles=' or '.join(MEMBER_ROLES)),
                         field="role")
    check_password_strength(password)
    if session.execute(select(User.id).where(func.lower(User.email) == email)).first():
        raise Conflict(gettext("a user with e-mail %(email)s already exists", email=email))
    user = User(email=email, org_id=org.id, role=role, password_hash=hash_password(password), name=name,
                must_change_password=must_change_password)
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", "user", email, org=org.slug, role=role)
    session.commit()
    return user


def verify_credentials(session: DbSession, email: str, password: str) -> User | None:
    """The active user with this e-mail address and password, else None.

    The same argon2 work is done whatever the outcome (a dummy hash stands in for an unknown or
    malformed address), so neither the answer nor its timing says which accounts exist."""
    address: str | None
    try:
        address = normalize_email(email)
    except InputError:
        address = None
    user = session.execute(select(User).where(User.email == address)).scalar_one_or_none() if address else None
    try:
        _hasher.verify(user.password_hash if user is not None else _dummy_hash(), password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.can_sign_in:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def set_password(session: DbSession, user: User, password: str, actor: Actor, *,
                 keep_session: str | None = None) -> None:
    """A new password (policy as at creation); every session of the user ends, except the one of
    ``keep_session`` (the person changing their own password stays signed in). Commits."""
    check_password_strength(password)
    user.password_hash = hash_password(password)
    user.must_change_password = False
    user.session_version = (user.session_version or 1) + 1
    web_sessions.end_others(session, user, keep=keep_session)
    audit.record(session, actor, "user.password", "user", user.email)
    session.commit()


def change_own_password(session: DbSession, user: User, current: str, new: str, actor: Actor, *,
                        keep_session: str | None) -> None:
    """The account page's password change: the current password is required. Commits."""
    try:
        _hasher.verify(user.password_hash, current or "")
    except (VerificationError, InvalidHashError):
        raise InputError(gettext("the current password is not right"), field="current_password") from None
    if new == current:
        raise InputError(gettext("the new password must differ from the current one"), field="new_password")
    try:
        check_password_strength(new)
    except InputError as exc:
        raise InputError(exc.message, field="new_password") from None
    set_password(session, user, new, actor, keep_session=keep_session)
