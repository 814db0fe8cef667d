"""People who sign in to the web workspace, and the API tokens of organizations."""
from __future__ import annotations

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import Model
from ..limits import MAX_EMAIL, MAX_NAME, MAX_TOKEN_NAME
from ..vocab import N_
from .types import JSONText, UTCDateTime

# The roles, named once (policy decides what each may do).
ANALYST, MEMBER_ADMIN = "analyst", "member-admin"
CERT_ANALYST, CERT_ADMIN = "cert-analyst", "cert-admin"
MEMBER_ROLES = (ANALYST, MEMBER_ADMIN)
CERT_ROLES = (CERT_ANALYST, CERT_ADMIN)
ROLES = MEMBER_ROLES + CERT_ROLES
ROLE_LABELS = {ANALYST: N_("Analyst"), MEMBER_ADMIN: N_("Organization administrator"),
               CERT_ANALYST: N_("CERT analyst"), CERT_ADMIN: N_("CERT administrator")}


def roles_for_kind(kind: str) -> tuple[str, ...]:
    """The roles a user of an organization of this kind can have: the CERT's people have CERT
    roles; members' and partners' people member roles."""
    return CERT_ROLES if kind == "cert" else MEMBER_ROLES


class User(UserMixin, Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(MAX_EMAIL), unique=True, nullable=False)
    name: Mapped[str | None] = mapped_column(String(MAX_NAME))
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), nullable=False, index=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    last_login_at = mapped_column(UTCDateTime)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Set by an administrator's password reset: the next sign-in ends on the password form.
    must_change_password: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # OpenPGP public key for encrypted alert mail (armored), checked at registration; its
    # fingerprint and expiry are kept so delivery can decide without parsing it again.
    pgp_key: Mapped[str | None] = mapped_column(Text)
    pgp_fingerprint: Mapped[str | None] = mapped_column(String(64))
    pgp_expires_at = mapped_column(UTCDateTime)
    # Which kinds of mail this person gets, and how (mail decides the defaults per role).
    mail_prefs = mapped_column(JSONText, nullable=False, default=dict)
    # The language of this person's pages and mail; None: the browser's, then DEFAULT_LOCALE.
    locale: Mapped[str | None] = mapped_column(String(16))
    # Bumped on password and role changes; part of the session's user id, so sessions (and
    # half-finished sign-ins) from before the change end.
    session_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    organization = relationship("Organization")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.can_sign_in

    @property
    def can_sign_in(self) -> bool:
        """Neither the account nor its organization is deactivated."""
        return bool(self.active) and bool(self.organization.active)

    @property
    def is_cert_staff(self) -> bool:
        return self.role in CERT_ROLES

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


class ApiToken(Model):
    """A bearer token of an organization. Only its SHA-256 is stored; it is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(MAX_TOKEN_NAME), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_used_at = mapped_column(UTCDateTime)
    revoked_at = mapped_column(UTCDateTime)

    organization = relationship("Organization")

    @property
    def active(self) -> bool:
        return self.revoked_at is None
