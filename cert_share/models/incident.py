"""Incident reports, their phase updates and the observables they carry."""
from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import Model
from ..vocab import IncidentStatus
from .types import BigIntPK, HostKey, JSONText, UTCDateTime

SOURCES = ("web", "api", "taxii", "import", "feed")


class Incident(Model):
    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("org_id", "external_id", name="uq_incidents_org_external_id"),
        Index("ix_incidents_created", "created_at", "id"),
        Index("ix_incidents_org_created", "org_id", "created_at"),
        Index("ix_incidents_status", "status"),
        # The staff queue (status, oldest first) and the severity filter of the reports page.
        Index("ix_incidents_queue", "status", "created_at"),
        Index("ix_incidents_severity_created", "severity", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), nullable=False)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    # Id in the system it came from (STIX incident id, MISP event uuid): re-imports are no-ops.
    external_id: Mapped[str | None] = mapped_column(String(128))
    stix_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    stix_modified = mapped_column(UTCDateTime, nullable=False)

    title: Mapped[str] = mapped_column(String(300), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    classification: Mapped[str] = mapped_column(String(80), nullable=False)  # RSIT "class/type"
    severity: Mapped[str] = mapped_column(String(8), nullable=False)
    tlp: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=IncidentStatus.NEW)
    detected_at = mapped_column(UTCDateTime, nullable=False)
    started_at = mapped_column(UTCDateTime)
    classified_at = mapped_column(UTCDateTime)
    affected_services: Mapped[str] = mapped_column(Text, nullable=False, default="")
    impact: Mapped[str] = mapped_column(Text, nullable=False, default="")
    cross_border = mapped_column(JSONText, nullable=False, default=list)  # ISO 3166 alpha-2 codes
    personal_data: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Source protection: the reporter's identity leaves the platform only with this opt-in.
    share_reporter: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    acknowledged_at = mapped_column(UTCDateTime)
    closed_at = mapped_column(UTCDateTime)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    organization = relationship("Organization")
    reporter = relationship("User", foreign_keys=[reporter_id])
    assignee = relationship("User", foreign_keys=[assignee_id])
    observables = relationship("Observable", back_populates="incident", cascade="all, delete-orphan",
                               order_by="Observable.id")
    updates = relationship("PhaseUpdate", back_populates="incident", cascade="all, delete-orphan",
                           order_by="PhaseUpdate.submitted_at")
    # CERT staff named on the case (besides the assignee): readers of a TLP:RED report.
    case_members = relationship("CaseMember", cascade="all, delete-orphan", passive_deletes=True,
                                order_by="CaseMember.added_at")


class PhaseUpdate(Model):
    """A reporting phase (NIS2 Art. 23 / DORA): notification, intermediate, final report."""

    __tablename__ = "phase_updates"
    __table_args__ = (Index("ix_phase_updates_incident", "incident_id", "submitted_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False)
    phase: Mapped[str] = mapped_column(String(16), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    details = mapped_column(JSONText, nullable=False, default=dict)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    incident = relationship("Incident", back_populates="updates")
    author = relationship("User")


class Observable(Model):
    """A normalized observable value seen in a report. ``stix_id`` is the SCO's deterministic id,
    so the same value reported by two organizations has the same ``stix_id``."""

    __tablename__ = "observables"
    __table_args__ = (
        Index("ix_observables_type_value", "type", "value"),
        Index("ix_observables_stix_created", "stix_id", "created_at"),
        Index("ix_observables_ip", "ip_hex"),
        Index("ix_observables_incident", "incident_id"),
        Index("ix_observables_host", "host_rev"),
        # A member's search (policy.observable_read_scope): its organization's share of each index.
        Index("ix_observables_org_ip", "org_id", "ip_hex"),
        Index("ix_observables_org_host", "org_id", "host_rev"),
        Index("ix_observables_org_type_value", "org_id", "type", "value"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), nullable=False)
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    value: Mapped[str] = mapped_column(String(2048), nullable=False)
    display_value: Mapped[str] = mapped_column(String(2048), nullable=False)
    stix_id: Mapped[str] = mapped_column(String(64), nullable=False)
    indicator_id: Mapped[str | None] = mapped_column(String(64))
    ip_hex: Mapped[str | None] = mapped_column(String(32))  # single addresses, for asset matching
    host_rev: Mapped[str | None] = mapped_column(HostKey)  # stix.observables.host_key: "under a domain"
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    incident = relationship("Incident", back_populates="observables")
