"""Users: creation, password hashing (argon2id) and sign-in with lockout."""
from __future__ import annotations

import re
import unicodedata
from functools import cache
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..errors import Conflict, InputError
from ..models import Organization, User
from ..models.user import CERT_ROLES, MEMBER_ROLES, ROLES
from . import audit

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so timing does not reveal which accounts
    exist. Made on first use: hashing at import cost every CLI command 0.15 s."""
    return _hasher.hash("not-a-real-password")


EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_strength(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"password must be at least {MIN_PASSWORD_LENGTH} characters long", field="password")


def normalize_email(email: str) -> str:
    email = unicodedata.normalize("NFC", (email or "").strip()).lower()
    # PostgreSQL refuses NUL in text; no address has control characters anyway.
    if not EMAIL_RE.match(email) or any(unicodedata.category(ch) == "Cc" for ch in email):
        raise InputError(f"{email!r} is not a valid e-mail address", field="email")
    return email


def create_user(session: Session, *, email: str, org: Organization, role: str, password: str,
                name: str | None = None, actor: audit.Actor = audit.CLI) -> User:
    email = normalize_email(email)
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}", field="role")
    if org.kind == "cert" and role not in CERT_ROLES:
        raise InputError(f"users of the CERT have role {' or '.join(CERT_ROLES)}", field="role")
    if org.kind != "cert" and role not in MEMBER_ROLES:
        raise InputError(f"users of a member or partner organization have role {' or '.join(MEMBER_ROLES)}",
                         field="role")
    check_password_strength(password)
    if session.execute(select(User.id).where(func.lower(User.email) == email)).first():
        raise Conflict(f"a user with e-mail {email} already exists")
    user = User(email=email, org_id=org.id, role=role, password_hash=hash_password(password), name=name)
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", "user", email, org=org.slug, role=role)
    session.commit()
    return user


def authenticate(session: Session, email: str, password: str, *, max_failures: int, lockout_minutes: int,
                 remote_addr: str | None = None) -> tuple[User | None, str | None]:
    """Return (user, None) on success, else (None, reason) with a reason safe to show."""
    generic = "Wrong e-mail address or password."
    try:
        email = normalize_email(email)
    except InputError:
        return None, generic
    user = session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    now = utcnow()
    if user is None:
        try:
            _hasher.verify(_dummy_hash(), password or "")
        except (VerificationError, InvalidHashError):
            pass
        return None, generic
    if user.locked_until is not None and user.locked_until > now:
        return None, "Too many failed sign-in attempts: this account is locked for a while. Try again later."
    try:
        _hasher.verify(user.password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + timedelta(minutes=lockout_minutes)
            user.failed_logins = 0
            audit.record(session, audit.Actor(label=f"user:{user.email}", remote_addr=remote_addr),
                         "user.locked", "user", user.email)
        session.commit()
        return None, generic
    if not user.active:
        return None, generic
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.commit()
    return user, None


def set_password(session: Session, user: User, password: str, actor: audit.Actor) -> None:
    check_password_strength(password)
    user.password_hash = hash_password(password)
    user.session_version = (user.session_version or 1) + 1
    audit.record(session, actor, "user.password", "user", user.email)
    session.commit()
