"""What a member organization's analyst sees first: the reporting phases their organization
still owes (most urgent first), the newest warnings they may read, their recent reports."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from .. import policy
from ..actor import Actor
from ..clock import utcnow
from ..database import DbSession
from ..early_warning.lifecycle import received_warnings
from ..early_warning.published import ReceivedWarning
from ..models import Incident, PhaseDeadline
from .incident_listing import list_incidents

DEADLINES = 10
WARNINGS = 5
RECENT = 5


@dataclass(frozen=True)
class OpenDeadline:
    """A phase still owed for one of the organization's reports."""

    incident: Incident
    phase: str
    due_at: datetime
    overdue: bool


@dataclass
class MemberHome:
    deadlines: list[OpenDeadline]  # the most urgent first: overdue, then soonest due
    deadlines_total: int
    overdue_total: int
    warnings: list[ReceivedWarning]  # newest first, as the member received them
    recent: list[Incident]
    more_recent: bool


def member_home(session: DbSession, actor: Actor, *, now: datetime | None = None) -> MemberHome:
    """The member home page's content, as ``actor`` may see it."""
    now = now or utcnow()
    deadlines, total, overdue = open_deadlines(session, actor, now=now, limit=DEADLINES)
    recent, more = list_incidents(session, actor, limit=RECENT)
    return MemberHome(deadlines=deadlines, deadlines_total=total, overdue_total=overdue,
                      warnings=received_warnings(session, actor, limit=WARNINGS), recent=recent, more_recent=more)


def open_deadlines(session: DbSession, actor: Actor, *, now: datetime | None = None,
                   limit: int = DEADLINES) -> tuple[list[OpenDeadline], int, int]:
    """(the ``limit`` most urgent open phases, how many are open, how many of them are overdue)
    among the reports ``actor`` may read, from the ``phase_deadlines`` rows (kept in step with
    the rules by deadline_tracking)."""
    now = now or utcnow()
    owed = (select(PhaseDeadline, Incident).join(Incident, Incident.id == PhaseDeadline.incident_id)
            .where(PhaseDeadline.is_open.is_(True), policy.incident_read_filter(actor)))
    rows = session.execute(owed.order_by(PhaseDeadline.due_at, PhaseDeadline.incident_id).limit(limit)).all()
    total, overdue = session.execute(
        owed.with_only_columns(func.count(), func.count().filter(PhaseDeadline.due_at < now))).one()
    shown = [OpenDeadline(incident=incident, phase=row.phase, due_at=row.due_at, overdue=now > row.due_at)
             for row, incident in rows]
    return shown, total, overdue
