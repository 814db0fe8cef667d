"""Who is named on a case: the CERT staff who may read a TLP:RED report (policy decides with
these rows). Naming and removing are audited in the transaction that makes them, and the mail
audience of a report (alerts, reminders) is drawn from the same rule."""
from __future__ import annotations

from flask_babel import gettext

from .. import policy
from ..actor import Actor
from ..clock import utcnow
from ..database import DbSession
from ..errors import InputError, PermissionDenied
from ..models import CaseMember, Incident, User
from ..store import audit


def _require_namer(actor: Actor, incident: Incident) -> None:
    if not policy.can_name_case_staff(actor, incident):
        raise PermissionDenied(gettext("only the duty officer (cert-admin) or the staff named on this case may name "
                                       "staff on it"))


def _staff(session: DbSession, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.active or not policy.is_cert_staff_account(user):
        raise InputError(gettext("no active CERT staff member %(user_id)s", user_id=user_id), field="user")
    return user


def name_staff(session: DbSession, incident: Incident, user_id: int, *, actor: Actor) -> CaseMember | None:
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


def remove_staff(session: DbSession, incident: Incident, user_id: int, *, actor: Actor) -> bool:
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
