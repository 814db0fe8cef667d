"""The platform's running state in numbers, read from the database when Prometheus scrapes.

What lives in the database is counted there, not in a process: every worker and every node then
answers a scrape with the same figures, and a restart loses none of them. Each figure is one
GROUP BY over an index (outbox and deliveries by state, job runs by job and time, polls by time),
so a scrape costs a handful of index range scans whatever the tables' size:

- ``outbox``: messages waiting (pending, sending, digest) and dead letters, by state; sent and
  folded ones are history and not counted;
- ``outbox_oldest_due_seconds``: how long the longest-waiting pending message is past its due time
  (0 when none is due): send-mail falling behind, or SMTP refusing everything;
- ``deliveries``: cooperation deliveries to partner CERTs by state (pending, sending, dead);
- ``jobs``: per job, its runs in the last day by outcome, the failures since its last success and
  when it last succeeded (job_runs keeps 30 days);
- ``feeds``: per partner feed, whether its last pull failed and when one last succeeded;
- ``scheduler``: the holder of the scheduler lease while the lease is live (none: no scheduler);
- ``polls``: TAXII read requests served in the last day, per collection alias (every collection
  listed, 0 when nobody polled it).

A drill's mail (``outbox.exercise_id``) and its collection are left out of every figure: an
exercise must not move the platform's numbers, and its own results measure it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..database import DbSession
from ..models import Collection, FeedState, JobRun, OutboxMessage, PartnerDelivery, SchedulerLease, TaxiiPoll
from ..vocab import JobRunStatus, OutboxState

DAY = timedelta(days=1)
WAITING = (OutboxState.PENDING, OutboxState.SENDING, OutboxState.DIGEST, OutboxState.DEAD)
DELIVERY_STATES = (OutboxState.PENDING, OutboxState.SENDING, OutboxState.DEAD)
JOB_STATUSES = (JobRunStatus.OK, JobRunStatus.FAILED, JobRunStatus.RUNNING)


@dataclass
class JobFigures:
    runs_last_day: dict[str, int] = field(default_factory=lambda: {s: 0 for s in JOB_STATUSES})
    failures_since_success: int = 0
    last_success: datetime | None = None


@dataclass
class FeedFigures:
    failing: bool
    last_success: datetime | None


@dataclass
class Figures:
    outbox: dict[str, int]
    outbox_oldest_due_seconds: float
    deliveries: dict[str, int]
    jobs: dict[str, JobFigures]
    feeds: dict[str, FeedFigures]
    scheduler_holder: str | None
    polls_last_day: dict[str, int]


def read_figures(session: DbSession, *, now: datetime, job_names: list[str]) -> Figures:
    """Every figure above, read in one go (a few index scans). ``job_names``: the registered
    jobs, so that one that never ran is still listed."""
    return Figures(outbox=_by_state(session, OutboxMessage, WAITING),
                   outbox_oldest_due_seconds=_oldest_due_seconds(session, now),
                   deliveries=_by_state(session, PartnerDelivery, DELIVERY_STATES),
                   jobs=_jobs(session, now, job_names),
                   feeds={row.name: FeedFigures(failing=row.last_error is not None, last_success=row.last_success_at)
                          for row in session.execute(select(FeedState)).scalars()},
                   scheduler_holder=_scheduler_holder(session, now),
                   polls_last_day=_polls(session, now))


def _by_state(session: DbSession, model: type[OutboxMessage] | type[PartnerDelivery],
              states: tuple[str, ...]) -> dict[str, int]:
    counts = dict.fromkeys(states, 0)
    query = select(model.state, func.count()).where(model.state.in_(states))
    if model is OutboxMessage:
        query = query.where(OutboxMessage.exercise_id.is_(None))  # a drill's mail is no figure of the platform
    rows = session.execute(query.group_by(model.state))
    counts.update({state: count for state, count in rows})
    return counts


def _oldest_due_seconds(session: DbSession, now: datetime) -> float:
    oldest = session.execute(select(func.min(OutboxMessage.next_attempt_at))
                             .where(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.exercise_id.is_(None),
                                    OutboxMessage.next_attempt_at <= now)).scalar_one()
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


def _jobs(session: DbSession, now: datetime, job_names: list[str]) -> dict[str, JobFigures]:
    jobs = {name: JobFigures() for name in job_names}
    for job, status, count in session.execute(
            select(JobRun.job, JobRun.status, func.count()).where(JobRun.started_at >= now - DAY)
            .group_by(JobRun.job, JobRun.status)):
        jobs.setdefault(job, JobFigures()).runs_last_day[status] = count
    last_ok = (select(JobRun.job, func.max(JobRun.started_at).label("at"))
               .where(JobRun.status == JobRunStatus.OK).group_by(JobRun.job).subquery())
    for job, at in session.execute(select(last_ok.c.job, last_ok.c.at)):
        jobs.setdefault(job, JobFigures()).last_success = at
    # Failures after the job's last success (all of its kept runs when it never succeeded).
    failed = (select(JobRun.job, func.count())
              .outerjoin(last_ok, last_ok.c.job == JobRun.job)
              .where(JobRun.status == JobRunStatus.FAILED,
                     (last_ok.c.at.is_(None)) | (JobRun.started_at > last_ok.c.at))
              .group_by(JobRun.job))
    for job, count in session.execute(failed):
        jobs.setdefault(job, JobFigures()).failures_since_success = count
    return jobs


def _scheduler_holder(session: DbSession, now: datetime) -> str | None:
    lease = session.get(SchedulerLease, "scheduler")
    if lease is None or lease.holder is None or lease.expires_at is None or lease.expires_at <= now:
        return None
    return lease.holder


def _polls(session: DbSession, now: datetime) -> dict[str, int]:
    # A drill's collection comes and goes with its exercise: it is no series of the platform's.
    real = Collection.kind != "exercise"
    polls = {alias: 0 for alias in session.execute(select(Collection.alias).where(real)).scalars()}
    rows = session.execute(select(Collection.alias, func.count())
                           .join(TaxiiPoll, TaxiiPoll.collection_id == Collection.id)
                           .where(TaxiiPoll.polled_at >= now - DAY, real).group_by(Collection.alias))
    polls.update({alias: count for alias, count in rows})
    return polls
