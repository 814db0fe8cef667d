"""Who may see what: the one place that decides (TLP 2.0 and membership).

Every read path — API, web pages, TAXII, e-mail — asks these functions; none decides alone.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .models import Incident
    from .services.audit import Actor


def can_read_incident(actor: "Actor", incident: "Incident") -> bool:
    """A raw report: its own organization, and the CERT. Nobody else, whatever its TLP."""
    if actor.is_cert:
        return True
    return actor.org_id is not None and actor.org_id == incident.org_id


def can_update_incident(actor: "Actor", incident: "Incident") -> bool:
    """Phase updates come from the reporting organization (or the CERT on its behalf)."""
    return can_read_incident(actor, incident)


def can_triage(actor: "Actor") -> bool:
    """Status, assignment, notes: CERT staff only."""
    return actor.is_cert
