"""The CERT's own working records on a report: internal notes, links between
duplicate or related reports, cross-border cooperation, deadline reminders already sent, and the
staff named on a case (who may read it when it is TLP:RED).

None of this is ever shown to members or put in STIX: it is the CERT's case file.
"""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import Model, db
from .types import BigIntPK, JSONText, UTCDateTime

LINK_KINDS = ("duplicate", "related")


class CaseNote(Model):
    """An internal note of CERT staff on a report. Never shared with the reporter or anyone else."""

    __tablename__ = "case_notes"
    __table_args__ = (Index("ix_case_notes_incident", "incident_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_label: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    author = relationship("User")


class CaseMember(Model):
    """A member of CERT staff named on a case. For a TLP:RED report this is what lets them read it
    (policy.can_read_incident); the assignee needs no row. Each naming is audited."""

    __tablename__ = "case_members"
    __table_args__ = (
        UniqueConstraint("incident_id", "user_id", name="uq_case_members_incident_user"),
        Index("ix_case_members_user", "user_id", "incident_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    added_by: Mapped[str] = mapped_column(String(300), nullable=False)
    added_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    user = relationship("User")


class CaseLink(Model):
    """``incident_id`` is linked to ``other_id``; kind "duplicate" when the first was merged
    into the second (Incident.merged_into_id then points at the survivor)."""

    __tablename__ = "case_links"
    __table_args__ = (
        UniqueConstraint("incident_id", "other_id", name="uq_case_links_pair"),
        Index("ix_case_links_other", "other_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False)
    other_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    created_by: Mapped[str] = mapped_column(String(300), nullable=False)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Cooperation(Model):
    """Cross-border cooperation on a report: the partner countries and partner CERTs contacted.
    One row per report; its existence is the flag counted in metrics and the transparency report."""

    __tablename__ = "cooperation_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False,
                                             unique=True)
    countries = mapped_column(JSONText, nullable=False, default=list)  # ISO 3166-1 alpha-2
    partner_certs = mapped_column(JSONText, nullable=False, default=list)  # free-text names
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class DeadlineReminder(Model):
    """A reminder already queued for an overdue phase: the unique key makes "never twice" a
    database guarantee, not a hope, even with two schedulers racing."""

    __tablename__ = "deadline_reminders"
    __table_args__ = (UniqueConstraint("incident_id", "phase", name="uq_deadline_reminders_phase"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False)
    phase: Mapped[str] = mapped_column(String(16), nullable=False)
    due_at = mapped_column(UTCDateTime, nullable=False)
    sent_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    recipients: Mapped[int] = mapped_column(Integer, nullable=False, default=0)



class PhaseDeadline(Model):
    """Each report's reporting deadlines as rows, kept in step with its phase updates and status
    (services/deadline_tracking.py), so "which phases are overdue now" is an index range scan
    instead of the rules run over every report. The rules (cert_share/deadlines.py) stay the truth:
    these rows are recomputed from them whenever a report, its phases or its status change."""

    __tablename__ = "phase_deadlines"
    __table_args__ = (
        UniqueConstraint("incident_id", "phase", name="uq_phase_deadlines_phase"),
        Index("ix_phase_deadlines_open_due", "is_open", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False)
    phase: Mapped[str] = mapped_column(String(16), nullable=False)
    regime: Mapped[str] = mapped_column(String(16), nullable=False)
    due_at = mapped_column(UTCDateTime, nullable=False)
    submitted_at = mapped_column(UTCDateTime)
    # Still owed: not submitted, and the report is not false-positive or merged.
    is_open: Mapped[bool] = mapped_column(db.Boolean, nullable=False)
