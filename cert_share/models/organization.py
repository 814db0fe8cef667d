"""Organizations of the constituency, and the assets they register."""
from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import Model, db
from ..limits import MAX_EMAIL, MAX_ENV_NAME, MAX_NAME, MAX_URL
from ..vocab import N_
from .types import BigIntPK, JSONText, UTCDateTime

ORG_KINDS = ("cert", "member", "partner")
ORG_KIND_LABELS = {"cert": "CERT", "member": N_("Member"), "partner": N_("Partner CERT")}
ASSET_KINDS = ("cidr", "asn", "domain")


class Organization(Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(MAX_NAME), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="member")
    sector: Mapped[str] = mapped_column(String(64), nullable=False)
    country: Mapped[str | None] = mapped_column(String(2))
    # STIX identity id; fixed at creation so every object the org authors keeps pointing at it.
    stix_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    contact_email: Mapped[str | None] = mapped_column(String(MAX_EMAIL))
    # A shared mailbox (a duty rota's 24/7 address) that gets the immediate kinds of alert mail.
    duty_email: Mapped[str | None] = mapped_column(String(MAX_EMAIL))
    # Sector regime for reporting deadlines (e.g. "dora" for banks); None: the NIS2 defaults.
    regime: Mapped[str | None] = mapped_column(String(32))
    # A deactivated organization keeps its reports; its users cannot sign in and its tokens fail.
    # A partner CERT: where its intake is (a TAXII 2.1 collection URL), the names of the
    # environment variables holding the credentials for it (never the secrets themselves), the
    # languages it works in (ISO 639-1), and the OpenPGP key of its 24/7 contact address.
    taxii_url: Mapped[str | None] = mapped_column(String(MAX_URL))
    taxii_username_env: Mapped[str | None] = mapped_column(String(MAX_ENV_NAME))
    taxii_password_env: Mapped[str | None] = mapped_column(String(MAX_ENV_NAME))
    languages = mapped_column(JSONText, nullable=False, default=list)
    pgp_key: Mapped[str | None] = mapped_column(Text)
    pgp_fingerprint: Mapped[str | None] = mapped_column(String(64))
    pgp_expires_at = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    deactivated_at = mapped_column(UTCDateTime)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    assets = relationship("Asset", back_populates="organization", cascade="all, delete-orphan")

    @property
    def is_cert(self) -> bool:
        return self.kind == "cert"

    def __repr__(self) -> str:
        return f"<Organization {self.slug} ({self.kind}, {self.sector})>"


class Asset(Model):
    """An IP range, AS number or domain the organization declares as its own.

    IP ranges are stored as fixed-width hex of their first and last address (IPv4 mapped into
    the IPv6 space), so "which range contains this address" is an indexed range lookup.
    """

    __tablename__ = "assets"
    __table_args__ = (
        UniqueConstraint("org_id", "kind", "value", name="uq_assets_org_kind_value"),
        Index("ix_assets_range", "range_start", "range_end"),
        Index("ix_assets_asn", "asn"),
        Index("ix_assets_domain", "domain"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    value: Mapped[str] = mapped_column(String(255), nullable=False)
    range_start: Mapped[str | None] = mapped_column(String(32))
    range_end: Mapped[str | None] = mapped_column(String(32))
    asn: Mapped[int | None] = mapped_column(db.BigInteger)
    domain: Mapped[str | None] = mapped_column(String(255))
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    organization = relationship("Organization", back_populates="assets")
