"""Who is named on a case: the CERT staff who may read a TLP:RED report (policy decides with
these rows). Naming and removing are audited in the transaction that makes them, and the mail
audience of a report (alerts, reminders) is drawn from the same rule."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import policy
from ..clock import utcnow
from ..errors import InputError, PermissionDenied
from ..models import CaseMember, EarlyWarning, Incident, User
from ..models.user import CERT_ROLES
from . import audit


def _require_namer(actor: audit.Actor, incident: Incident) -> None:
    if not policy.can_name_case_staff(actor, incident):
        raise PermissionDenied("only the duty officer (cert-admin) or the staff named on this case "
                               "may name staff on it")


def _staff(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.active or not user.is_cert_staff:
        raise InputError(f"no active CERT staff member {user_id}", field="user")
    return user


def name_staff(session: Session, incident: Incident, user_id: int, *, actor: audit.Actor) -> CaseMember | None:
    """Name a member of CERT staff on the case (they may then read it, TLP:RED included); commits.
    None when they were already named."""
    _require_namer(actor, incident)
    user = _staff(session, user_id)
    if any(m.user_id == user.id for m in incident.case_members):
        return None
    member = CaseMember(incident_id=incident.id, user_id=user.id, added_by=actor.label, added_at=utcnow())
    incident.case_members.append(member)
    audit.record(session, actor, "incident.name-staff", "incident", incident.id, user=user.email, tlp=incident.tlp)
    session.commit()
    return member


def remove_staff(session: Session, incident: Incident, user_id: int, *, actor: audit.Actor) -> bool:
    """Take a member of staff off the case (the assignee stays a reader while assigned); commits."""
    _require_namer(actor, incident)
    member = next((m for m in incident.case_members if m.user_id == user_id), None)
    if member is None:
        return False
    incident.case_members.remove(member)
    audit.record(session, actor, "incident.unname-staff", "incident", incident.id, user=member.user.email,
                 tlp=incident.tlp)
    session.commit()
    return True


def red_sources(session: Session, warning: EarlyWarning) -> list[Incident]:
    """The TLP:RED reports a warning was raised from (policy.can_read_case_warning)."""
    ids = [s.incident_id for s in warning.sources if s.tlp == policy.NEED_TO_KNOW_TLP]
    return list(session.execute(select(Incident).where(Incident.id.in_(ids))).scalars()) if ids else []


@dataclass(frozen=True)
class StaffRecipient:
    address: str
    reads_content: bool  # False: may only be told that the report exists (to assign it)


def active_staff(session: Session) -> list[User]:
    """Active CERT staff (cert-analyst, cert-admin) by e-mail address: the workspace's staff lists
    and the candidates for every staff e-mail."""
    return list(session.execute(select(User).where(User.role.in_(CERT_ROLES), User.active.is_(True))
                                .order_by(User.email)).scalars())


def staff_audience(session: Session, incident: Incident, exclude_user_id: int | None = None,
                   staff: list[User] | None = None) -> list[StaffRecipient]:
    """CERT staff to e-mail about a report: those who may read it get its content; of the others,
    the ones who may assign it (the duty officer) hear only that it exists; the rest hear nothing.
    ``staff``: active_staff(), when the caller asks about many reports."""
    out = []
    for user in active_staff(session) if staff is None else staff:
        if user.id == exclude_user_id:
            continue
        reader = audit.actor_for_user(user)
        if policy.can_read_incident(reader, incident):
            out.append(StaffRecipient(user.email, True))
        elif policy.can_name_case_staff(reader, incident):
            out.append(StaffRecipient(user.email, False))
    return out
