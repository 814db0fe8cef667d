"""A drill built row by row at known times, for the results and after-action report tests.

Three participants: Alpha Bank and Beta Bank (financial-services), Gamma Power (energy); Delta
Grid (energy) takes no part. Three injects: 1 (warning, expects an acknowledgement) sent at T0,
2 (cooperation request, expects a report) sent at T0 + 60 min, 3 not sent yet.

- Alpha fetches inject 1 after 5 min (earlier, empty and manifest reads do not count), acknowledges
  it after 10 min; fetches inject 2 after 5 min and never reports.
- Beta fetches inject 1 after 20 min (``object`` route) and never acknowledges it; never fetches
  after inject 2 was sent, acknowledges it after 20 min (not what it asked) and reports after
  30 min (a second report later, and one attributed to no inject, do not count).
- Gamma does nothing. Delta reads the exercise's collection (ignored: not a participant), and
  Alpha reads a real collection (ignored: not the exercise's).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from cert_share.extensions import db
from cert_share.models import (
    Collection,
    Exercise,
    ExerciseAcknowledgement,
    ExerciseInject,
    ExerciseParticipant,
    ExerciseReport,
    TaxiiPoll,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def poll(org_id: int, collection_id: str, at: datetime, route: str = "objects", returned: int = 1) -> TaxiiPoll:
    return TaxiiPoll(org_id=org_id, collection_id=collection_id, route=route, polled_at=at, returned=returned)


def report(exercise_id: int, inject_id: int | None, org_id: int, at: datetime, title: str = "Drill report"):
    return ExerciseReport(exercise_id=exercise_id, inject_id=inject_id, org_id=org_id, source="api", title=title,
                          classification="malicious-code", severity="high", tlp="amber", details={},
                          created_at=at)


def make_exercise(session, org_ids: list[int], name: str = "Spring drill", slug: str = "spring-drill",
                  injects: int = 3, sent: int = 2) -> Exercise:
    """An exercise with its collection, participants and ``injects`` injects (odd numbers expect an
    acknowledgement, even ones a report) at 60-minute offsets, the first ``sent`` of them sent on time."""
    collection = Collection(id=str(uuid.uuid4()), alias=f"exercise-{slug}", title=f"[EXERCISE] {name}",
                            kind="exercise")
    session.add(collection)
    exercise = Exercise(slug=slug, name=name, starts_at=T0, ends_at=minutes(24 * 60), collection_id=collection.id,
                        created_by="staff@cert.example")
    session.add(exercise)
    session.flush()
    for org_id in org_ids:
        session.add(ExerciseParticipant(exercise_id=exercise.id, org_id=org_id))
    for number in range(1, injects + 1):
        offset = 60 * (number - 1)
        session.add(ExerciseInject(
            exercise_id=exercise.id, number=number, offset_minutes=offset, due_at=minutes(offset),
            kind="warning" if number % 2 else "cooperation", title=f"Inject {number}",
            tlp="green", expect="acknowledge" if number % 2 else "report",
            stix_id=f"report--{uuid.uuid4()}", sent_at=minutes(offset) if number <= sent else None))
    session.flush()
    return exercise


def build(factory, hostile_name: str | None = None) -> dict:
    """The scenario of the module docstring; returns the ids the tests need."""
    alpha = factory.org(hostile_name or "Alpha Bank", sector="financial-services")
    beta = factory.org("Beta Bank", sector="financial-services")
    gamma = factory.org("Gamma Power", sector="energy")
    delta = factory.org("Delta Grid", sector="energy")
    with factory.app.app_context():
        session = db.session
        exercise = make_exercise(session, [alpha.id, beta.id, gamma.id])
        coll = exercise.collection_id
        one, two = (session.query(ExerciseInject).filter_by(exercise_id=exercise.id, number=n).one() for n in (1, 2))
        real = session.query(Collection).filter(Collection.kind != "exercise").first()
        session.add_all([
            poll(alpha.id, coll, minutes(-1)),  # before inject 1 was sent
            poll(alpha.id, coll, minutes(1), route="manifest", returned=4),  # lists, hands out nothing
            poll(alpha.id, coll, minutes(2), returned=0),  # handed out nothing
            poll(alpha.id, coll, minutes(5), returned=3),
            poll(alpha.id, coll, minutes(6), returned=3),
            poll(alpha.id, coll, minutes(65)),
            poll(alpha.id, real.id, minutes(61)),  # a real collection
            poll(beta.id, coll, minutes(20), route="object"),
            poll(delta.id, coll, minutes(3)),  # not a participant
            ExerciseAcknowledgement(inject_id=one.id, org_id=alpha.id, channel="api", acknowledged_at=minutes(10)),
            ExerciseAcknowledgement(inject_id=two.id, org_id=beta.id, channel="web", acknowledged_at=minutes(80)),
            report(exercise.id, two.id, beta.id, minutes(90)),
            report(exercise.id, two.id, beta.id, minutes(100), title="Second report"),
            report(exercise.id, None, gamma.id, minutes(95), title="Unattributed"),
        ])
        session.commit()
        return {"exercise": exercise.id, "collection": coll, "alpha": alpha, "beta": beta, "gamma": gamma,
                "delta": delta, "injects": {1: one.id, 2: two.id}}
