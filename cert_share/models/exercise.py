"""Drills: an exercise, its participants, the injects of its scenario, and how participants
responded (acknowledgements and exercise reports).

Exercise data lives in these tables and in the exercise's own TAXII collection (kind
``exercise``), never in the real ones: an exercise report is not an incident, an inject is not
an early warning, so correlation, warnings, metrics, deadlines and the transparency report, which
read only the real tables, cannot see a drill. Deleting an exercise deletes these rows (cascade),
its collection's objects and polls, and its mail (``outbox.exercise_id``).
"""
from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import Model
from .types import BigIntPK, JSONText, UTCDateTime

EXERCISE_OPEN = "open"
EXERCISE_CLOSED = "closed"


class Exercise(Model):
    __tablename__ = "exercises"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # The collection alias is exercise-<slug>; a slug is unique among existing exercises.
    slug: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    state: Mapped[str] = mapped_column(String(12), nullable=False, default=EXERCISE_OPEN)  # open | closed
    starts_at = mapped_column(UTCDateTime, nullable=False)
    ends_at = mapped_column(UTCDateTime, nullable=False)
    collection_id: Mapped[str | None] = mapped_column(ForeignKey("collections.id"))
    created_by: Mapped[str] = mapped_column(String(300), nullable=False)
    created_by_user_id: Mapped[int | None] = mapped_column(Integer)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    closed_at = mapped_column(UTCDateTime)
    # The results as they stood when the exercise was closed (services/exercise_results.py):
    # what the after-action report shows from then on, whatever happens to the logs.
    frozen_results = mapped_column(JSONText)

    participants = relationship("ExerciseParticipant", cascade="all, delete-orphan", passive_deletes=True,
                                order_by="ExerciseParticipant.org_id")
    injects = relationship("ExerciseInject", back_populates="exercise", cascade="all, delete-orphan",
                           passive_deletes=True, order_by="ExerciseInject.number")
    collection = relationship("Collection")

    def __repr__(self) -> str:
        return f"<Exercise {self.id} {self.slug} {self.state}>"


class ExerciseParticipant(Model):
    __tablename__ = "exercise_participants"
    __table_args__ = (Index("ix_exercise_participants_org", "org_id", "exercise_id"),)

    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercises.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    added_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    organization = relationship("Organization")


class ExerciseInject(Model):
    """One step of the scenario, sent by ``run-exercises`` at ``due_at`` (the exercise's start
    plus ``offset_minutes``) to the exercise's collection and by mail."""

    __tablename__ = "exercise_injects"
    __table_args__ = (
        UniqueConstraint("exercise_id", "number", name="uq_exercise_injects_number"),
        # run-exercises: the injects due and not yet sent, oldest first.
        Index("ix_exercise_injects_due", "sent_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercises.id", ondelete="CASCADE"), nullable=False)
    number: Mapped[int] = mapped_column(Integer, nullable=False)  # 1, 2, ... in scenario order
    offset_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    due_at = mapped_column(UTCDateTime, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # warning | cooperation
    title: Mapped[str] = mapped_column(String(300), nullable=False)  # without the [EXERCISE] prefix
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # [{"type", "value", "display"}], normalized as a report's observables are.
    observables = mapped_column(JSONText, nullable=False, default=list)
    tlp: Mapped[str] = mapped_column(String(16), nullable=False)
    expect: Mapped[str] = mapped_column(String(16), nullable=False)  # acknowledge | report
    # The fictitious partner CERT a cooperation inject comes from.
    partner_name: Mapped[str | None] = mapped_column(String(200))
    # Staff confirmed values outside the documentation ranges (RFC 5737, RFC 3849, .example).
    confirmed_real_values: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # The inject's main STIX object (report-- for a warning, note-- for a cooperation request).
    stix_id: Mapped[str] = mapped_column(String(64), nullable=False)
    sent_at = mapped_column(UTCDateTime)

    exercise = relationship("Exercise", back_populates="injects")

    def __repr__(self) -> str:
        return f"<ExerciseInject {self.exercise_id}/{self.number} {self.kind} sent={self.sent_at}>"


class ExerciseAcknowledgement(Model):
    """A participant acknowledged an inject (its first acknowledgement counts)."""

    __tablename__ = "exercise_acknowledgements"

    inject_id: Mapped[int] = mapped_column(ForeignKey("exercise_injects.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(8), nullable=False)  # web | api
    acknowledged_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class ExerciseReport(Model):
    """A report a participant filed for the exercise, through the normal form or API with the
    exercise's id: validated as every report is, stored here and nowhere else."""

    __tablename__ = "exercise_reports"
    __table_args__ = (Index("ix_exercise_reports_exercise_org", "exercise_id", "org_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercises.id", ondelete="CASCADE"), nullable=False)
    # The inject it answers: named by the reporter, else the latest sent inject expecting a report.
    inject_id: Mapped[int | None] = mapped_column(ForeignKey("exercise_injects.id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), nullable=False)
    reporter_id: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # web | api
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    classification: Mapped[str] = mapped_column(String(80), nullable=False)
    severity: Mapped[str] = mapped_column(String(8), nullable=False)
    tlp: Mapped[str] = mapped_column(String(16), nullable=False)
    # The rest of the validated report (description, times, observables...), as JSON.
    details = mapped_column(JSONText, nullable=False, default=dict)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    organization = relationship("Organization")
