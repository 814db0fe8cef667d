"""Running a job once: claim its time slot in ``job_runs``, run it, record the outcome.

The unique (job, slot_start) key is the last line of defence: if two schedulers ever ran at
once, only the one whose INSERT wins runs the slot. Slots are aligned to the Unix epoch, so
every instance computes the same slot for the same moment.
"""
from __future__ import annotations

import logging
import traceback
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ..clock import utcnow
from ..database import DbSession
from ..models import JobRun
from ..vocab import JobRunStatus
from .registry import Job

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def slot_start(now: datetime, interval_minutes: float) -> datetime:
    """Start of the interval-long slot that contains ``now`` (aligned to the epoch, whole µs)."""
    width_us = max(1, round(interval_minutes * 60 * 1_000_000))
    elapsed_us = (now - EPOCH) // timedelta(microseconds=1)
    return EPOCH + timedelta(microseconds=elapsed_us - elapsed_us % width_us)


def claim_slot(session: DbSession, job_name: str, slot: datetime, *, holder: str, trigger: str = "schedule",
               now: datetime | None = None) -> JobRun | None:
    """Insert the run row for (job, slot); None if somebody already has it. Commits."""
    run = JobRun(job=job_name, slot_start=slot, trigger=trigger, holder=holder[:100], status=JobRunStatus.RUNNING,
                 started_at=now or utcnow())
    session.add(run)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    return run


def run_job(session: DbSession, job: Job, *, now: datetime, holder: str, slot: datetime | None = None,
            trigger: str = "schedule", keep_days: float | None = 30) -> JobRun | None:
    """Claim the slot and run the job in it. Returns the finished run, or None if the slot was taken.

    A manual run (trigger "manual") claims the exact moment as its slot, so it never collides
    with a scheduled one.
    """
    slot = now if slot is None else slot
    run = claim_slot(session, job.name, slot, holder=holder, trigger=trigger, now=now)
    if run is None:
        log.info("job %s: slot %s already claimed elsewhere; skipped", job.name, slot.isoformat())
        return None
    run_id = run.id
    summary: str | None
    error: str | None
    try:
        summary = job.fn(session, now)
    except Exception as exc:  # a failing job is recorded and logged; the scheduler carries on
        session.rollback()
        log.exception("job %s failed", job.name)
        status, summary, error = JobRunStatus.FAILED, None, "".join(traceback.format_exception_only(exc)).strip()
    else:
        session.commit()  # a job that forgot to commit still has its work kept
        status, error = JobRunStatus.OK, None
    run = session.get_one(JobRun, run_id)
    run.status, run.summary, run.error, run.finished_at = status, summary, error, utcnow()
    if keep_days:
        # A job every minute is half a million rows a year; slots that old need no guarding.
        session.execute(delete(JobRun).where(JobRun.job == job.name,
                                             JobRun.started_at < now - timedelta(days=keep_days)))
    session.commit()
    log.info("job %s (%s): %s", job.name, status, summary if error is None else error)
    return run


def last_run(session: DbSession, job_name: str) -> JobRun | None:
    """The most recent run of a job (scheduled or manual), if any."""
    return session.execute(select(JobRun).where(JobRun.job == job_name)
                           .order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(1)).scalar_one_or_none()
