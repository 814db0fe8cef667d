"""Exercise reports: a participant answers a drill with the normal report form or API, naming the
exercise, and the report is stored here, in ``exercise_reports``, and nowhere else.

Nothing of it reaches an incident, an observable row, a warning, a deadline or a STIX object:
correlation, metrics, deadlines and the transparency report read only those, so a drill cannot
show in the real picture. The report is validated as every report is (``IncidentCreateSchema``)
and its free text masked of card numbers by intake's own function.

An exercise the caller's organization does not take part in answers exactly as one that does not
exist: a non-participant learns nothing of a drill, not even that it exists.
"""
from __future__ import annotations

from datetime import datetime

from flask_babel import gettext
from sqlalchemy import select

from .. import policy
from ..actor import Actor
from ..clock import iso, utcnow
from ..database import DbSession
from ..errors import Conflict, InputError, NotFound
from ..models import Exercise, ExerciseInject, ExerciseParticipant, ExerciseReport, Organization
from ..models.exercise import EXERCISE_OPEN
from ..store import audit
from ..vocab import N_
from .intake import without_cards

NO_SUCH_EXERCISE = N_("no exercise your organization takes part in has this id")
# Every CERT credential reads a drill's reports (the staff running it): RED's need-to-know, which a
# real report gets, cannot be kept, so a drill's report may not claim it.
RED_REFUSED = N_("a drill's report is read by the CERT staff running it: TLP:RED is not available for "
                 "exercise reports; choose AMBER+STRICT")
# The columns of exercise_reports; every other field of the validated report goes to ``details``.
_COLUMNS = ("title", "classification", "severity", "tlp")
_DROPPED = ("exercise_id", "exercise_inject")


def file_exercise_report(session: DbSession, *, org: Organization, data: dict, actor: Actor,
                         source: str) -> tuple[ExerciseReport, bool]:
    """Store a validated report (``IncidentCreateSchema`` output with ``exercise_id``) as an
    exercise report of ``org`` and commit. Returns (report, created).

    InputError on ``exercise_id`` when no exercise ``org`` takes part in has that id (the same
    message whether it exists or not), on ``tlp`` for TLP:RED (RED_REFUSED), on
    ``exercise_inject`` when that inject was not sent yet;
    Conflict when the exercise is closed. A report whose ``external_id`` the organization already
    used in this exercise (a double click on the form, a retried POST) is returned, not stored again.
    """
    exercise = _participating_exercise(session, org, data.get("exercise_id"))
    if data.get("tlp") == "red":
        raise InputError(gettext(RED_REFUSED), field="tlp")
    if exercise.state != EXERCISE_OPEN:
        raise Conflict(gettext("exercise %(id)s is closed: its results are frozen and it takes no more reports",
                               id=exercise.id))
    now = utcnow()
    inject = _answered_inject(session, exercise, data.get("exercise_inject"), now)
    data = without_cards(data)
    external_id = data.get("external_id")
    if external_id:
        existing = _by_external_id(session, exercise, org, external_id)
        if existing is not None:
            return existing, False
    report = ExerciseReport(
        exercise_id=exercise.id, inject_id=inject.id if inject is not None else None, org_id=org.id,
        reporter_id=actor.user.id if actor.user is not None else None, source=source,
        **{name: data[name] for name in _COLUMNS}, details=_details(data), created_at=now)
    report.organization = org
    session.add(report)
    session.flush()
    audit.record(session, actor, "exercise.report", "exercise_report", report.id, exercise=exercise.id,
                 inject=inject.number if inject is not None else None, org=org.slug, source=source)
    session.commit()
    return report, True


def _participating_exercise(session: DbSession, org: Organization, exercise_id: object) -> Exercise:
    exercise = None
    if isinstance(exercise_id, int):
        exercise = session.execute(
            select(Exercise).join(ExerciseParticipant, ExerciseParticipant.exercise_id == Exercise.id)
            .where(Exercise.id == exercise_id, ExerciseParticipant.org_id == org.id)).scalar_one_or_none()
    if exercise is None:
        raise InputError(gettext(NO_SUCH_EXERCISE), field="exercise_id")
    return exercise


def _answered_inject(session: DbSession, exercise: Exercise, number: int | None,
                     now: datetime) -> ExerciseInject | None:
    """The inject a report answers: the one named (already sent), else the latest sent inject
    expecting a report, else the latest sent one; None before the first inject went out."""
    sent = (select(ExerciseInject).where(ExerciseInject.exercise_id == exercise.id,
                                         ExerciseInject.sent_at.is_not(None), ExerciseInject.sent_at <= now))
    if number is not None:
        inject = session.execute(sent.where(ExerciseInject.number == number)).scalar_one_or_none()
        if inject is None:
            # Also for a number past the scenario's end: how many injects are to come is the drill's surprise.
            raise InputError(gettext("inject %(number)s has not been sent yet", number=number), field="exercise_inject")
        return inject
    latest = sent.order_by(ExerciseInject.sent_at.desc(), ExerciseInject.number.desc()).limit(1)
    return (session.execute(latest.where(ExerciseInject.expect == "report")).scalar_one_or_none()
            or session.execute(latest).scalar_one_or_none())


def _by_external_id(session: DbSession, exercise: Exercise, org: Organization,
                    external_id: str) -> ExerciseReport | None:
    # An organization files a handful of reports in a drill: reading them beats a JSON query
    # that each database spells its own way.
    for report in session.execute(select(ExerciseReport).where(ExerciseReport.exercise_id == exercise.id,
                                                               ExerciseReport.org_id == org.id)).scalars():
        if (report.details or {}).get("external_id") == external_id:
            return report
    return None


def _details(data: dict) -> dict:
    details: dict = {}
    for name, value in data.items():
        if name in _COLUMNS or name in _DROPPED:
            continue
        if name == "observables":
            value = [{"type": o.type, "value": o.value, "display": o.display} for o in value or ()]
        elif isinstance(value, datetime):
            value = iso(value)
        details[name] = value
    return details


def readable_report(session: DbSession, actor: Actor, exercise_id: int, report_id: int) -> ExerciseReport:
    """An exercise report as its organization and CERT staff may read it; NotFound for anyone
    else, exactly as for a report or exercise that does not exist."""
    report = session.get(ExerciseReport, report_id)
    if (report is None or report.exercise_id != exercise_id
            or not (policy.is_cert_staff(actor) or (actor.org_id is not None and report.org_id == actor.org_id))):
        raise NotFound(gettext("no exercise report %(report_id)s in exercise %(exercise_id)s",
                               report_id=report_id, exercise_id=exercise_id))
    return report


def report_body(session: DbSession, report: ExerciseReport) -> dict:
    """An exercise report as the API returns it (the fields of the contract, then the details)."""
    details = report.details or {}
    inject = session.get(ExerciseInject, report.inject_id) if report.inject_id is not None else None
    return {"id": report.id, "exercise_id": report.exercise_id,
            "exercise_inject": inject.number if inject is not None else None,
            "organization": report.organization.slug, "title": report.title,
            "classification": report.classification, "severity": report.severity, "tlp": report.tlp,
            "observables": details.get("observables", []), "created_at": iso(report.created_at),
            "details": {k: v for k, v in details.items() if k != "observables"}, "exercise_report": True}


def open_exercises_of(session: DbSession, org: Organization | None) -> list[Exercise]:
    """The open exercises ``org`` takes part in, newest first: what the report form offers."""
    if org is None:
        return []
    return list(session.execute(
        select(Exercise).join(ExerciseParticipant, ExerciseParticipant.exercise_id == Exercise.id)
        .where(ExerciseParticipant.org_id == org.id, Exercise.state == EXERCISE_OPEN)
        .order_by(Exercise.starts_at.desc(), Exercise.id.desc())).scalars())
