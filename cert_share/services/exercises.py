"""Drills (exercises): created by CERT staff, read by staff and participants, acknowledged by
participants, closed (results frozen) and deleted with everything they left on the platform.

The rules, in one place:

* only CERT staff create, close, delete an exercise or read its results;
* a participant (an organization taking part) reads the exercise with its own organization only
  and only the injects already sent: the injects to come are the drill's surprise. Anyone else
  gets the same 404 as for an id that does not exist;
* an inject's observables come from the documentation ranges (stix/documentation_ranges.py);
  another value is refused, naming it, unless the inject or the whole request says
  ``confirm_real_values``, so no drill ever makes a participant block a real address;
* an inject's TLP is CLEAR, GREEN or AMBER: every participant reads the one collection;
* acknowledging: a participant, an inject already sent, the exercise open; the first
  acknowledgement counts, a repeat changes nothing;
* deleting removes the exercise's collection with its objects and consumption log, its mail
  (``outbox.exercise_id``), its acknowledgements and reports, and writes one audit entry.

Delivery (``run-exercises``) lives in services/exercise_delivery.py, exercise reports in
services/exercise_reports.py, results in services/exercise_results.py.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext
from sqlalchemy import Select, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from .. import policy
from ..actor import Actor
from ..clock import utcnow
from ..database import DbSession
from ..errors import Conflict, InputError, NotFound, PermissionDenied
from ..limits import MAX_EXERCISE_PARTICIPANTS
from ..models import (
    Collection,
    Exercise,
    ExerciseAcknowledgement,
    ExerciseInject,
    ExerciseParticipant,
    ExerciseReport,
    Organization,
    OutboxMessage,
)
from ..models.exercise import EXERCISE_CLOSED, EXERCISE_OPEN
from ..stix.documentation_ranges import in_documentation_range
from ..stix.observables import Observable, ObservableError, normalize
from ..store import audit, poll_log
from ..store.collections import delete_collection, ensure_exercise_collection
from ..store.rows import add_unless_exists
from ..vocab import EXERCISE_EXPECTS, EXERCISE_INJECT_KINDS, EXERCISE_TLP_LEVELS, N_, tlp_label
from . import exercise_results
from .organizations import slugify

STAFF_ONLY = "exercises are run by CERT staff"
# The same words for an exercise that does not exist and one the caller does not take part in.
NO_SUCH_EXERCISE = N_("no such exercise")
NO_SUCH_INJECT = N_("no such inject in this exercise")
PARTICIPANTS_ONLY = N_("only an organization taking part in the exercise acknowledges its injects")
CLOSED = N_("the exercise is closed")
# Without an end, the exercise ends at the first midnight UTC at least this long after its last
# inject (default_end): participants see ends_at, and "last inject + 24 h" would tell them when
# the last inject is due; a midnight tells them its day at most.
DEFAULT_TAIL = timedelta(hours=24)
ACK_CHANNELS = ("web", "api")


def default_end(last_due: datetime) -> datetime:
    """The first midnight UTC at least DEFAULT_TAIL after ``last_due`` (an aware UTC time)."""
    earliest = last_due + DEFAULT_TAIL
    midnight = earliest.replace(hour=0, minute=0, second=0, microsecond=0)
    return earliest if midnight == earliest else midnight + timedelta(days=1)


# ---- reading ---------------------------------------------------------------------------------

def _participates(exercise: Exercise, org_id: int | None) -> bool:
    return org_id is not None and any(p.org_id == org_id for p in exercise.participants)


def readable_exercise(session: DbSession, actor: Actor, exercise_id: int) -> Exercise:
    """The exercise, for CERT staff or an organization taking part; NotFound otherwise, the
    same as for an id that does not exist."""
    exercise = session.get(Exercise, exercise_id, options=[selectinload(Exercise.participants)
                                                            .selectinload(ExerciseParticipant.organization)])
    if exercise is None or not (policy.is_cert_staff(actor) or _participates(exercise, actor.org_id)):
        raise NotFound(gettext(NO_SUCH_EXERCISE))
    return exercise


def staff_exercise(session: DbSession, actor: Actor, exercise_id: int) -> Exercise:
    """The exercise, for CERT staff only (403 for anyone else, before the id is looked at)."""
    policy.require_cert_staff(actor, STAFF_ONLY)
    exercise = session.get(Exercise, exercise_id)
    if exercise is None:
        raise NotFound(gettext(NO_SUCH_EXERCISE))
    return exercise


def list_exercises(session: DbSession, actor: Actor) -> list[Exercise]:
    """CERT staff: every exercise; a member: those its organization takes part in. Newest first."""
    query = select(Exercise).options(selectinload(Exercise.collection)).order_by(Exercise.id.desc())
    if not policy.is_cert_staff(actor):
        if actor.org_id is None:
            return []
        query = query.join(ExerciseParticipant, ExerciseParticipant.exercise_id == Exercise.id).where(
            ExerciseParticipant.org_id == actor.org_id)
    return list(session.execute(query).scalars())


def sent_injects(exercise: Exercise) -> list[ExerciseInject]:
    """The injects already sent, in scenario order: all a participant may see."""
    return [inject for inject in exercise.injects if inject.sent_at is not None]


@dataclass(frozen=True)
class ParticipantInject:
    """An inject already sent, with one organization's response to it."""

    inject: ExerciseInject
    acknowledged_at: datetime | None
    reported: bool

    def __getattr__(self, name: str) -> Any:  # the inject's own fields, for schemas and templates
        if name == "inject":  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        return getattr(self.inject, name)


def participant_injects(session: DbSession, exercise: Exercise, org_id: int) -> list[ParticipantInject]:
    """The injects already sent, each with this organization's acknowledgement time and whether
    it filed a report for it (two queries)."""
    injects = sent_injects(exercise)
    ids = [inject.id for inject in injects]
    if not ids:
        return []
    acknowledged: dict[int, datetime] = dict(session.execute(
        select(ExerciseAcknowledgement.inject_id, ExerciseAcknowledgement.acknowledged_at)
        .where(ExerciseAcknowledgement.inject_id.in_(ids), ExerciseAcknowledgement.org_id == org_id)).all())
    reported = set(session.execute(
        select(ExerciseReport.inject_id).where(ExerciseReport.exercise_id == exercise.id,
                                               ExerciseReport.org_id == org_id,
                                               ExerciseReport.inject_id.in_(ids))).scalars())
    return [ParticipantInject(inject, acknowledged.get(inject.id), inject.id in reported) for inject in injects]


def participant_view(session: DbSession, actor: Actor, exercise: Exercise) -> dict[str, Any]:
    """The exercise as a participant reads it (schemas.exercise.ParticipantExerciseSchema): its
    own organization only, and only the injects already sent."""
    if actor.org_id is None or not _participates(exercise, actor.org_id):
        raise NotFound(gettext(NO_SUCH_EXERCISE))
    return {
        "id": exercise.id, "slug": exercise.slug, "name": exercise.name, "description": exercise.description,
        "state": exercise.state, "starts_at": exercise.starts_at, "ends_at": exercise.ends_at,
        "closed_at": exercise.closed_at, "collection": f"exercise-{exercise.slug}",
        "participants": [p for p in exercise.participants if p.org_id == actor.org_id],
        "injects": participant_injects(session, exercise, actor.org_id),
    }


# ---- creating --------------------------------------------------------------------------------

def _unique_slug(session: DbSession, name: str) -> str:
    """The name's slug, with -2, -3... when an exercise or a collection already has it."""
    base = slugify(name, fallback="exercise")
    taken = set(session.execute(select(Exercise.slug).where(
        (Exercise.slug == base) | Exercise.slug.like(f"{base}-%"))).scalars())
    taken |= {alias.removeprefix("exercise-") for alias in session.execute(select(Collection.alias).where(
        (Collection.alias == f"exercise-{base}") | Collection.alias.like(f"exercise-{base}-%"))).scalars()}
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _resolve_participants(session: DbSession, slugs: Iterable[str], sectors: Iterable[str]) -> list[Organization]:
    found: dict[int, Organization] = {}
    for slug in dict.fromkeys(slugs):
        org = session.execute(select(Organization).where(Organization.slug == slug)).scalar_one_or_none()
        if org is None or org.kind != "member" or not org.active:
            raise InputError(gettext("%(slug)r is not an active member organization",
                                     slug=slug[:64]), field="participants")
        found[org.id] = org
    for sector in dict.fromkeys(sectors):
        members = session.execute(select(Organization).where(
            Organization.sector == sector, Organization.kind == "member",
            Organization.active.is_(True))).scalars().all()
        if not members:
            raise InputError(gettext("no active member organization in the sector %(sector)r",
                                     sector=sector[:64]), field="sectors")
        for org in members:
            found[org.id] = org
    if not found:
        raise InputError(gettext("choose at least one participating organization (participants or sectors)"),
                         field="participants")
    if len(found) > MAX_EXERCISE_PARTICIPANTS:
        raise InputError(gettext("at most %(max_exercise_participants)s participating organizations, not %(count)s",
                                 max_exercise_participants=MAX_EXERCISE_PARTICIPANTS, count=len(found)),
                         field="participants")
    return sorted(found.values(), key=lambda org: org.id)


def _observable(item: object, where: str) -> Observable:
    if isinstance(item, Observable):
        return item
    if isinstance(item, Mapping):
        try:
            return normalize(str(item.get("type")), item.get("value"))
        except ObservableError as exc:
            raise InputError(gettext("%(where)s: %(exc)s", where=where, exc=exc), field="injects") from None
    raise InputError(gettext("%(where)s: an observable is {type, value}", where=where), field="injects")


def _inject_error(index: int, field: str, message: str) -> InputError:
    return InputError(gettext("inject %(number)s: %(message)s", number=index + 1, message=message),
                      errors={"injects": {str(index): {field: [message]}}})


def _check_injects(injects: list[Mapping[str, Any]], confirm_all: bool) -> list[list[Observable]]:
    """Each inject's observables, once every rule holds; InputError naming the first broken one."""
    checked = []
    for index, inject in enumerate(injects):
        if inject.get("kind") not in EXERCISE_INJECT_KINDS:
            raise _inject_error(index, "kind", "choose one of: " + ", ".join(EXERCISE_INJECT_KINDS))
        if inject.get("expect") not in EXERCISE_EXPECTS:
            raise _inject_error(index, "expect", "choose one of: " + ", ".join(EXERCISE_EXPECTS))
        if inject.get("tlp") not in EXERCISE_TLP_LEVELS:
            raise _inject_error(index, "tlp", "choose one of: " + ", ".join(
                tlp_label(level) for level in EXERCISE_TLP_LEVELS)
                + " (every participant reads the exercise's collection)")
        if not str(inject.get("title") or "").strip():
            raise _inject_error(index, "title", "must not be blank")
        offset = inject.get("offset_minutes")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise _inject_error(index, "offset_minutes", "must be a whole number of minutes, 0 or more")
        observables = [_observable(item, f"inject {index + 1}") for item in inject.get("observables") or ()]
        if not (confirm_all or inject.get("confirm_real_values")):
            outside = [obs for obs in observables if not in_documentation_range(obs.type, obs.value)]
            if outside:
                shown = ", ".join(obs.display for obs in outside[:5]) + (" ..." if len(outside) > 5 else "")
                raise _inject_error(index, "observables", (
                    f"{shown} {'is' if len(outside) == 1 else 'are'} not from the documentation ranges "
                    "(IPv4 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24; IPv6 2001:db8::/32; names under .example, "
                    "example.com, example.net, example.org): a drill must not make anyone block a real value. "
                    "Use documentation values, or set confirm_real_values: true"))
        checked.append(observables)
    return checked


def create_exercise(session: DbSession, actor: Actor, data: Mapping[str, Any]) -> Exercise:
    """Create an exercise from validated input (schemas.exercise.ExerciseCreateSchema's fields),
    with its participants, its injects (numbered in time order, each with the STIX id its
    deliveries will reuse) and its collection ``exercise-<slug>``; audited, committed."""
    policy.require_cert_staff(actor, STAFF_ONLY)
    name = str(data.get("name") or "").strip()
    if not name:
        raise InputError(gettext("must not be blank"), field="name")
    injects = list(data.get("injects") or ())
    if not injects:
        raise InputError(gettext("a scenario needs at least one inject"), field="injects")
    starts_at = data.get("starts_at")
    if not isinstance(starts_at, datetime):
        raise InputError(gettext("the start time is required"), field="starts_at")
    confirm_all = bool(data.get("confirm_real_values"))
    observables = _check_injects(injects, confirm_all)
    orgs = _resolve_participants(session, data.get("participants") or (), data.get("sectors") or ())
    # Numbered in time order (a stable sort keeps the given order of injects at the same time).
    order = sorted(range(len(injects)), key=lambda i: injects[i]["offset_minutes"])
    try:
        last_due = starts_at + timedelta(minutes=max(inject["offset_minutes"] for inject in injects))
        ends_at = data.get("ends_at") or default_end(last_due)
    except OverflowError:
        raise InputError(gettext("the scenario would run past the year 9999"), field="starts_at") from None
    if ends_at <= last_due:
        raise InputError(gettext("must be after the last inject's time"), field="ends_at")

    slug = _unique_slug(session, name)
    collection = ensure_exercise_collection(session, slug, name)
    exercise = Exercise(slug=slug, name=name, description=str(data.get("description") or ""), state=EXERCISE_OPEN,
                        starts_at=starts_at, ends_at=ends_at, collection_id=collection.id, created_by=actor.label,
                        created_by_user_id=actor.user.id if actor.user is not None else None)
    exercise.participants = [ExerciseParticipant(org_id=org.id) for org in orgs]
    exercise.injects = [
        ExerciseInject(
            number=number, offset_minutes=injects[i]["offset_minutes"],
            due_at=starts_at + timedelta(minutes=injects[i]["offset_minutes"]), kind=injects[i]["kind"],
            title=str(injects[i]["title"]).strip(), description=str(injects[i].get("description") or ""),
            observables=[{"type": obs.type, "value": obs.value, "display": obs.display} for obs in observables[i]],
            tlp=injects[i]["tlp"], expect=injects[i]["expect"], partner_name=injects[i].get("partner_name") or None,
            confirmed_real_values=confirm_all or bool(injects[i].get("confirm_real_values")),
            stix_id=f"{'report' if injects[i]['kind'] == 'warning' else 'note'}--{uuid.uuid4()}")
        for number, i in enumerate(order, start=1)]
    session.add(exercise)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(gettext("another exercise was just created with the same name; send the request "
                               "again")) from None
    audit.record(session, actor, "exercise.create", "exercise", exercise.id, name=name, slug=slug,
                 participants=[org.slug for org in orgs], injects=len(injects),
                 confirmed_real_values=any(inject.confirmed_real_values for inject in exercise.injects))
    session.commit()
    return exercise


# ---- responding ------------------------------------------------------------------------------

def acknowledge(session: DbSession, actor: Actor, exercise: Exercise, number: int,
                channel: str) -> tuple[ExerciseAcknowledgement, bool]:
    """A participant acknowledges inject ``number`` (already sent, exercise open). The first
    acknowledgement counts: (that acknowledgement, whether it is this one)."""
    if policy.is_cert_staff(actor):
        raise PermissionDenied(gettext(PARTICIPANTS_ONLY))
    if actor.org_id is None or not _participates(exercise, actor.org_id):
        raise NotFound(gettext(NO_SUCH_EXERCISE))
    inject = next((i for i in sent_injects(exercise) if i.number == number), None)
    if inject is None:
        raise NotFound(gettext(NO_SUCH_INJECT))  # one not yet sent is not there for the participant
    if exercise.state == EXERCISE_CLOSED:
        raise Conflict(gettext(CLOSED))
    if channel not in ACK_CHANNELS:
        raise InputError(gettext("unknown channel %(channel)r", channel=channel))
    org_id = actor.org_id
    existing = session.get(ExerciseAcknowledgement, (inject.id, org_id))
    if existing is not None:
        return existing, False
    ack = ExerciseAcknowledgement(inject_id=inject.id, org_id=org_id, channel=channel, acknowledged_at=utcnow(),
                                  user_id=actor.user.id if actor.user is not None else None)
    if not add_unless_exists(session, ack):
        # Another acknowledgement of the same organization came first: that one counts.
        first = session.get(ExerciseAcknowledgement, (inject.id, org_id), populate_existing=True)
        assert first is not None  # the row that refused ours is committed
        return first, False
    audit.record(session, actor, "exercise.acknowledge", "exercise", exercise.id, inject=number, channel=channel)
    session.commit()
    return ack, True


# ---- closing and deleting --------------------------------------------------------------------

def close_exercise(session: DbSession, actor: Actor, exercise: Exercise) -> Exercise:
    """Close the exercise: no more acknowledgements or reports, and its results frozen as they
    stand now (what the after-action report shows from then on)."""
    policy.require_cert_staff(actor, STAFF_ONLY)
    if exercise.state == EXERCISE_CLOSED:
        raise Conflict(gettext("the exercise is already closed"))
    exercise.state = EXERCISE_CLOSED
    exercise.closed_at = utcnow()
    exercise.frozen_results = exercise_results.compute(session, exercise)
    audit.record(session, actor, "exercise.close", "exercise", exercise.id, name=exercise.name)
    session.commit()
    return exercise


def delete_exercise(session: DbSession, actor: Actor, exercise: Exercise) -> dict[str, int]:
    """Delete the exercise and everything it left: its collection's objects, polls and statuses,
    its mail, its acknowledgements, reports, injects and participants, then the collection.
    One audit entry names it with the counts; committed. Returns the counts."""
    policy.require_cert_staff(actor, STAFF_ONLY)
    exercise_id, name, slug, collection_id = exercise.id, exercise.name, exercise.slug, exercise.collection_id
    inject_ids = select(ExerciseInject.id).where(ExerciseInject.exercise_id == exercise_id).scalar_subquery()
    # Lock first, in run-exercises' order (inject, then collection): an inject being sent now
    # commits its objects and mail before the deletes below read, and a later claim finds the
    # inject gone; a poll or object written now into the collection commits first too, and
    # a later one waits and then finds the collection gone (PostgreSQL; SQLite has one writer).
    session.execute(select(ExerciseInject.id).where(ExerciseInject.exercise_id == exercise_id)
                    .order_by(ExerciseInject.id).with_for_update())
    if collection_id is not None:
        session.execute(select(Collection.id).where(Collection.id == collection_id).with_for_update())
    counts = {
        "reports": _count(session, select(func.count()).select_from(ExerciseReport)
                          .where(ExerciseReport.exercise_id == exercise_id)),
        "acknowledgements": _count(session, select(func.count()).select_from(ExerciseAcknowledgement)
                                   .where(ExerciseAcknowledgement.inject_id.in_(inject_ids))),
    }
    mail = session.execute(delete(OutboxMessage).where(OutboxMessage.exercise_id == exercise_id))
    counts["mail"] = int(getattr(mail, "rowcount", 0) or 0)
    # Explicit deletes, children first: the counts above are what goes, whatever the cascades.
    session.execute(delete(ExerciseAcknowledgement).where(ExerciseAcknowledgement.inject_id.in_(inject_ids)))
    session.execute(delete(ExerciseReport).where(ExerciseReport.exercise_id == exercise_id))
    session.execute(delete(ExerciseInject).where(ExerciseInject.exercise_id == exercise_id))
    session.execute(delete(ExerciseParticipant).where(ExerciseParticipant.exercise_id == exercise_id))
    session.execute(delete(Exercise).where(Exercise.id == exercise_id))
    session.expunge(exercise)
    if collection_id is not None:
        counts.update(delete_collection(session, collection_id))
    audit.record(session, actor, "exercise.delete", "exercise", exercise_id, name=name, slug=slug, **counts)
    session.commit()
    if collection_id is not None:
        # This worker's polls of it not written yet (store/poll_log.py) would only be refused.
        poll_log.forget_collection(collection_id)
    return counts


def _count(session: DbSession, query: Select) -> int:
    return int(session.execute(query).scalar_one())
