"""The results of a drill: for each participant and each inject already sent, how long it took
to fetch the inject over TAXII, to acknowledge it and to file a report about it, what was missed,
and the same per sector.

- fetch: the participant's first read of the exercise's collection that handed out objects
  (routes ``objects``, ``object`` or ``versions`` that returned at least one, the consumption log's
  definition, warning_page.FETCH_ROUTES) at or after the inject was sent. The log is per
  collection: a read filtered to other objects of the exercise counts too.
- acknowledge: the participant's acknowledgement of that inject (the first one counts).
- report: the participant's first exercise report attributed to that inject.
- missed: ``fetch`` when never fetched, and the response the inject expects (``acknowledge`` or
  ``report``) when it is absent. Times are measured from the inject's ``sent_at``.

Sector aggregates: ``responses_expected`` is one per participant and inject sent (the response
the inject asks for), ``responses_made`` those present, ``missed`` the difference; medians over
the participant × inject pairs that have the time, null when none has.

The figures come from five queries for the whole exercise whatever its size (injects,
participants, first fetches, acknowledgements, first reports). ``results`` is what every reader
shows: the copy frozen at close once the exercise is closed, else the figures as they stand.
"""
from __future__ import annotations

import copy
import statistics
from collections.abc import Iterable
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import and_, func, select

from ..clock import iso
from ..database import DbSession
from ..errors import NotFound
from ..models import (
    Exercise,
    ExerciseAcknowledgement,
    ExerciseInject,
    ExerciseParticipant,
    ExerciseReport,
    Organization,
    TaxiiPoll,
)
from ..models.exercise import EXERCISE_CLOSED
from .warning_page import FETCH_ROUTES

# The keys of one participant × inject entry whose times the sector medians summarize.
MEASURES = ("fetch", "acknowledge", "report")


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds())


def _median(values: Iterable[int | None]) -> float | int | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _first_fetches(session: DbSession, exercise: Exercise) -> dict[tuple[int, int], datetime]:
    """(inject id, org id) -> the participant's first fetch from the collection after the inject
    was sent, for every sent inject in one grouped query."""
    if exercise.collection_id is None:
        return {}
    rows = session.execute(
        select(ExerciseInject.id, TaxiiPoll.org_id, func.min(TaxiiPoll.polled_at))
        .join(TaxiiPoll, and_(TaxiiPoll.collection_id == exercise.collection_id,
                              TaxiiPoll.polled_at >= ExerciseInject.sent_at))
        .join(ExerciseParticipant, and_(ExerciseParticipant.exercise_id == exercise.id,
                                        ExerciseParticipant.org_id == TaxiiPoll.org_id))
        .where(ExerciseInject.exercise_id == exercise.id, ExerciseInject.sent_at.is_not(None),
               TaxiiPoll.route.in_(FETCH_ROUTES), TaxiiPoll.returned > 0)
        .group_by(ExerciseInject.id, TaxiiPoll.org_id)).all()
    return {(inject_id, org_id): first for inject_id, org_id, first in rows}


def _acknowledgements(session: DbSession, exercise: Exercise) -> dict[tuple[int, int], datetime]:
    rows = session.execute(
        select(ExerciseAcknowledgement.inject_id, ExerciseAcknowledgement.org_id,
               ExerciseAcknowledgement.acknowledged_at)
        .join(ExerciseInject, ExerciseInject.id == ExerciseAcknowledgement.inject_id)
        .where(ExerciseInject.exercise_id == exercise.id)).all()
    return {(inject_id, org_id): at for inject_id, org_id, at in rows}


def _first_reports(session: DbSession, exercise: Exercise) -> dict[tuple[int, int], datetime]:
    rows = session.execute(
        select(ExerciseReport.inject_id, ExerciseReport.org_id, func.min(ExerciseReport.created_at))
        .where(ExerciseReport.exercise_id == exercise.id, ExerciseReport.inject_id.is_not(None))
        .group_by(ExerciseReport.inject_id, ExerciseReport.org_id)).all()
    return {(inject_id, org_id): first for inject_id, org_id, first in rows}


def compute(session: DbSession, exercise: Exercise) -> dict:
    """The results as they stand now (see the module docstring), a JSON-ready dict."""
    injects = list(session.execute(select(ExerciseInject).where(ExerciseInject.exercise_id == exercise.id)
                                   .order_by(ExerciseInject.number)).scalars())
    sent = [i for i in injects if i.sent_at is not None]
    orgs = session.execute(
        select(Organization.id, Organization.slug, Organization.name, Organization.sector)
        .join(ExerciseParticipant, ExerciseParticipant.org_id == Organization.id)
        .where(ExerciseParticipant.exercise_id == exercise.id)).all()
    fetched = _first_fetches(session, exercise) if sent else {}
    acknowledged = _acknowledgements(session, exercise) if sent else {}
    reported = _first_reports(session, exercise) if sent else {}

    participants = []
    for org_id, slug, name, sector in sorted(orgs, key=lambda o: (o.name.lower(), o.slug)):
        entries = []
        for inject in sent:
            key = (inject.id, org_id)
            times = {"fetch": fetched.get(key), "acknowledge": acknowledged.get(key), "report": reported.get(key)}
            missed = ["fetch"] if times["fetch"] is None else []
            if times[inject.expect] is None:
                missed.append(inject.expect)
            entries.append({
                "number": inject.number,
                "fetched_at": iso(times["fetch"]), "fetch_seconds": _seconds(inject.sent_at, times["fetch"]),
                "acknowledged_at": iso(times["acknowledge"]),
                "acknowledge_seconds": _seconds(inject.sent_at, times["acknowledge"]),
                "reported_at": iso(times["report"]), "report_seconds": _seconds(inject.sent_at, times["report"]),
                "missed": missed,
            })
        participants.append({"organization": slug, "name": name, "sector": sector, "injects": entries})

    return {
        "exercise": {"id": exercise.id, "slug": exercise.slug, "name": exercise.name, "state": exercise.state,
                     "starts_at": iso(exercise.starts_at), "ends_at": iso(exercise.ends_at),
                     "closed_at": iso(exercise.closed_at), "frozen": False},
        "injects": [{"number": i.number, "kind": i.kind, "title": i.title, "expect": i.expect,
                     "due_at": iso(i.due_at), "sent_at": iso(i.sent_at)} for i in injects],
        "participants": participants,
        "sectors": _sectors(participants, {i.number: i.expect for i in sent}),
    }


def _sectors(participants: list[dict], expects: dict[int, str]) -> list[dict]:
    by_sector: dict[str, list[dict]] = {}
    for participant in participants:
        by_sector.setdefault(participant["sector"], []).append(participant)
    sectors = []
    for sector, members in sorted(by_sector.items()):
        entries = [entry for member in members for entry in member["injects"]]
        made = sum(1 for e in entries if expects[e["number"]] not in e["missed"])
        sectors.append({
            "sector": sector, "participants": len(members),
            "responses_expected": len(entries), "responses_made": made, "missed": len(entries) - made,
            **{f"median_{m}_seconds": _median(e[f"{m}_seconds"] for e in entries) for m in MEASURES},
        })
    return sectors


def results(session: DbSession, exercise: Exercise) -> dict:
    """What every reader shows: once closed, the results frozen at close (``frozen``: true), with
    the exercise's current state and closing time; while open, ``compute``."""
    if exercise.state == EXERCISE_CLOSED and exercise.frozen_results:
        frozen = copy.deepcopy(exercise.frozen_results)
        frozen["exercise"].update(state=exercise.state, closed_at=iso(exercise.closed_at), frozen=True)
        return frozen
    return compute(session, exercise)


def results_by_id(session: DbSession, exercise_id: int) -> dict:
    """``results`` of the exercise with this id (the after-action report's command); NotFound when
    there is none."""
    exercise = session.get(Exercise, exercise_id)
    if exercise is None:
        raise NotFound(gettext("no exercise has id %(exercise_id)s", exercise_id=exercise_id))
    return results(session, exercise)
