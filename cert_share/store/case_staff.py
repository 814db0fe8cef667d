"""Which CERT staff a report or warning reaches: the named readers of a TLP:RED report and the
mail audience of a report (alerts, reminders). Reads only; policy decides each person, and
services.case_access names and removes staff."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from .. import policy
from ..actor import actor_for_user
from ..database import DbSession
from ..models import EarlyWarning, Incident, User
from ..models.user import CERT_ROLES


def red_sources(session: DbSession, warning: EarlyWarning) -> list[Incident]:
    """The TLP:RED reports a warning was raised from (policy.can_read_case_warning)."""
    ids = [s.incident_id for s in warning.sources if s.tlp == policy.NEED_TO_KNOW_TLP]
    return list(session.execute(select(Incident).where(Incident.id.in_(ids))).scalars()) if ids else []


@dataclass(frozen=True)
class StaffRecipient:
    address: str
    reads_content: bool  # False: may only be told that the report exists (to assign it)
    user_id: int | None = None  # whose preferences (mail/preferences.py) the message follows


def active_staff(session: DbSession) -> list[User]:
    """Active CERT staff (cert-analyst, cert-admin) by e-mail address: the workspace's staff lists
    and the candidates for every staff e-mail."""
    return list(session.execute(select(User).where(User.role.in_(CERT_ROLES), User.active.is_(True))
                                .order_by(User.email)).scalars())


def staff_audience(session: DbSession, incident: Incident, exclude_user_id: int | None = None,
                   staff: list[User] | None = None) -> list[StaffRecipient]:
    """CERT staff to e-mail about a report: those who may read it get its content; of the others,
    the ones who may assign it (the duty officer) hear only that it exists; the rest hear nothing.
    ``staff``: active_staff(), when the caller asks about many reports."""
    out = []
    for user in active_staff(session) if staff is None else staff:
        if user.id == exclude_user_id:
            continue
        reader = actor_for_user(user)
        if policy.can_read_incident(reader, incident):
            out.append(StaffRecipient(user.email, True, user.id))
        elif policy.can_name_case_staff(reader, incident):
            out.append(StaffRecipient(user.email, False, user.id))
    return out
