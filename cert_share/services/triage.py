"""Triage by CERT staff: status workflow, assignee, internal notes, links and merges of duplicate
reports, cross-border cooperation. Every change is audited in the transaction that makes it.

Status workflow (``TRANSITIONS``)::

    new ──► acknowledged ──► investigating ──► closed
     │           │                 │              │ (reopen)
     │           └────────────┬────┘◄─────────────┘
     └────────────────────────┴──► false-positive ──► acknowledged (reopen)

``acknowledged_at`` is set the first time a report leaves "new" and never moves afterwards (it is
what "time to acknowledge" measures); ``closed_at`` is set on closed / false-positive and
cleared on reopening. Internal notes, links and cooperation records live in the CERT's case file
(models/case.py): no member-facing schema, page or STIX object reads them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext
from marshmallow import ValidationError
from sqlalchemy import select

from .. import policy
from ..actor import Actor
from ..clock import utcnow
from ..database import DbSession
from ..early_warning.lifecycle import restore_for_incident, revoke_for_incident
from ..errors import Conflict, InputError, NotFound, PermissionDenied
from ..limits import MAX_NOTE, MAX_PARTNER_CERT_NAME, MAX_PARTNER_CERTS
from ..models import CaseLink, CaseNote, Cooperation, Incident, User
from ..models.case import LINK_KINDS
from ..params import id_from_text
from ..schemas.fields import clean_text
from ..store import audit
from ..vocab import END_STATUSES, INCIDENT_STATUSES, IncidentStatus, countries
from . import deadline_tracking

_STAFF_ONLY = "triage is for CERT staff only"

TRANSITIONS: dict[str, frozenset[str]] = {
    IncidentStatus.NEW: frozenset({IncidentStatus.ACKNOWLEDGED, IncidentStatus.FALSE_POSITIVE}),
    IncidentStatus.ACKNOWLEDGED: frozenset({IncidentStatus.INVESTIGATING, IncidentStatus.CLOSED,
                                            IncidentStatus.FALSE_POSITIVE}),
    IncidentStatus.INVESTIGATING: frozenset({IncidentStatus.CLOSED, IncidentStatus.FALSE_POSITIVE}),
    IncidentStatus.CLOSED: frozenset({IncidentStatus.INVESTIGATING}),
    IncidentStatus.FALSE_POSITIVE: frozenset({IncidentStatus.ACKNOWLEDGED}),
}


def allowed_transition(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def check_transition(current: str, new: str) -> None:
    if new not in INCIDENT_STATUSES:
        raise InputError(gettext("status must be one of %(incident_statuses)s",
                                 incident_statuses=', '.join(INCIDENT_STATUSES)), field="status")
    if new == current:
        return
    if not allowed_transition(current, new):
        allowed = ", ".join(sorted(TRANSITIONS.get(current, ()))) or "none"
        raise Conflict(gettext("a %(current)s report cannot become %(new)s; allowed next: %(allowed)s",
                               current=current, new=new, allowed=allowed),
                       errors={"status": [f"not allowed from {current}"]})



def _require_reader(actor: Actor, *incidents: Incident) -> None:
    for incident in incidents:
        if not policy.can_read_incident(actor, incident):
            raise PermissionDenied(gettext("report #%(id)s is TLP:RED and you are not named on the case",
                                           id=incident.id))


def _apply_status(session: DbSession, incident: Incident, status: str, actor: Actor, now: datetime) -> bool:
    check_transition(incident.status, status)
    if status == incident.status:
        return False
    previous = incident.status
    incident.status = status
    if previous == IncidentStatus.NEW and incident.acknowledged_at is None:
        incident.acknowledged_at = now
    if status in END_STATUSES:
        incident.closed_at = now
    elif previous in END_STATUSES:
        incident.closed_at = None
    audit.record(session, actor, "incident.status", "incident", incident.id, **{"from": previous, "to": status})
    if status == IncidentStatus.FALSE_POSITIVE:  # the report no longer counts in the warnings it raised
        revoke_for_incident(session, incident, actor)
    elif previous == IncidentStatus.FALSE_POSITIVE:  # reopened: it counts again
        restore_for_incident(session, incident, actor)
    return True


def _staff_user(session: DbSession, assignee: Any) -> User | None:
    if assignee in (None, ""):
        return None
    user: User | None
    if isinstance(assignee, User):
        user = assignee
    else:
        text = str(assignee).strip()
        user_id = id_from_text(text)
        if user_id is not None:
            user = session.get(User, user_id)
        else:
            user = session.execute(select(User).where(User.email == text.lower())).scalar_one_or_none()
    if user is None or not user.active:
        raise InputError(gettext("no active user %(assignee)r", assignee=assignee), field="assignee")
    if not policy.is_cert_staff_account(user):
        raise InputError(gettext("%(email)s is not CERT staff and cannot be assigned",
                                 email=user.email), field="assignee")
    return user


def _countries(values: Any, field: str) -> list[str]:
    if not isinstance(values, (list, tuple)):
        raise InputError(gettext("must be a list of ISO 3166-1 alpha-2 country codes"), field=field)
    known = countries()
    out = set()
    for value in values:
        code = str(value).strip().upper() if isinstance(value, str) else None
        if code not in known:
            raise InputError(gettext("%(value)r is not an ISO 3166-1 alpha-2 country code", value=value), field=field)
        out.add(code)
    return sorted(out)


def _partner_certs(values: Any) -> list[str]:
    if not isinstance(values, (list, tuple)) or len(values) > MAX_PARTNER_CERTS:
        raise InputError(gettext("must be a list of at most %(max_partner_certs)s names",
                                 max_partner_certs=MAX_PARTNER_CERTS), field="partner_certs")
    out = []
    for value in values:
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_PARTNER_CERT_NAME:
            raise InputError(gettext("each partner CERT is a non-blank name of at most %(max_partner_cert_name)s "
                                     "characters", max_partner_cert_name=MAX_PARTNER_CERT_NAME),
                             field="partner_certs")
        if value.strip() not in out:
            out.append(value.strip())
    return out


@dataclass
class CaseChanges:
    """What one triage request asks for (every field optional)."""

    status: str | None = None
    assignee: Any = ...  # ... = leave as is; None = unassign
    note: str | None = None
    cooperation: dict | None = None  # {"countries": [...], "partner_certs": [...]} or {} to clear


def update_case(session: DbSession, incident: Incident, changes: CaseChanges, *, actor: Actor,
                now: datetime | None = None) -> Incident:
    """Apply a triage request in one transaction: all of it, or (on bad input) none of it."""
    policy.require_cert_staff(actor, _STAFF_ONLY)
    assign_only = changes.status is None and changes.note is None and changes.cooperation is None
    if not (assign_only and policy.can_name_case_staff(actor, incident)):
        # The duty officer assigns a TLP:RED report without reading it; everything else needs reading.
        _require_reader(actor, incident)
    now = now or utcnow()
    try:
        changed = False
        if changes.status is not None:
            changed |= _apply_status(session, incident, changes.status, actor, now)
        if changes.assignee is not ...:
            user = _staff_user(session, changes.assignee)
            new_id = user.id if user else None
            if new_id != incident.assignee_id:
                incident.assignee_id = new_id
                incident.assignee = user
                audit.record(session, actor, "incident.assign", "incident", incident.id,
                             assignee=user.email if user else None)
                changed = True
        if changes.note is not None:
            _add_note(session, incident, changes.note, actor, now)
        if changes.cooperation is not None:
            changed |= _set_cooperation(session, incident, changes.cooperation, actor, now)
        if changed:
            incident.updated_at = now
        if changes.status is not None:
            deadline_tracking.track(session, incident)  # false-positive owes nothing; reopening owes again
        session.commit()
    except Exception:
        session.rollback()
        raise
    return incident


def apply_request(session: DbSession, incident: Incident, data: dict, *, actor: Actor) -> Incident:
    """A triage request (IncidentTriageSchema output): case changes, then a merge or link.
    Bad input in the case changes stores nothing; merge/link run after them, each atomic."""
    policy.require_cert_staff(actor, _STAFF_ONLY)
    targets = {}
    for key in ("merge_into", "link"):
        if key in data:
            other = session.get(Incident, data[key])
            if other is None:
                raise InputError(gettext("no incident %(incident_id)s", incident_id=data[key]), field=key)
            _require_reader(actor, other)
            targets[key] = other
    cooperation = data.get("cooperation", None)
    if "cooperation" in data and cooperation is None:
        cooperation = {}
    changes = CaseChanges(status=data.get("status"), assignee=data.get("assignee", ...), note=data.get("note"),
                          cooperation=cooperation)
    if "merge_into" in targets:
        # Validate the merge before changing anything, so a refused merge leaves no half-done request.
        _check_merge(session, incident, targets["merge_into"])
    update_case(session, incident, changes, actor=actor)
    if "merge_into" in targets:
        merge(session, incident, targets["merge_into"], actor=actor)
    if "link" in targets:
        link(session, incident, targets["link"], actor=actor)
    return incident


def set_status(session: DbSession, incident: Incident, status: str, *, actor: Actor,
               now: datetime | None = None) -> Incident:
    return update_case(session, incident, CaseChanges(status=status), actor=actor, now=now)


def assign(session: DbSession, incident: Incident, assignee: Any, *, actor: Actor) -> Incident:
    return update_case(session, incident, CaseChanges(assignee=assignee), actor=actor)


def add_note(session: DbSession, incident: Incident, body: str, *, actor: Actor) -> CaseNote:
    policy.require_cert_staff(actor, _STAFF_ONLY)
    _require_reader(actor, incident)
    note = _add_note(session, incident, body, actor, utcnow())
    session.commit()
    return note


def _add_note(session: DbSession, incident: Incident, body: str, actor: Actor, now: datetime) -> CaseNote:
    if not isinstance(body, str):
        raise InputError(gettext("a note is text"), field="note")
    try:
        text = clean_text(body, multiline=True)
    except ValidationError as exc:
        raise InputError(gettext("note %(problem)s", problem=exc.messages[0]), field="note") from None
    if not text:
        raise InputError(gettext("a note must not be blank"), field="note")
    if len(text) > MAX_NOTE:
        raise InputError(gettext("a note is at most %(max_note)s characters long", max_note=MAX_NOTE), field="note")
    note = CaseNote(incident_id=incident.id, author_id=actor.user.id if actor.user else None,
                    author_label=actor.label, body=text, created_at=now)
    session.add(note)
    session.flush()
    # The note's text stays out of the audit log: the log is exported, notes are internal.
    audit.record(session, actor, "incident.note", "incident", incident.id, note_id=note.id)
    return note


def set_cooperation(session: DbSession, incident: Incident, data: dict, *, actor: Actor) -> Incident:
    return update_case(session, incident, CaseChanges(cooperation=data), actor=actor)


def _set_cooperation(session: DbSession, incident: Incident, data: dict, actor: Actor, now: datetime) -> bool:
    if not isinstance(data, dict) or set(data) - {"countries", "partner_certs"}:
        raise InputError(gettext("cooperation is an object with countries and partner_certs"), field="cooperation")
    row = cooperation_of(session, incident)
    if not data or (not data.get("countries") and not data.get("partner_certs")):
        if row is None:
            return False
        session.delete(row)
        audit.record(session, actor, "incident.cooperation", "incident", incident.id, cleared=True)
        return True
    codes = _countries(data.get("countries", []), "cooperation.countries")
    certs = _partner_certs(data.get("partner_certs", []))
    if row is None:
        row = Cooperation(incident_id=incident.id, countries=codes, partner_certs=certs, created_at=now,
                          updated_at=now)
        session.add(row)
    elif row.countries == codes and row.partner_certs == certs:
        return False
    else:
        row.countries, row.partner_certs, row.updated_at = codes, certs, now
    audit.record(session, actor, "incident.cooperation", "incident", incident.id, countries=codes,
                 partner_certs=certs)
    return True


def cooperation_of(session: DbSession, incident: Incident) -> Cooperation | None:
    return session.execute(select(Cooperation).where(Cooperation.incident_id == incident.id)).scalar_one_or_none()


def _root(session: DbSession, incident: Incident) -> Incident:
    seen = {incident.id}
    while incident.merged_into_id is not None:
        incident = session.get_one(Incident, incident.merged_into_id)
        if incident.id in seen:  # pragma: no cover - merge() never creates a cycle
            break
        seen.add(incident.id)
    return incident


def link(session: DbSession, incident: Incident, other: Incident, *, actor: Actor,
         kind: str = "related") -> CaseLink:
    """Link two reports (both directions are found by the case page)."""
    policy.require_cert_staff(actor, _STAFF_ONLY)
    _require_reader(actor, incident, other)
    if kind not in LINK_KINDS:
        raise InputError(gettext("kind must be one of %(link_kinds)s", link_kinds=', '.join(LINK_KINDS)), field="kind")
    if incident.id == other.id:
        raise InputError(gettext("a report cannot be linked to itself"), field="other")
    existing = session.execute(select(CaseLink).where(
        ((CaseLink.incident_id == incident.id) & (CaseLink.other_id == other.id))
        | ((CaseLink.incident_id == other.id) & (CaseLink.other_id == incident.id)))).scalar_one_or_none()
    if existing is not None:
        return existing
    row = CaseLink(incident_id=incident.id, other_id=other.id, kind=kind, created_by=actor.label, created_at=utcnow())
    session.add(row)
    audit.record(session, actor, "incident.link", "incident", incident.id, other=other.id, kind=kind)
    session.commit()
    return row


def _check_merge(session: DbSession, duplicate: Incident, into: Incident) -> Incident:
    if duplicate.id == into.id:
        raise InputError(gettext("a report cannot be merged into itself"), field="merge_into")
    if duplicate.merged_into_id is not None:
        raise Conflict(gettext("report %(id)s is already merged into #%(merged_into_id)s",
                               id=duplicate.id, merged_into_id=duplicate.merged_into_id))
    survivor = _root(session, into)
    if survivor.id == duplicate.id:
        raise Conflict(gettext("report %(id)s is itself merged into %(duplicate_id)s; merging back would loop",
                               id=into.id, duplicate_id=duplicate.id))
    return survivor


def merge(session: DbSession, duplicate: Incident, into: Incident, *, actor: Actor) -> Incident:
    """Merge ``duplicate`` into ``into``: the duplicate is closed, points at the survivor and owes
    no further reporting phases; both stay readable by their own organizations."""
    policy.require_cert_staff(actor, _STAFF_ONLY)
    _require_reader(actor, duplicate, into)
    survivor = _check_merge(session, duplicate, into)
    _require_reader(actor, survivor)
    now = utcnow()
    duplicate.merged_into_id = survivor.id
    if duplicate.status not in END_STATUSES:
        previous = duplicate.status
        duplicate.status = IncidentStatus.CLOSED
        if duplicate.acknowledged_at is None:
            duplicate.acknowledged_at = now
        duplicate.closed_at = now
        audit.record(session, actor, "incident.status", "incident", duplicate.id,
                     **{"from": previous, "to": IncidentStatus.CLOSED, "reason": "merged"})
    duplicate.updated_at = now
    existing = session.execute(select(CaseLink).where(CaseLink.incident_id == duplicate.id,
                                                      CaseLink.other_id == survivor.id)).scalar_one_or_none()
    if existing is None:
        session.add(CaseLink(incident_id=duplicate.id, other_id=survivor.id, kind="duplicate",
                             created_by=actor.label, created_at=now))
    else:
        existing.kind = "duplicate"
    audit.record(session, actor, "incident.merge", "incident", duplicate.id, into=survivor.id)
    deadline_tracking.track(session, duplicate)  # a merged duplicate owes no more phases
    session.commit()
    return survivor


def linked_reports(session: DbSession, incident: Incident) -> list[tuple[CaseLink, Incident]]:
    rows = session.execute(select(CaseLink).where(
        (CaseLink.incident_id == incident.id) | (CaseLink.other_id == incident.id)).order_by(CaseLink.id)).scalars()
    out = []
    for row in rows:
        other_id = row.other_id if row.incident_id == incident.id else row.incident_id
        out.append((row, session.get_one(Incident, other_id)))  # the link goes with either report (CASCADE)
    return out


def notes(session: DbSession, incident: Incident) -> list[CaseNote]:
    return list(session.execute(select(CaseNote).where(CaseNote.incident_id == incident.id)
                                .order_by(CaseNote.created_at, CaseNote.id)).scalars())


def get_incident(session: DbSession, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(gettext("no incident %(incident_id)s", incident_id=incident_id))
    return incident
