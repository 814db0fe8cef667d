"""What CERT staff read about cooperation in the workspace: the queue of requests in both
directions, the partners a request can go to, and how many partners' requests wait for us.

Reads only; opening, acknowledging and answering are services/cooperation.py. Everything here
is for CERT staff (the callers check, as cooperation.list_requests does itself).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..actor import Actor
from ..clock import utcnow
from ..database import DbSession
from ..models import CooperationRequest, Organization
from ..vocab import CooperationState
from . import cooperation

# An incoming request waits for us until it is answered (acknowledged ones still want an answer).
AWAITING_US = (CooperationState.RECEIVED, CooperationState.ACKNOWLEDGED, CooperationState.OVERDUE)


@dataclass(frozen=True)
class QueueRow:
    request: CooperationRequest
    overdue: bool  # due date passed and still open (the overdue job may not have run yet)
    age: timedelta
    undelivered: int = 0  # dead deliveries waiting for a resend


@dataclass(frozen=True)
class CooperationQueue:
    direction: str
    state: str | None
    rows: list[QueueRow]
    awaiting: int  # incoming requests waiting for our acknowledgement or answer


# The rule is the service's: open, and marked overdue or past its due date.
is_overdue = cooperation.is_overdue


def queue(session: DbSession, actor: Actor, *, direction: str = "incoming", state: str | None = None,
          now: datetime | None = None) -> CooperationQueue:
    """One direction's requests, newest first, optionally in one state; InputError for an unknown
    direction or state (from cooperation.list_requests)."""
    now = now or utcnow()
    rows = cooperation.list_requests(session, actor, direction=direction, state=state)
    dead = cooperation.undelivered(session, [r.id for r in rows])
    return CooperationQueue(direction, state, [QueueRow(r, is_overdue(r, now), now - r.created_at, dead.get(r.id, 0))
                                               for r in rows], awaiting_count(session, actor))


def awaiting_count(session: DbSession, actor: Actor) -> int:
    """Partners' requests not yet answered that ``actor`` may read: the workspace navigation's count."""
    return session.execute(select(func.count()).select_from(CooperationRequest).where(
        CooperationRequest.direction == "incoming", CooperationRequest.state.in_(AWAITING_US),
        cooperation.readable(actor))).scalar_one()


def active_partners(session: DbSession) -> list[tuple[Organization, str | None]]:
    """Active partner CERTs by name, each with how it is reached ("taxii", "email" or None)."""
    partners = session.execute(select(Organization).where(Organization.kind == "partner",
                                                          Organization.active.is_(True))
                               .order_by(Organization.name)).scalars()
    return [(p, cooperation.channel_of(p)) for p in partners]
