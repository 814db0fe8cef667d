"""Scheduler bookkeeping: one row per job run claiming its time slot, and the lease row that
shows which scheduler instance is active.

``job_runs`` has a unique (job, slot_start): whoever inserts the row owns the slot, so even two
schedulers started by mistake never run the same slot twice.
"""
from __future__ import annotations

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import Model
from ..vocab import JobRunStatus
from .types import BigIntPK, UTCDateTime


class JobRun(Model):
    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job", "slot_start", name="uq_job_runs_job_slot"),
        Index("ix_job_runs_job_started", "job", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    job: Mapped[str] = mapped_column(String(64), nullable=False)
    slot_start = mapped_column(UTCDateTime, nullable=False)
    trigger: Mapped[str] = mapped_column(String(16), nullable=False, default="schedule")  # schedule | manual
    holder: Mapped[str] = mapped_column(String(100), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=JobRunStatus.RUNNING)
    started_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    finished_at = mapped_column(UTCDateTime)
    summary: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class SchedulerLease(Model):
    """Who holds the scheduler, for people and for SQLite set-ups without a lock file."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(100))
    heartbeat_at = mapped_column(UTCDateTime)
    expires_at = mapped_column(UTCDateTime)
