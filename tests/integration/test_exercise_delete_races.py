"""Deleting a drill while the platform is busy with it: polls of its collection still held by the
workers' consumption log, and a run-exercises that saw its inject due. Polls of every other
collection are still written, a busy database still loses nothing, and nothing comes back
into the deleted collection."""
from __future__ import annotations

import base64
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import Collection, ExerciseInject, OutboxMessage, StixObject, TaxiiPoll
from cert_share.services import exercise_delivery
from cert_share.store import poll_log
from cert_share.store.poll_log import PollLog
from tests.conftest import auth

TAXII = "application/taxii+json;version=2.1"


@pytest.fixture
def drill(app, client, factory):
    cert = factory.cert()
    bank = factory.org("Alpha Bank", sector="financial-services")
    factory.user(bank, "member-admin", email="admin@alpha.example")
    tokens = {"cert": factory.token(cert), "bank": factory.token(bank)}
    response = client.post("/api/v1/exercises", headers=auth(tokens["cert"]), json={
        "name": "Storm", "participants": [bank.slug], "starts_at": (utcnow() - timedelta(minutes=5)).isoformat(),
        "injects": [{"offset_minutes": 0, "kind": "warning", "title": "Phishing wave", "tlp": "green",
                     "expect": "acknowledge", "observables": [{"type": "ipv4-addr", "value": "192.0.2.10"}]}]})
    assert response.status_code == 201, response.get_json()
    exercise = response.get_json()
    with app.app_context():
        collection_id = db.session.execute(
            select(Collection.id).where(Collection.alias == exercise["collection"])).scalar_one()
        real_id = db.session.execute(select(Collection.id).where(Collection.alias == "all-members")).scalar_one()
    return {"exercise": exercise, "bank": bank, "tokens": tokens, "collection_id": collection_id,
            "real_id": real_id}


def _taxii(drill) -> dict:
    basic = base64.b64encode(f"{drill['bank'].slug}:{drill['tokens']['bank']}".encode()).decode()
    return {"Authorization": f"Basic {basic}", "Accept": TAXII}


def _polls(app) -> list[tuple]:
    with app.app_context():
        return db.session.execute(
            select(Collection.alias, func.count(TaxiiPoll.id))
            .join(Collection, Collection.id == TaxiiPoll.collection_id)
            .group_by(Collection.alias).order_by(Collection.alias)).all()


def _delete(client, drill) -> None:
    response = client.delete(f"/api/v1/exercises/{drill['exercise']['id']}", headers=auth(drill["tokens"]["cert"]))
    assert response.status_code == 200, response.get_json()


def _row(drill, collection_id: str) -> dict:
    return {"org_id": drill["bank"].id, "token_id": None, "collection_id": collection_id, "route": "objects",
            "polled_at": utcnow(), "returned": 1}


def test_polls_held_for_a_deleted_drill_do_not_stop_the_log(app, client, drill, caplog):
    app.config["TAXII_POLL_LOG_SECONDS"] = 3600  # only the explicit flushes below write
    with app.app_context():
        exercise_delivery.run_exercises(db.session, utcnow())
    ours = poll_log.for_app(app)
    other_worker = PollLog(app, interval=0)  # a second worker that also served a poll of the drill:
    poll_log._LOGS.discard(other_worker)  # another process, which the deleting worker cannot reach
    try:
        collection = drill["exercise"]["collection"]
        assert client.get(f"/taxii2/api/collections/{collection}/objects/", headers=_taxii(drill)).status_code == 200
        other_worker.add(_row(drill, drill["collection_id"]))
        assert ours.pending() == 1
        _delete(client, drill)
        assert ours.pending() == 0  # the deleting worker forgot its own at once
        response = client.get("/taxii2/api/collections/all-members/objects/", headers=_taxii(drill))
        assert response.status_code == 200
        other_worker.add(_row(drill, drill["real_id"]))
        assert ours.flush_in_app() == 1
        with caplog.at_level("WARNING", logger="cert_share.store.poll_log"):
            assert other_worker.flush_in_app() == 1  # the real poll, written; the drill's dropped
        assert other_worker.pending() == 0
        assert [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()] == [
            "consumption log: 1 rows dropped, their collection or organization no longer exists "
            "(a deleted drill's collection polled before it went)"]
        assert _polls(app) == [("all-members", 2)]
        other_worker.add(_row(drill, drill["real_id"]))  # and the next batch goes through as usual
        assert other_worker.flush_in_app() == 1
        assert _polls(app) == [("all-members", 3)]
    finally:
        ours.stop()


class _BusySession:
    """The database refusing every statement, as a locked or unreachable one does."""

    def __init__(self) -> None:
        self.rolled_back = 0

    def execute(self, *args, **kwargs):
        raise OperationalError("INSERT INTO taxii_polls", {}, Exception("database is locked"))

    def commit(self) -> None:  # pragma: no cover (never reached)
        raise AssertionError("nothing to commit")

    def rollback(self) -> None:
        self.rolled_back += 1


def test_a_batch_refused_while_the_database_is_busy_is_kept(app, drill):
    worker = PollLog(app, interval=0)
    for _ in range(3):
        worker.add(_row(drill, drill["real_id"]))
    busy = _BusySession()
    assert worker.flush(busy) == 0
    assert worker.pending() == 3 and busy.rolled_back == 1
    assert _polls(app) == []
    assert worker.flush_in_app() == 3  # once the database answers again
    assert _polls(app) == [("all-members", 3)]


def test_run_exercises_that_saw_an_inject_due_before_the_drill_was_deleted(app, client, drill, monkeypatch):
    with app.app_context():
        stale = exercise_delivery.due_injects(db.session, utcnow())
    assert len(stale) == 1
    _delete(client, drill)
    monkeypatch.setattr(exercise_delivery, "due_injects", lambda session, now: stale)
    with app.app_context():
        summary = exercise_delivery.run_exercises(db.session, utcnow())
        assert summary.startswith("run-exercises: 0 inject(s) sent")
        assert db.session.execute(select(func.count()).select_from(ExerciseInject)).scalar_one() == 0
        assert db.session.execute(select(func.count()).select_from(StixObject)
                                  .where(StixObject.collection_id == drill["collection_id"])).scalar_one() == 0
        assert db.session.get(Collection, drill["collection_id"]) is None
        assert db.session.execute(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.exercise_id == drill["exercise"]["id"])).scalar_one() == 0


def test_a_drill_deleted_while_its_inject_goes_out_leaves_nothing(app, client, drill, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks: SQLite has a single writer")
    from cert_share.store.organizations import cert_organization

    outcome: dict = {}

    def delete_now() -> None:
        response = client.delete(f"/api/v1/exercises/{drill['exercise']['id']}",
                                 headers=auth(drill["tokens"]["cert"]))
        outcome["delete"] = (response.status_code, response.get_json())

    with app.app_context():  # run-exercises, its inject claimed and sent, not committed yet
        (inject_id,) = exercise_delivery.due_injects(db.session, utcnow())
        assert exercise_delivery._send(db.session, inject_id, cert_organization(db.session), utcnow()) > 0
        deleter = threading.Thread(target=delete_now)
        deleter.start()
        deleter.join(timeout=2)
        assert deleter.is_alive()  # the deletion waits for the inject being sent
        db.session.commit()
    deleter.join(timeout=60)
    assert outcome["delete"][0] == 200, outcome
    assert outcome["delete"][1]["removed"]["mail"] == 1 and outcome["delete"][1]["removed"]["objects"] > 0
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(StixObject)
                                  .where(StixObject.collection_id == drill["collection_id"])).scalar_one() == 0
        assert db.session.execute(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.exercise_id == drill["exercise"]["id"])).scalar_one() == 0
        assert exercise_delivery.run_exercises(db.session, utcnow()).startswith("run-exercises: 0 inject(s) sent")
