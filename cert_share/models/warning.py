"""Early warnings: one row per observable and audience, the reports that raised it, and the
state of each partner feed's cursor.

A warning's STIX ids are derived from (observable, audience), so a later sighting can only ever
produce a new *version* of the same report, never a second report.
"""
from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import Model
from ..vocab import WarningState
from .types import BigIntPK, HostKey, JSONText, UTCDateTime

# "community": correlation across organizations; "org:<id>": constituency match for that owner.
COMMUNITY = "community"


class EarlyWarning(Model):
    __tablename__ = "warnings"
    __table_args__ = (
        UniqueConstraint("sco_id", "audience", name="uq_warnings_sco_audience"),
        Index("ix_warnings_publish_due", "publish_due", "id"),
        Index("ix_warnings_state", "state", "valid_until"),
        Index("ix_warnings_type_value", "observable_type", "observable_value"),
        Index("ix_warnings_ip", "ip_hex"),
        Index("ix_warnings_host", "host_rev"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    audience: Mapped[str] = mapped_column(String(32), nullable=False)
    owner_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))  # constituency match
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=WarningState.PENDING)
    # The observable (normalized) and its deterministic SCO id.
    sco_id: Mapped[str] = mapped_column(String(128), nullable=False)
    observable_type: Mapped[str] = mapped_column(String(32), nullable=False)
    observable_value: Mapped[str] = mapped_column(String(2048), nullable=False)
    observable_display: Mapped[str] = mapped_column(String(2048), nullable=False)
    # Search keys, as on observables: a CIDR or a domain finds the warnings under it.
    ip_hex: Mapped[str | None] = mapped_column(String(32))
    host_rev: Mapped[str | None] = mapped_column(HostKey)
    # The CERT-authored STIX objects (ids derived from sco_id + audience).
    report_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    indicator_id: Mapped[str] = mapped_column(String(64), nullable=False)
    # Editable by CERT staff; built from the rules until someone edits them.
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    recommended_action: Mapped[str] = mapped_column(Text, nullable=False, default="")
    classification: Mapped[str] = mapped_column(String(80), nullable=False)
    tlp: Mapped[str] = mapped_column(String(16), nullable=False)
    targets = mapped_column(JSONText, nullable=False, default=list)  # collection aliases
    edited: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)  # staff override rules
    # Personal values (stix.fraud.PERSONAL_TYPES) go out as a keyed hash unless CERT staff chose
    # to publish them in clear (audited).
    publish_clear: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    reason: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    confidence: Mapped[int] = mapped_column(Integer, nullable=False, default=50)
    reporter_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    first_seen = mapped_column(UTCDateTime, nullable=False)
    last_seen = mapped_column(UTCDateTime, nullable=False)
    valid_from = mapped_column(UTCDateTime, nullable=False)
    valid_until = mapped_column(UTCDateTime, nullable=False)
    created = mapped_column(UTCDateTime, nullable=False)  # STIX created of the report
    modified = mapped_column(UTCDateTime, nullable=False)  # STIX modified of the current version
    revoked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # True while the current version still has to be written into its collections.
    publish_due: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    published_at = mapped_column(UTCDateTime)
    published_targets = mapped_column(JSONText, nullable=False, default=list)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at = mapped_column(UTCDateTime)
    # Why and since when a warning that was approved (or going out) is a draft again: new
    # reports changed it, and the approver should not be left guessing.
    redraft_reason: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    redraft_at = mapped_column(UTCDateTime)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    owner = relationship("Organization", foreign_keys=[owner_org_id])
    sources = relationship("WarningSource", back_populates="warning", cascade="all, delete-orphan",
                           order_by="WarningSource.id")

    def __repr__(self) -> str:
        return f"<EarlyWarning {self.id} {self.observable_type} {self.observable_value} {self.audience} {self.state}>"


class WarningSource(Model):
    """A report that contributed to a warning (kept private: never part of the warning's STIX)."""

    __tablename__ = "warning_sources"
    __table_args__ = (
        UniqueConstraint("warning_id", "incident_id", name="uq_warning_sources"),
        Index("ix_warning_sources_incident", "incident_id"),
        # Routing a later sighting reads the active sources per (organization, TLP) from this
        # index alone, however many sightings the warning has (lifecycle.active_sources).
        Index("ix_warning_sources_routing", "warning_id", "withdrawn", "org_id", "tlp", "seen_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id", ondelete="CASCADE"), nullable=False)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), nullable=False)
    tlp: Mapped[str] = mapped_column(String(16), nullable=False)
    seen_at = mapped_column(UTCDateTime, nullable=False)
    withdrawn: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)  # false positive

    warning = relationship("EarlyWarning", back_populates="sources")
    organization = relationship("Organization")


class ObservableHash(Model):
    """The keyed hash of a personal value a warning is about, under each configured key: a
    member's lookup by hash is one indexed read, however many warnings there are
    (early_warning/hash_index.py)."""

    __tablename__ = "observable_hashes"

    value_hmac: Mapped[str] = mapped_column(String(120), primary_key=True)  # hmac-sha256:<key id>:<hex>
    observable_type: Mapped[str] = mapped_column(String(32), nullable=False)
    observable_value: Mapped[str] = mapped_column(String(2048), nullable=False)


class FeedState(Model):
    """Where each partner feed stopped: the TAXII ``added_after`` cursor (or MISP event stamps)."""

    __tablename__ = "feed_states"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(String(64))
    seen = mapped_column(JSONText, nullable=False, default=dict)  # MISP: event uuid -> timestamp
    last_run_at = mapped_column(UTCDateTime)
    last_success_at = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    objects_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
