"""An exercise written straight into its tables, for the tests of exercise reports: the report
path is tested without depending on how exercises are created or injects sent."""
from __future__ import annotations

import uuid
from datetime import timedelta

from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import Exercise, ExerciseInject, ExerciseParticipant


def make_exercise(app, participants, *, injects=(("report", True), ("acknowledge", True), ("report", False)),
                  state: str = "open", name: str = "Autumn drill") -> int:
    """An exercise of ``participants`` (organizations) with injects given as (expect, sent); the
    sent ones went out a minute apart, oldest first. Returns its id."""
    now = utcnow()
    with app.app_context():
        exercise = Exercise(slug=f"drill-{uuid.uuid4().hex[:8]}", name=name, state=state,
                            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1),
                            created_by="test")
        db.session.add(exercise)
        db.session.flush()
        for org in participants:
            db.session.add(ExerciseParticipant(exercise_id=exercise.id, org_id=org.id))
        for number, (expect, sent) in enumerate(injects, start=1):
            due = now - timedelta(minutes=60 - number)
            db.session.add(ExerciseInject(
                exercise_id=exercise.id, number=number, offset_minutes=number, due_at=due, kind="warning",
                title=f"Inject {number}", description="", observables=[], tlp="green", expect=expect,
                stix_id=f"report--{uuid.uuid4()}", sent_at=due if sent else None))
        db.session.commit()
        return exercise.id
