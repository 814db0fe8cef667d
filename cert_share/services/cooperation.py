"""Cooperation requests between CERTs: opened from a case, received from a partner, acknowledged
and answered; every state change on the case timeline and in the audit log.

The rules, in one place:

* only CERT staff open, read, acknowledge or answer a request (members are refused);
* TLP:RED never leaves: neither a RED report nor a request marked RED. A request is marked at its
  report's TLP or stricter, and AMBER+STRICT leaves only when the staff member confirmed it;
* the reporter is replaced by the CERT's identity unless the member opted in (``share_reporter``);
* what leaves is frozen when the request is opened (the bundle on its delivery row): a retry
  sends exactly what the staff member saw, and the partner's TAXII server stores one version of
  each object however often it arrives;
* a partner's acknowledgement or answer is matched to our request by its refs and by who posted
  it; anything else is ignored and logged, never attached to a case.

States (vocab.CooperationState): outgoing ``queued → sent → acknowledged → answered``, incoming
``received → acknowledged → answered``, with ``failed`` and ``overdue`` beside them:

* ``failed``: the request itself could not be delivered (refused, or given up) before the partner
  acknowledged it. A dead acknowledgement or answer, or a dead request the partner has already
  acknowledged, leaves the state alone: the error is on the timeline and the delivery counts as
  ``undelivered`` until someone resends it (``resend``), which puts a failed request back to
  ``queued``;
* ``overdue``: the due date passed before the request was acknowledged. It fires once per request
  (``overdue_at`` is set then and never again). An acknowledged request whose due date passes keeps
  the state ``acknowledged`` with ``overdue_at`` set, and an acknowledgement after ``overdue``
  moves it to ``acknowledged`` keeping ``overdue_at``: ``is_overdue`` (the queue, the pages and the
  API's ``overdue``) is what says "late", for as long as the request is open.

Acknowledging, answering and resending lock the request's row (``_locked``: the writer lock on
SQLite, the row on PostgreSQL) and judge its state again once locked: two staff answering at once
send one answer. A partner's acknowledgement or answer and a delivery's outcome lock it the same
way; ``mark_overdue``, which reads many rows unlocked, writes each with a compare-and-set on the
state it read, so nothing committed meanwhile is overwritten. A request with ``answered_at`` set
takes no other answer, whatever its state says.

A resend, or a push of a request not yet delivered, never sends a frozen bundle whose report has
changed since (``report_changed``): TLP:RED now, stricter than the request, or the member no longer
shares its name that the bundle carries. What partners write is stored without control characters
(``partner_text``).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Iterable, cast

from flask_babel import gettext
from sqlalchemy import ColumnElement, CursorResult, func, or_, select, update
from sqlalchemy.orm import selectinload

from .. import policy
from ..actor import SYSTEM, Actor
from ..clock import utcnow
from ..database import DbSession
from ..errors import Conflict, InputError, NotFound
from ..limits import MAX_ANSWER_OBJECTS, MAX_COOPERATION_MESSAGE, MAX_REQUEST_PARTNERS
from ..models import CooperationRequest, Incident, Organization, PartnerDelivery
from ..stix import build, markings
from ..stix import cooperation as stix_coop
from ..stix.validate import InvalidObject, check_object
from ..store import audit
from ..store.organizations import cert_organization
from ..vocab import (
    COOPERATION_DIRECTIONS,
    COOPERATION_KINDS,
    COOPERATION_OPEN_STATES,
    COOPERATION_STATES,
    N_,
    TLP_LEVELS,
    OutboxState,
    strictest_tlp,
    tlp_label,
)
from ..vocab import (
    CooperationState as S,
)

# Re-exported: the routes are a cooperation question too (cooperation.channel_of).
from .partner_channels import channel_of as channel_of
from .partner_channels import contact_address as contact_address
from .partner_mail import mail_refusal

log = logging.getLogger(__name__)

NEVER_LEAVES = "red"
# Leaves only with the staff member's explicit confirmation (confirm_strict), whatever the route.
CONFIRM_TO_LEAVE = "amber+strict"
NO_CERT = N_("the operating CERT organization is not set up (cert-share org add --kind cert)")
# C0 control characters but tab and line feed: what a partner writes is stored and audited
# without them (PostgreSQL refuses NUL in any text; the others only garble pages and logs).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")


def partner_text(text: object) -> str:
    """Text a partner (its server, its mail server, its STIX) wrote, as we store and audit it:
    NUL and the other C0 control characters removed, tab and line feed kept."""
    return _CONTROL.sub("", text if isinstance(text, str) else str(text))


# ---- the partner directory's one question ----------------------------------------------------

def _partners(session: DbSession, slugs: object) -> list[Organization]:
    if not isinstance(slugs, (list, tuple)) or not slugs:
        raise InputError(gettext("choose at least one partner CERT"), field="partners")
    if len(slugs) > MAX_REQUEST_PARTNERS:
        raise InputError(gettext("at most %(max_request_partners)s partners per request",
                                 max_request_partners=MAX_REQUEST_PARTNERS), field="partners")
    found = []
    for slug in dict.fromkeys(slugs):
        if not isinstance(slug, str) or not slug:
            raise InputError(gettext("each partner is a partner CERT's slug"), field="partners")
        org = session.execute(select(Organization).where(Organization.slug == slug)).scalar_one_or_none()
        if org is None or org.kind != "partner":
            raise InputError(gettext("%(slug)r is not a partner CERT of this platform",
                                     slug=slug[:64]), field="partners")
        if not org.active:
            raise InputError(gettext("the partner CERT %(name)s is deactivated", name=org.name), field="partners")
        if channel_of(org) is None:
            raise InputError(gettext("the partner CERT %(name)s has neither a TAXII collection URL nor a contact "
                                     "address; set one (cert-share partner set, or the partners page) first",
                                     name=org.name),
                             field="partners")
        found.append(org)
    return found


# ---- opening requests from a case ------------------------------------------------------------

@dataclass(frozen=True)
class RequestInput:
    partners: list[str]
    kind: str
    message: str
    due_at: datetime
    tlp: str
    confirm_strict: bool = False


def _check_input(incident: Incident, data: RequestInput, now: datetime) -> str:
    """The request's TLP (lower case) once every rule holds; InputError naming the first broken one."""
    if data.kind not in COOPERATION_KINDS:
        raise InputError(gettext("kind must be one of %(cooperation_kinds)s",
                                 cooperation_kinds=', '.join(COOPERATION_KINDS)), field="kind")
    message = data.message.strip() if isinstance(data.message, str) else ""
    if not message:
        raise InputError(gettext("say what you ask the partner for"), field="message")
    if len(data.message) > MAX_COOPERATION_MESSAGE:
        raise InputError(gettext("the message is longer than %(max_cooperation_message)s characters",
                                 max_cooperation_message=MAX_COOPERATION_MESSAGE), field="message")
    if not isinstance(data.due_at, datetime) or data.due_at.tzinfo is None:
        raise InputError(gettext("due_at is a date and time with its zone"), field="due_at")
    if data.due_at <= now:
        raise InputError(gettext("the answer must be wanted by a time in the future"), field="due_at")
    tlp = data.tlp.lower() if isinstance(data.tlp, str) else ""
    if tlp not in TLP_LEVELS:
        raise InputError(gettext("tlp must be one of %(tlp_levels)s", tlp_levels=', '.join(TLP_LEVELS)), field="tlp")
    if tlp == NEVER_LEAVES or incident.tlp == NEVER_LEAVES:
        raise InputError(gettext("TLP:RED never leaves the platform: a TLP:RED report cannot be sent to a partner, "
                                 "and no request is marked TLP:RED"), field="tlp")
    if strictest_tlp([tlp, incident.tlp]) != tlp:
        raise InputError(gettext("the report is %(tlp_label)s: a request about it is marked %(tlp_label)s or stricter",
                                 tlp_label=tlp_label(incident.tlp)), field="tlp")
    if tlp == CONFIRM_TO_LEAVE and not data.confirm_strict:
        raise InputError(gettext("TLP:AMBER+STRICT leaves the platform only when you confirm it (confirm_strict)"),
                         field="confirm_strict")
    return tlp


def _cert(session: DbSession) -> Organization:
    """The operating CERT: the author of everything that leaves. Conflict when it is not set up:
    nothing leaves under a member's or the software's name instead."""
    cert = cert_organization(session)
    if cert is None:
        raise Conflict(gettext(NO_CERT))
    return cert


def request_objects(session: DbSession, incident: Incident) -> list[dict]:
    """The report as it leaves: incident, observables and indicators, authored by the CERT unless
    the reporting member opted in to share its identity. Conflict without a CERT organization."""
    cert = _cert(session)
    author = incident.organization if incident.share_reporter else cert
    return [build.identity(author)] + build.incident_objects(incident, author, incident.observables)


def open_requests(session: DbSession, actor: Actor, incident: Incident, data: RequestInput,
                  now: datetime | None = None) -> list[CooperationRequest]:
    """One queued request per partner, with its delivery; commits."""
    policy.require_cert_staff(actor, "cooperation requests are for CERT staff")
    if not policy.can_read_incident(actor, incident):
        raise NotFound(gettext("no such report"))
    now = now or utcnow()
    partners = _partners(session, data.partners)
    tlp = _check_input(incident, data, now)
    for partner in partners:
        refusal = mail_refusal(partner, tlp, now)
        if refusal is not None:
            raise InputError(refusal, field="partners")
    cert = _cert(session)
    objects = request_objects(session, incident)
    if not any(o["id"] == cert.stix_id for o in objects):
        objects.insert(0, build.identity(cert))
    created = []
    for partner in partners:
        note = stix_coop.request_note(
            note_id=stix_coop.new_note_id(), incident_stix_id=incident.stix_id, author_ref=cert.stix_id,
            author_name=cert.name, kind=data.kind, message=data.message.strip(), due_at=data.due_at, tlp=tlp,
            requesting_country=cert.country, title=incident.title, created=now)
        request = CooperationRequest(
            direction="outgoing", incident_id=incident.id, partner_org_id=partner.id, kind=data.kind,
            message=data.message.strip(), due_at=data.due_at, tlp=tlp, state=S.QUEUED, stix_id=note["id"],
            confirmed_strict=bool(data.confirm_strict), created_by=actor.label,
            created_by_user_id=actor.user.id if actor.user is not None else None, created_at=now,
            answer_object_ids=[])
        session.add(request)
        session.flush()
        _queue(session, request, partner, "request", stix_coop.outgoing_bundle(objects + [note], tlp=tlp), now)
        _record(session, actor, request, "cooperation.open", partner=partner.slug, kind=data.kind,
                tlp=tlp, due_at=data.due_at.isoformat(), channel=channel_of(partner))
        created.append(request)
    session.commit()
    return created


def _queue(session: DbSession, request: CooperationRequest, partner: Organization, purpose: str, bundle: dict,
           now: datetime) -> PartnerDelivery:
    """A delivery for push-partners, in the caller's transaction."""
    channel = channel_of(partner)
    if channel is None:
        raise InputError(gettext("the partner CERT %(name)s has neither a TAXII collection URL nor a contact address",
                                 name=partner.name), field="partners")
    refusal = mail_refusal(partner, request.tlp, now, what=purpose)
    if refusal is not None:  # an acknowledgement or answer: a request was refused when it was opened
        raise InputError(refusal, field="partners")
    delivery = PartnerDelivery(request_id=request.id, partner_org_id=partner.id, purpose=purpose, channel=channel,
                               bundle=bundle, state=OutboxState.PENDING, attempts=0, next_attempt_at=now,
                               created_at=now)
    session.add(delivery)
    return delivery


def _record(session: DbSession, actor: Actor, request: CooperationRequest, action: str, **details: object) -> None:
    """Audit a change; on the case's timeline when the request belongs to a case."""
    details.setdefault("request", request.id)
    details.setdefault("direction", request.direction)
    if request.incident_id is not None:
        audit.record(session, actor, action, "incident", request.incident_id, **details)
    else:
        audit.record(session, actor, action, "cooperation", request.id, **details)


# ---- delivery outcomes (push-partners calls these) -------------------------------------------

def delivered(session: DbSession, delivery: PartnerDelivery, *, now: datetime, taxii_status_id: str | None = None,
              via: str | None = None) -> None:
    """A delivery was taken by the partner's server: a queued request becomes sent. No commit.

    The request is judged locked and read afresh: a partner's acknowledgement committed while
    the bundle was on its way is not overwritten with ``sent``."""
    request = _locked(session, delivery.request)
    if delivery.purpose != "request":
        _record(session, SYSTEM, request, "cooperation.delivered", purpose=delivery.purpose,
                channel=via or delivery.channel, taxii_status=taxii_status_id)
        return
    if taxii_status_id:
        request.taxii_status_id = taxii_status_id
    if request.sent_at is None:
        request.sent_at = now
    if request.state in (S.QUEUED, S.FAILED):
        request.state = S.SENT
    _record(session, SYSTEM, request, "cooperation.sent", channel=via or delivery.channel,
            taxii_status=taxii_status_id, partner=request.partner.slug)


# The open states mark_overdue judges (an overdue request is marked already).
OVERDUE_FROM = (S.QUEUED, S.SENT, S.RECEIVED, S.ACKNOWLEDGED)
# A request whose own delivery dies in one of these states, not yet acknowledged, has failed.
FAILS_FROM = (S.QUEUED, S.SENT, S.OVERDUE)


def delivery_failed(session: DbSession, delivery: PartnerDelivery, *, now: datetime, error: str) -> None:
    """A delivery was refused by the partner or given up: the partner's error on the timeline. The
    request becomes failed only when it was its own delivery and the partner had not acknowledged
    it; an acknowledged or answered request keeps its state (the dead delivery waits for
    ``resend``). No commit."""
    request = _locked(session, delivery.request)  # judged afresh, as in delivered()
    error = partner_text(error)
    request.last_error = error[:2000]
    details: dict[str, object] = {}
    if delivery.purpose == "request" and request.state in FAILS_FROM and request.acknowledged_at is None:
        details["previous"] = request.state
        request.state = S.FAILED
        request.failed_at = now
    _record(session, SYSTEM, request, "cooperation.failed", purpose=delivery.purpose, error=error[:500],
            partner=request.partner.slug, **details)


def mark_overdue(session: DbSession, now: datetime | None = None) -> int:
    """Open requests whose due date has passed are marked overdue, each once (``overdue_at``);
    commits. Returns how many. An unacknowledged request becomes ``overdue``; an acknowledged one
    keeps its state (see the module docstring).

    The rows are read without a lock, so each write is a compare-and-set on the state that was
    read (and ``overdue_at`` still unset): an acknowledgement or answer committed in between is
    never overwritten with ``overdue``. Such a request is judged again by the next run."""
    now = now or utcnow()
    rows = list(session.execute(select(CooperationRequest).where(
        CooperationRequest.state.in_(OVERDUE_FROM),
        CooperationRequest.overdue_at.is_(None),
        CooperationRequest.due_at.is_not(None), CooperationRequest.due_at < now)).scalars())
    marked = 0
    for request in rows:
        previous = request.state
        state = previous if previous == S.ACKNOWLEDGED else S.OVERDUE
        changed = cast(CursorResult, session.execute(
            update(CooperationRequest)
            .where(CooperationRequest.id == request.id, CooperationRequest.state == previous,
                   CooperationRequest.overdue_at.is_(None))
            .values(state=state, overdue_at=now).execution_options(synchronize_session=False))).rowcount
        if changed != 1:
            continue
        marked += 1
        _record(session, SYSTEM, request, "cooperation.overdue", previous=previous,
                due_at=request.due_at.isoformat())
    session.commit()
    return marked


def is_overdue(request: CooperationRequest, now: datetime) -> bool:
    """Late: still open, and marked overdue or past its due date (the job may not have run yet)."""
    if request.state not in COOPERATION_OPEN_STATES:
        return False
    return request.overdue_at is not None or (request.due_at is not None and request.due_at < now)


# ---- resending what did not arrive -----------------------------------------------------------

def resend(session: DbSession, actor: Actor, request: CooperationRequest,
           now: datetime | None = None) -> CooperationRequest:
    """Queue the request's dead deliveries again (the same frozen bundle, attempts from zero, by
    the partner's current channel); a failed request goes back to ``queued``. InputError when
    nothing is dead. Commits."""
    policy.require_cert_staff(actor, "cooperation requests are for CERT staff")
    now = now or utcnow()
    request = _locked(session, request)
    dead = [d for d in deliveries(session, request) if d.state == OutboxState.DEAD]
    if not dead:
        raise InputError(gettext("nothing to resend: every delivery of this request is delivered or still on its way"))
    partner = request.partner
    if not partner.active:
        raise InputError(gettext("the partner CERT %(name)s is deactivated: nothing is sent to it any more",
                                 name=partner.name))
    for delivery in dead:
        changed = report_changed(request, delivery)
        if changed is not None:
            raise InputError(changed)
    channel = channel_of(partner)
    if channel is None:
        raise InputError(gettext("the partner CERT %(name)s has neither a TAXII collection URL nor a contact "
                                 "address; set one (cert-share partner set, or the partners page) first",
                                 name=partner.name))
    for delivery in dead:
        refusal = mail_refusal(partner, request.tlp, now, what=delivery.purpose)
        if refusal is not None:
            raise InputError(refusal)
        delivery.state, delivery.attempts, delivery.next_attempt_at = OutboxState.PENDING, 0, now
        delivery.channel, delivery.outbox_id, delivery.last_error = channel, None, None
        delivery.claimed_by, delivery.lease_until = None, None
    previous = request.state
    if request.state == S.FAILED and any(d.purpose == "request" for d in dead):
        request.state, request.failed_at, request.last_error = S.QUEUED, None, None
    _record(session, actor, request, "cooperation.resend", partner=partner.slug, channel=channel,
            purpose=", ".join(dict.fromkeys(d.purpose for d in dead)), deliveries=len(dead),
            **({"previous": previous} if previous != request.state else {}))
    session.commit()
    return request


def report_changed(request: CooperationRequest, delivery: PartnerDelivery) -> str | None:
    """Why our request's frozen bundle may no longer leave, or None: the report became TLP:RED or
    stricter than the request, or the member withdrew ``share_reporter`` and the bundle names it.
    The bundle is what the staff member saw then; the member's rules are those of now."""
    incident = request.incident
    if request.direction != "outgoing" or delivery.purpose != "request" or incident is None:
        return None
    # A frozen request whose report changed since: never sent again.
    if incident.tlp == NEVER_LEAVES:
        return gettext("the report changed since the request was made (it is TLP:RED now, which never leaves the "
                       "platform): open a new request")
    if strictest_tlp([incident.tlp, request.tlp]) != request.tlp:
        return gettext("the report changed since the request was made (it is %(now)s now, stricter than the "
                       "request's %(then)s): open a new request",
                       now=tlp_label(incident.tlp), then=tlp_label(request.tlp))
    if not incident.share_reporter and _names(delivery.bundle, incident.organization):
        return gettext("the report changed since the request was made (%(name)s no longer shares its name with "
                       "partners, and the request names it): open a new request",
                       name=incident.organization.name)
    return None


def _names(bundle: object, org: Organization | None) -> bool:
    """Whether the frozen bundle carries ``org``'s identity."""
    objects = bundle.get("objects") if isinstance(bundle, dict) else None
    return org is not None and any(isinstance(o, dict) and o.get("id") == org.stix_id for o in objects or ())


def undelivered(session: DbSession, request_ids: Iterable[int]) -> dict[int, int]:
    """How many dead deliveries each request has (requests without any are left out)."""
    ids = list(request_ids)
    if not ids:
        return {}
    rows = session.execute(select(PartnerDelivery.request_id, func.count()).where(
        PartnerDelivery.request_id.in_(ids), PartnerDelivery.state == OutboxState.DEAD)
        .group_by(PartnerDelivery.request_id)).all()
    return {request_id: count for request_id, count in rows}


# ---- our side of an incoming request ---------------------------------------------------------

def _incoming(request: CooperationRequest) -> None:
    if request.direction != "incoming":
        raise InputError(gettext("only a partner's request is acknowledged or answered here; our own requests are "
                                 "acknowledged and answered by the partner"))


def _locked(session: DbSession, request: CooperationRequest) -> CooperationRequest:
    """The request's row, locked until the commit and read afresh: what another staff member
    committed meanwhile is what the caller judges.

    The UPDATE that changes nothing comes first because a read alone locks nothing on SQLite: the
    write takes SQLite's one writer lock (sqlite_writer.py) before the row is read, so a second
    answer waits and then reads "answered". On PostgreSQL it locks the row FOR NO KEY UPDATE (the
    lock an UPDATE takes): inserting a delivery that references the request, in another
    transaction, is not held up by it as it would be by FOR UPDATE."""
    session.execute(update(CooperationRequest).where(CooperationRequest.id == request.id)
                    .values(state=CooperationRequest.state).execution_options(synchronize_session=False))
    return session.execute(select(CooperationRequest).where(CooperationRequest.id == request.id)
                           .with_for_update(key_share=True).execution_options(populate_existing=True)
                           ).scalar_one()


def _confirm_strict(tlp: str | None, confirmed: bool, what: str) -> None:
    if tlp == CONFIRM_TO_LEAVE and not confirmed:
        raise InputError(gettext("%(what)s is TLP:AMBER+STRICT: it leaves the platform only when you confirm it "
                                 "(confirm_strict)", what=what), field="confirm_strict")


def acknowledge(session: DbSession, actor: Actor, request: CooperationRequest, *, confirm_strict: bool = False,
                now: datetime | None = None) -> CooperationRequest:
    """Tell the partner we have its request; commits. Acknowledging twice changes nothing."""
    policy.require_cert_staff(actor, "cooperation requests are for CERT staff")
    _incoming(request)
    now = now or utcnow()
    request = _locked(session, request)
    if request.acknowledged_at is not None:
        session.commit()
        return request
    if request.state == S.ANSWERED or request.answered_at is not None:
        raise InputError(gettext("this request is already answered"))
    _confirm_strict(request.tlp, confirm_strict, "the request")
    cert = _cert(session)
    note = stix_coop.reply_note(purpose="acknowledgement", request_stix_id=request.stix_id,
                                author_ref=cert.stix_id, author_name=cert.name,
                                message="Request received and acknowledged.", tlp=request.tlp, created=now)
    request.acknowledged_at = now
    if request.state in (S.RECEIVED, S.OVERDUE):
        request.state = S.ACKNOWLEDGED
    _queue(session, request, request.partner, "acknowledgement", _reply_bundle(cert, [note], request.tlp), now)
    _record(session, actor, request, "cooperation.acknowledged", partner=request.partner.slug)
    session.commit()
    return request


def answer(session: DbSession, actor: Actor, request: CooperationRequest, *, message: object,
           objects: object = None, confirm_strict: bool = False, now: datetime | None = None) -> CooperationRequest:
    """Answer a partner's request with a note and any STIX objects attached; commits."""
    policy.require_cert_staff(actor, "cooperation requests are for CERT staff")
    _incoming(request)
    request = _locked(session, request)
    if request.state == S.ANSWERED or request.answered_at is not None:
        raise InputError(gettext("this request is already answered"))
    if not isinstance(message, str) or not message.strip():
        raise InputError(gettext("an answer needs a message"), field="message")
    if len(message) > MAX_COOPERATION_MESSAGE:
        raise InputError(gettext("the message is longer than %(max_cooperation_message)s characters",
                                 max_cooperation_message=MAX_COOPERATION_MESSAGE), field="message")
    attached = _attached(objects, request.tlp)
    _confirm_strict(strictest_tlp([request.tlp, *(_tlp_of(o) for o in attached)]), confirm_strict,
                    "the request or an object attached")
    now = now or utcnow()
    cert = _cert(session)
    if request.acknowledged_at is None:
        request.acknowledged_at = now
    note = stix_coop.reply_note(purpose="answer", request_stix_id=request.stix_id, author_ref=cert.stix_id,
                                author_name=cert.name, message=message.strip(), tlp=request.tlp,
                                object_ids=[o["id"] for o in attached], created=now)
    request.state, request.answered_at = S.ANSWERED, now
    request.answer_stix_id, request.answer_message = note["id"], message.strip()
    request.answer_object_ids = [o["id"] for o in attached]
    # The answer note first: a receiver that takes the first note naming the request takes ours.
    _queue(session, request, request.partner, "answer", _reply_bundle(cert, [note] + attached, request.tlp), now)
    _record(session, actor, request, "cooperation.answered", partner=request.partner.slug, objects=len(attached))
    session.commit()
    return request


def _attached(objects: object, request_tlp: str) -> list[dict]:
    """STIX objects attached to an answer: valid, none TLP:RED, none stricter than the request."""
    if objects is None:
        return []
    if not isinstance(objects, list):
        raise InputError(gettext("objects is a list of STIX 2.1 objects"), field="objects")
    if len(objects) > MAX_ANSWER_OBJECTS:
        raise InputError(gettext("at most %(max_answer_objects)s objects per answer",
                                 max_answer_objects=MAX_ANSWER_OBJECTS), field="objects")
    kept = []
    for index, obj in enumerate(objects):
        try:
            check_object(obj)
        except InvalidObject as exc:
            raise InputError(gettext("objects[%(index)s]: %(exc)s", index=index, exc=exc), field="objects") from None
        tlp = _tlp_of(obj)
        said = tlp_label(tlp) if markings.tlp_of(obj) is not None else f"unmarked (so {tlp_label(tlp)})"
        if tlp == NEVER_LEAVES:
            raise InputError(gettext("objects[%(index)s] is TLP:RED, which never leaves the platform",
                                     index=index), field="objects")
        if strictest_tlp([tlp, request_tlp]) != request_tlp:
            raise InputError(gettext("objects[%(index)s] is %(said)s, stricter than the request's %(tlp_label)s",
                                     index=index, said=said, tlp_label=tlp_label(request_tlp)), field="objects")
        kept.append(obj)
    return kept


def _tlp_of(obj: dict) -> str:
    """An attached object's TLP; one without a marking counts as policy.UNMARKED_AS."""
    return markings.tlp_of(obj) or policy.UNMARKED_AS


def _reply_bundle(cert: Organization, objects: list[dict], tlp: str) -> dict:
    return stix_coop.outgoing_bundle(objects, tlp=tlp, extra=[build.identity(cert)])


# ---- what partners push into our intake ------------------------------------------------------

@dataclass
class Received:
    requests: int = 0
    acknowledgements: int = 0
    answers: int = 0
    ignored: int = 0


def receive(session: DbSession, partner: Organization, objects: Iterable[dict], actor: Actor,
            now: datetime | None = None) -> Received:
    """Requests, acknowledgements and answers among the objects a partner CERT posted to our
    intake (already validated and stored, their incidents already reports). No commit.

    Only an active partner's objects count: a member posting a note with the extension creates
    nothing. An acknowledgement or answer counts only for a request we sent to that partner.
    """
    outcome = Received()
    if partner.kind != "partner" or not partner.active:
        return outcome
    now = now or utcnow()
    read = [(obj, _cleaned(meaning)) for obj in objects if (meaning := stix_coop.read(obj)) is not None]
    # Notes carrying our extension first: when an answer and a plain note attached to it both
    # name the request, the answer is the answer, whatever their order in the push.
    read.sort(key=lambda pair: not pair[1].extension)
    for obj, meaning in read:
        if meaning.purpose == "request":
            if _receive_request(session, partner, meaning, actor, now):
                outcome.requests += 1
            continue
        _receive_reply(session, partner, obj, meaning, actor, now, outcome)
    return outcome


def _cleaned(meaning: stix_coop.Incoming) -> stix_coop.Incoming:
    """What the partner wrote, as it is stored and audited (partner_text)."""
    return replace(meaning, stix_id=partner_text(meaning.stix_id), message=partner_text(meaning.message),
                   refs=tuple(partner_text(r) for r in meaning.refs),
                   request_ref=partner_text(meaning.request_ref) if meaning.request_ref is not None else None)


def _receive_reply(session: DbSession, partner: Organization, obj: dict, meaning: stix_coop.Incoming,
                   actor: Actor, now: datetime, outcome: Received) -> None:
    """An acknowledgement or answer: applied to the request it names, else ignored and logged."""
    request = _our_request(session, partner, meaning)
    if request is None:
        # A plain note about something else is not ours to judge; one that says it is a reply is.
        if meaning.request_ref is not None or _is_cooperation_answer(obj) or obj.get("type") == "opinion":
            outcome.ignored += 1
            log.warning("cooperation: %s %s from partner %s references no request we sent to it; ignored",
                        meaning.purpose, meaning.stix_id, partner.slug)
            audit.record(session, actor, "cooperation.ignored", "organization", partner.slug,
                         purpose=meaning.purpose, stix_id=meaning.stix_id,
                         refs=list(meaning.refs)[:10], request_ref=meaning.request_ref)
        return
    # Judged locked and afresh: mark_overdue or a staff member may have moved it since it was read.
    request = _locked(session, request)
    if meaning.purpose == "acknowledgement":
        if request.acknowledged_at is None:
            request.acknowledged_at = now
            if request.state in (S.QUEUED, S.SENT, S.OVERDUE, S.FAILED):
                request.state = S.ACKNOWLEDGED
            _record(session, actor, request, "cooperation.acknowledged", partner=partner.slug,
                    stix_id=meaning.stix_id)
            outcome.acknowledgements += 1
        return
    if request.state == S.ANSWERED or request.answered_at is not None:
        return
    if request.acknowledged_at is None:
        request.acknowledged_at = now
    request.state, request.answered_at = S.ANSWERED, now
    request.answer_stix_id, request.answer_message = meaning.stix_id, meaning.message[:MAX_COOPERATION_MESSAGE]
    request.answer_object_ids = [r for r in meaning.refs if r != request.stix_id][:MAX_ANSWER_OBJECTS]
    _record(session, actor, request, "cooperation.answered", partner=partner.slug, stix_id=meaning.stix_id,
            objects=len(request.answer_object_ids))
    outcome.answers += 1


def _is_cooperation_answer(obj: dict) -> bool:
    labels = obj.get("labels") or ()
    return isinstance(labels, list) and any(isinstance(x, str) and x.startswith("cooperation-") for x in labels)


def _our_request(session: DbSession, partner: Organization,
                 meaning: stix_coop.Incoming) -> CooperationRequest | None:
    """Our outgoing request to this partner that the acknowledgement or answer names."""
    candidates = [meaning.request_ref] if meaning.request_ref else list(meaning.refs)
    candidates = [c for c in candidates if isinstance(c, str) and c.startswith("note--")][:50]
    if not candidates:
        return None
    return session.execute(select(CooperationRequest).where(
        CooperationRequest.direction == "outgoing", CooperationRequest.partner_org_id == partner.id,
        CooperationRequest.stix_id.in_(candidates)).order_by(CooperationRequest.id)).scalars().first()


def _receive_request(session: DbSession, partner: Organization, meaning: stix_coop.Incoming, actor: Actor,
                     now: datetime) -> bool:
    exists = session.execute(select(CooperationRequest.id).where(
        CooperationRequest.partner_org_id == partner.id, CooperationRequest.direction == "incoming",
        CooperationRequest.stix_id == meaning.stix_id)).first()
    if exists is not None:
        return False
    incident_id = None
    incident_refs = [r for r in meaning.refs if r.startswith("incident--")]
    if incident_refs:
        incident_id = session.execute(select(Incident.id).where(
            Incident.org_id == partner.id, Incident.external_id.in_(incident_refs[:50]))
            .order_by(Incident.id)).scalars().first()
    request = CooperationRequest(
        direction="incoming", incident_id=incident_id, partner_org_id=partner.id, kind=meaning.kind or "information",
        message=meaning.message[:MAX_COOPERATION_MESSAGE], due_at=meaning.due_at,
        tlp=meaning.tlp or policy.UNMARKED_AS, state=S.RECEIVED, stix_id=meaning.stix_id, confirmed_strict=False,
        created_by=actor.label, created_at=now, answer_object_ids=[])
    session.add(request)
    session.flush()
    _record(session, actor, request, "cooperation.received", partner=partner.slug, kind=request.kind,
            country=partner.country, due_at=request.due_at.isoformat() if request.due_at else None)
    return True


# ---- reading ----------------------------------------------------------------------------------

def get_request(session: DbSession, actor: Actor, request_id: int) -> CooperationRequest:
    """A request CERT staff may read; members are refused, an unknown id is NotFound."""
    policy.require_cert_staff(actor, "cooperation requests are for CERT staff")
    request = session.get(CooperationRequest, request_id)
    if request is None:
        raise NotFound(gettext("no cooperation request %(request_id)s", request_id=request_id))
    if request.incident is not None and not policy.can_read_incident(actor, request.incident):
        raise NotFound(gettext("no cooperation request %(request_id)s", request_id=request_id))
    return request


def readable(actor: Actor) -> ColumnElement[bool]:
    """The requests ``actor`` may read, as SQL: those without a report, and those whose report it
    may read (policy.incident_read_filter: a TLP:RED case only for the staff named on it)."""
    return or_(CooperationRequest.incident_id.is_(None),
               CooperationRequest.incident_id.in_(select(Incident.id).where(policy.incident_read_filter(actor))))


def list_requests(session: DbSession, actor: Actor, *, direction: str | None = None, state: str | None = None,
                  incident_id: int | None = None, before_id: int | None = None,
                  limit: int = 200) -> list[CooperationRequest]:
    """Requests ``actor`` may read, newest first (by id; ``before_id`` pages on), at most ``limit``."""
    policy.require_cert_staff(actor, "cooperation requests are for CERT staff")
    if direction is not None and direction not in COOPERATION_DIRECTIONS:
        raise InputError(gettext("direction must be one of %(cooperation_directions)s",
                                 cooperation_directions=', '.join(COOPERATION_DIRECTIONS)), field="direction")
    if state is not None and state not in COOPERATION_STATES:
        raise InputError(gettext("state must be one of %(cooperation_states)s",
                                 cooperation_states=', '.join(COOPERATION_STATES)), field="state")
    query = select(CooperationRequest).where(readable(actor)).options(
        selectinload(CooperationRequest.partner), selectinload(CooperationRequest.incident))
    if before_id is not None:
        query = query.where(CooperationRequest.id < before_id)
    if direction is not None:
        query = query.where(CooperationRequest.direction == direction)
    if state is not None:
        query = query.where(CooperationRequest.state == state)
    if incident_id is not None:
        query = query.where(CooperationRequest.incident_id == incident_id)
    return list(session.execute(query.order_by(CooperationRequest.id.desc()).limit(limit)).scalars())


def is_open(request: CooperationRequest) -> bool:
    return request.state in COOPERATION_OPEN_STATES


def deliveries(session: DbSession, request: CooperationRequest) -> list[PartnerDelivery]:
    return list(session.execute(select(PartnerDelivery).where(PartnerDelivery.request_id == request.id)
                                .order_by(PartnerDelivery.id)).scalars())
