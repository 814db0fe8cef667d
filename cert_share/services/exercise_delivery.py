"""``run-exercises``: each due inject of an open drill goes out through the real channels, once.

An inject is due when its ``due_at`` has come and it was never sent (``sent_at`` NULL; the index
``ix_exercise_injects_due`` serves the query). Oldest first, each in its own transaction:

1. its STIX objects (stix/exercise.py), with the TLP marking definitions and the exercise
   extension's shipped objects, go into the exercise's collection (``exercise-<slug>``), which
   only the participants and the CERT read;
2. mail of kind ``exercise`` is queued to each participating organization: the people who get
   that kind (mail/preferences.py) and its duty address, as a warning about its assets is;
3. ``sent_at`` is set, claimed with ``UPDATE … WHERE sent_at IS NULL`` first, so two schedulers
   running at once send it once.

A crash before the commit leaves nothing (the next run sends it), a crash after leaves it sent:
never twice. An exercise deleted meanwhile: its deletion waits for an inject being sent (it locks
the injects first) and a later claim finds the inject gone, so nothing is sent into a deleted
collection. Mail goes to the outbox in the same transaction and ``send-mail`` delivers it later,
so an SMTP server that is down loses nothing. Injects of a closed exercise are never sent.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError

from .. import policy
from ..actor import Actor, actor_for_user
from ..database import DbSession
from ..early_warning.notify import duty_recipient
from ..mail import messages, outbox
from ..models import Collection, Exercise, ExerciseInject, Organization
from ..models.exercise import EXERCISE_OPEN
from ..stix import exercise as stix_exercise
from ..store.organizations import cert_organization
from ..store.stix_objects import add_objects

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    sent: int = 0
    mails: int = 0
    skipped: int = 0  # due injects whose exercise has no collection (left for a later run)

    def summary(self) -> str:
        text = f"run-exercises: {self.sent} inject(s) sent, {self.mails} mail(s) queued"
        if self.skipped:
            text += f", {self.skipped} skipped (exercise without a collection)"
        return text


def due_injects(session: DbSession, now: datetime) -> list[int]:
    """Ids of the injects of open exercises due at ``now`` and never sent, in due order."""
    return list(session.execute(
        select(ExerciseInject.id).join(Exercise, Exercise.id == ExerciseInject.exercise_id)
        .where(ExerciseInject.sent_at.is_(None), ExerciseInject.due_at <= now, Exercise.state == EXERCISE_OPEN)
        .order_by(ExerciseInject.due_at, ExerciseInject.exercise_id, ExerciseInject.number)).scalars())


def run_exercises(session: DbSession, now: datetime) -> str:
    """Send every due inject (module docstring); commits once per inject. A one-line summary."""
    report = DeliveryReport()
    cert = cert_organization(session)
    if cert is None:
        return "run-exercises: no CERT organization configured; nothing sent"
    for inject_id in due_injects(session, now):
        try:
            outcome = _send(session, inject_id, cert, now)
        except IntegrityError:
            # Its exercise was deleted while it went out (exercises.delete_exercise locks the
            # injects first, so only a database without row locks gets here): nothing is kept.
            log.warning("run-exercises: inject %s not sent, its exercise was deleted meanwhile", inject_id)
            outcome = -1
        if outcome is None or outcome < 0:
            session.rollback()
            report.skipped += outcome is None
            continue
        session.commit()
        report.sent += 1
        report.mails += outcome
    return report.summary()


def _send(session: DbSession, inject_id: int, cert: Organization, now: datetime) -> int | None:
    """Publish and mail one inject in the session's transaction: the number of mails queued, -1
    when another run sent it (or its exercise closed) meanwhile, None when its exercise has no
    collection."""
    table = ExerciseInject.__table__
    # Claim first: the row lock makes a concurrent run wait here and then find it sent.
    claimed = cast(CursorResult, session.execute(
        update(table).where(table.c.id == inject_id, table.c.sent_at.is_(None)).values(sent_at=now)
        .execution_options(synchronize_session=False))).rowcount
    if claimed != 1:
        return -1
    inject = session.get(ExerciseInject, inject_id, populate_existing=True)
    exercise = inject.exercise if inject is not None else None
    if inject is None or exercise is None or exercise.state != EXERCISE_OPEN:
        return -1
    collection = session.get(Collection, exercise.collection_id) if exercise.collection_id else None
    if collection is None:
        log.warning("run-exercises: exercise %s has no collection; inject %s not sent", exercise.id, inject.number)
        return None
    objects = stix_exercise.inject_objects(exercise, inject, cert, sent=now)
    add_objects(session, collection, stix_exercise.collection_objects(objects), owner_org_id=cert.id, now=now)
    return _mail(session, exercise, inject, collection, now)


def _mail(session: DbSession, exercise: Exercise, inject: ExerciseInject, collection: Collection,
          now: datetime) -> int:
    """Queue the inject's mail to each participating organization's people and duty address,
    each only if the exercise's collection would serve the inject to them."""
    count = 0
    for participant in exercise.participants:
        org = participant.organization
        if org is None:
            continue
        people = [user for user in outbox.member_recipients(session, org.id, messages.EXERCISE)
                  if _may_read(actor_for_user(user), collection, inject.tlp)]
        recipients = [messages.recipient_for(user) for user in people]
        duty = duty_recipient(org, messages.EXERCISE, people,
                              lambda reader: _may_read(reader, collection, inject.tlp))
        if duty is not None:
            recipients.append(duty)
        for recipient in recipients:
            message = messages.exercise_inject(exercise, inject, recipient, collection=collection.alias)
            if messages.queue(session, message, now=now, exercise_id=exercise.id,
                              dedupe_key=f"exercise-inject:{inject.id}:{recipient.address.lower()}"):
                count += 1
    return count


def _may_read(reader: Actor, collection: Collection, tlp: str) -> bool:
    access = policy.collection_access(reader, collection, exercise_participant=True)
    return policy.tlp_admits(access, tlp)


__all__ = ["DeliveryReport", "due_injects", "run_exercises"]
