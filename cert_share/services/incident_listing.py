"""Reading reports for people: listing and fetching, always through the policy module."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import policy
from ..actor import Actor
from ..database import DbSession
from ..errors import NotFound, PermissionDenied
from ..models import Incident


def readable_incident(session: DbSession, actor: Actor, incident_id: int) -> Incident:
    """The report if ``actor`` may read it. Otherwise NotFound, exactly as if it did not exist —
    except for CERT staff, who see every report's existence: a TLP:RED report they are not named
    on answers PermissionDenied, saying who can grant access."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident {incident_id}")
    if not policy.can_read_incident(actor, incident):
        if policy.can_see_case_summary(actor, incident):
            raise PermissionDenied(f"report #{incident.id} is TLP:RED: only the CERT staff named on the case "
                                   "read it; the duty officer (cert-admin) or someone named on it can name you")
        raise NotFound(f"no incident {incident_id}")
    return incident


def case_summary(session: DbSession, actor: Actor, incident_id: int) -> Incident:
    """The report for its summary (existence, not content): any report CERT staff may see exists.
    Callers show only the fields ``policy.can_see_case_summary`` names."""
    incident = session.get(Incident, incident_id)
    if incident is None or not policy.can_see_case_summary(actor, incident):
        raise NotFound(f"no incident {incident_id}")
    return incident


def list_incidents(session: DbSession, actor: Actor, *, before: int | None = None,
                   limit: int = 25) -> tuple[list[Incident], bool]:
    """Newest first, keyset-paged by id: (page, more). Only what ``actor`` may read: members get
    their own organization's reports; CERT staff every report but the TLP:RED ones they are not
    named on."""
    # Each report's organization comes in the same query (every page names it): a separate
    # SELECT would be one more round trip per page.
    query = (select(Incident).options(joinedload(Incident.organization, innerjoin=True))
             .where(policy.incident_read_filter(actor))
             .order_by(Incident.id.desc()).limit(limit + 1))
    if before is not None:
        query = query.where(Incident.id < before)
    rows = list(session.execute(query).scalars())
    return rows[:limit], len(rows) > limit
