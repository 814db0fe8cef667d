"""Reading reports for people: listing and fetching, always through the policy module."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .. import policy
from ..errors import NotFound
from ..models import Incident
from .audit import Actor


def readable_incident(session: Session, actor: Actor, incident_id: int) -> Incident:
    """The report if ``actor`` may read it; otherwise NotFound, exactly as if it did not exist."""
    incident = session.get(Incident, incident_id)
    if incident is None or not policy.can_read_incident(actor, incident):
        raise NotFound(f"no incident {incident_id}")
    return incident


def list_incidents(session: Session, actor: Actor, *, before: int | None = None,
                   limit: int = 25) -> tuple[list[Incident], bool]:
    """Newest first, keyset-paged by id: (page, more). Members get their own organization's
    reports only; CERT staff get every report."""
    query = (select(Incident).options(selectinload(Incident.organization))
             .order_by(Incident.id.desc()).limit(limit + 1))
    if not actor.is_cert:
        if actor.org_id is None:
            return [], False
        query = query.where(Incident.org_id == actor.org_id)
    if before is not None:
        query = query.where(Incident.id < before)
    rows = list(session.execute(query).scalars())
    return rows[:limit], len(rows) > limit
