"""A drill's injects go out through the real channels at their time: the exercise's TAXII
collection, read with the real client by participants only, and [EXERCISE] mail through a real
SMTP server; once each, never for a closed exercise, and nothing lost while SMTP is down."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
import stix2
from sqlalchemy import func, select, update
from taxii2client.v21 import ApiRoot, Collection

from cert_share.actor import actor_for_user
from cert_share.extensions import db
from cert_share.mail.delivery import deliver_outbox
from cert_share.mail.digest import send_digests
from cert_share.models import Exercise, ExerciseInject, Organization, OutboxMessage, StixObject, User
from cert_share.services import exercise_delivery
from cert_share.services.exercises import close_exercise, create_exercise
from cert_share.stix import exercise as stix_exercise
from cert_share.vocab import OutboxState
from tests.conftest import auth
from tests.integration.mail_helpers import SmtpServer

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
API = "/taxii2/api/"


@pytest.fixture
def smtp(app):
    server = SmtpServer().start()
    app.config.update(server.config())
    yield server
    server.stop()


@pytest.fixture
def drill(app, factory):
    """Two participants (First Bank, with an admin and an analyst; Telco One, with an admin and a
    duty address) and an outsider (Other Bank); a warning inject at T0 and a cooperation request
    from a fictitious partner at T0 + 30 min."""
    cert = factory.cert()
    staff = factory.user(cert, "cert-admin", email="head@cert.example")
    bank = factory.org("First Bank", sector="financial-services")
    telco = factory.org("Telco One", sector="telecommunications")
    other = factory.org("Other Bank", sector="financial-services")
    factory.user(bank, "member-admin", email="admin@firstbank.example")
    factory.user(bank, "analyst", email="soc@firstbank.example")
    factory.user(telco, "member-admin", email="admin@telco.example")
    factory.user(other, "member-admin", email="admin@otherbank.example")
    tokens = {name: (org.slug, factory.token(org)) for name, org in
              (("bank", bank), ("telco", telco), ("other", other), ("cert", cert))}
    with app.app_context():
        db.session.get(Organization, telco.id).duty_email = "noc@telco.example"
        db.session.commit()
        exercise = create_exercise(db.session, actor_for_user(db.session.get(User, staff.id)), {
            "name": "Winter drill", "participants": [bank.slug, telco.slug], "starts_at": T0,
            "injects": [
                {"offset_minutes": 0, "kind": "warning", "title": "Phishing wave against online banking",
                 "description": "Customers get mail leading to a fake login page.", "tlp": "green",
                 "expect": "acknowledge", "observables": [{"type": "ipv4-addr", "value": "203.0.113.7"},
                                                          {"type": "domain-name", "value": "login-bank.example"}]},
                {"offset_minutes": 30, "kind": "cooperation", "title": "Preserve logs of 198.51.100.23",
                 "description": "Please preserve and share the connection logs.", "tlp": "green",
                 "expect": "report", "partner_name": "CERT-Ruritania",
                 "observables": [{"type": "ipv4-addr", "value": "198.51.100.23"}]},
            ]})
        ids = {"exercise": exercise.id, "slug": exercise.slug, "collection": exercise.collection_id,
               "staff": staff.id}
    return {**ids, "tokens": tokens, "app": app}


def run(app, now: datetime) -> str:
    with app.app_context():
        return exercise_delivery.run_exercises(db.session, now)


def sent(app, exercise_id: int) -> dict[int, datetime | None]:
    with app.app_context():
        return dict(db.session.execute(select(ExerciseInject.number, ExerciseInject.sent_at)
                                       .where(ExerciseInject.exercise_id == exercise_id)).all())


def outbox(app) -> list[tuple[str, str, int | None, str]]:
    with app.app_context():
        return sorted((row.to, row.kind, row.exercise_id, row.subject) for row in db.session.execute(
            select(OutboxMessage.to, OutboxMessage.kind, OutboxMessage.exercise_id, OutboxMessage.subject)))


def stored_ids(app, collection_id: str) -> list[str]:
    with app.app_context():
        return list(db.session.execute(select(StixObject.stix_id).where(StixObject.collection_id == collection_id)
                                       .order_by(StixObject.date_added)).scalars())


def test_each_inject_goes_out_at_its_time_once_in_order(drill):
    app, eid = drill["app"], drill["exercise"]
    assert run(app, T0 - timedelta(seconds=1)) == "run-exercises: 0 inject(s) sent, 0 mail(s) queued"
    assert sent(app, eid) == {1: None, 2: None} and stored_ids(app, drill["collection"]) == []

    # Inject 1 is due: to the collection, and to each participant's admin and duty address.
    assert run(app, T0 + timedelta(seconds=5)) == "run-exercises: 1 inject(s) sent, 3 mail(s) queued"
    assert sent(app, eid) == {1: T0 + timedelta(seconds=5), 2: None}
    mail = outbox(app)
    assert [(to, kind, exercise_id) for to, kind, exercise_id, _ in mail] == [
        ("admin@firstbank.example", "exercise", eid), ("admin@telco.example", "exercise", eid),
        ("noc@telco.example", "exercise", eid)]
    assert {subject for *_, subject in mail} == {"[TLP:GREEN] [EXERCISE] Phishing wave against online banking"}
    first = stored_ids(app, drill["collection"])
    assert len(first) > 0

    # Run again at the same time, or later before inject 2: nothing more.
    assert run(app, T0 + timedelta(seconds=5)).startswith("run-exercises: 0 inject(s) sent")
    assert run(app, T0 + timedelta(minutes=29)).startswith("run-exercises: 0 inject(s) sent")
    assert len(outbox(app)) == 3 and stored_ids(app, drill["collection"]) == first

    # A scheduler that was down catches up: inject 2 goes out when it next runs.
    assert run(app, T0 + timedelta(hours=2)) == "run-exercises: 1 inject(s) sent, 3 mail(s) queued"
    assert sent(app, eid)[2] == T0 + timedelta(hours=2)
    assert {subject for *_, subject in outbox(app)} == {
        "[TLP:GREEN] [EXERCISE] Phishing wave against online banking",
        "[TLP:GREEN] [EXERCISE] Preserve logs of 198.51.100.23"}


def _collection(live_server, drill, who: str) -> Collection:
    user, password = drill["tokens"][who]
    root = ApiRoot(f"{live_server.url}{API}", user=user, password=password)
    [coll] = [c for c in root.collections if c.alias == f"exercise-{drill['slug']}"]
    return coll


def test_a_participant_reads_the_injects_sent_with_the_real_client(live_server, drill):
    app = drill["app"]
    assert run(app, T0 + timedelta(minutes=30)).startswith("run-exercises: 2 inject(s) sent")
    coll = _collection(live_server, drill, "bank")
    assert (coll.can_read, coll.can_write) == (True, False)
    assert coll.title == "[EXERCISE] Winter drill"
    objects = coll.get_objects()["objects"]
    by_type: dict[str, list[dict]] = {}
    for obj in objects:
        stix2.parse(obj, allow_custom=False)
        by_type.setdefault(obj["type"], []).append(obj)
    [report] = by_type["report"]
    [note] = by_type["note"]
    assert report["name"] == "[EXERCISE] Phishing wave against online banking"
    assert note["abstract"] == "[EXERCISE] Preserve logs of 198.51.100.23"
    for obj in objects:
        if obj["type"] in ("identity", "marking-definition", "extension-definition"):
            continue
        ext = obj["extensions"][stix_exercise.EXTENSION_ID]
        assert (ext["exercise_id"], ext["exercise"]) == (drill["exercise"], drill["slug"])
        assert ext["inject"] == (1 if obj["id"] == report["id"] or obj["id"] in report["object_refs"] else 2)
        if "labels" in obj or obj["type"] in ("indicator", "report", "note"):
            assert "exercise" in obj["labels"]
    # Every reference resolves within what the participant may read: author, partner, extension.
    served = {o["id"] for o in objects}
    partner = stix_exercise.partner_identity_id(drill_exercise(app, drill), "CERT-Ruritania")
    assert {note["created_by_ref"], report["created_by_ref"], stix_exercise.EXTENSION_ID, partner} <= served
    assert sorted(i["pattern"] for i in by_type["indicator"]) == [
        "[domain-name:value = 'login-bank.example']", "[ipv4-addr:value = '198.51.100.23']",
        "[ipv4-addr:value = '203.0.113.7']"]
    # The other participant and the CERT read the same; nobody writes there over TAXII.
    assert {o["id"] for o in _collection(live_server, drill, "telco").get_objects()["objects"]} == served
    cert_coll = _collection(live_server, drill, "cert")
    assert {o["id"] for o in cert_coll.get_objects()["objects"]} == served and not cert_coll.can_write


def drill_exercise(app, drill):
    with app.app_context():
        exercise = db.session.get(Exercise, drill["exercise"])
        db.session.expunge(exercise)
        return exercise


def test_an_organization_that_takes_no_part_sees_nothing_of_the_collection(live_server, drill):
    app = drill["app"]
    run(app, T0 + timedelta(minutes=30))
    user, password = drill["tokens"]["other"]
    root = ApiRoot(f"{live_server.url}{API}", user=user, password=password)
    assert not [c for c in root.collections if c.alias.startswith("exercise-")]
    for ref in (drill["collection"], f"exercise-{drill['slug']}"):
        for path in ("", "objects/", "manifest/"):
            response = requests.get(f"{live_server.url}{API}collections/{ref}/{path}", auth=(user, password),
                                    headers={"Accept": "application/taxii+json;version=2.1"}, timeout=10)
            assert response.status_code == 404, (ref, path, response.status_code)
            assert "no such collection" in response.text
    # As for a collection that does not exist at all.
    missing = requests.get(f"{live_server.url}{API}collections/exercise-no-such-drill/", auth=(user, password),
                           headers={"Accept": "application/taxii+json;version=2.1"}, timeout=10)
    assert (missing.status_code, missing.text) == (404, response.text)
    assert "admin@otherbank.example" not in {to for to, *_ in outbox(app)}


def test_the_mail_reaches_participants_through_smtp_and_says_it_is_a_drill(drill, smtp, runner):
    app = drill["app"]
    run(app, T0)
    result = runner.invoke(args=["jobs", "run", "send-mail"])
    assert result.exit_code == 0, result.output
    received = {str(m["To"]): m for m in smtp.handler.messages}
    # The bank's analyst gets none (off until asked, as asset warnings), nor the outsider.
    assert set(received) == {"admin@firstbank.example", "admin@telco.example", "noc@telco.example"}
    for message in received.values():
        assert str(message["Subject"]) == "[TLP:GREEN] [EXERCISE] Phishing wave against online banking"
        text = message.get_body(("plain",)).get_content()
        assert "This is a drill, not a real incident" in text and "THIS IS AN EXERCISE" in text
        assert f"{app.config['BASE_URL']}/exercises/{drill['exercise']}/injects/1" in text
        assert f"exercise-{drill['slug']}" in text
        assert "Acknowledge" in text and "203.0.113.7" in text
        html = message.get_body(("html",)).get_content()
        assert "THIS IS AN EXERCISE" in html and f"/exercises/{drill['exercise']}/injects/1" in html
    assert "duty address of Telco One" in received["noc@telco.example"].get_body(("plain",)).get_content()

    run(app, T0 + timedelta(minutes=30))
    assert runner.invoke(args=["jobs", "run", "send-mail"]).exit_code == 0
    second = [m for m in smtp.handler.messages if "Preserve logs" in str(m["Subject"])]
    assert len(second) == 3
    text = second[0].get_body(("plain",)).get_content()
    assert "File an exercise report" in text and f'"exercise_id": {drill["exercise"]}' in text
    assert "CERT-Ruritania (fictitious partner CERT)" in text
    # Running both jobs again sends nothing twice.
    run(app, T0 + timedelta(hours=1))
    assert runner.invoke(args=["jobs", "run", "send-mail"]).exit_code == 0
    assert len(smtp.handler.messages) == 6


def test_the_scheduler_job_sends_what_is_due(drill, runner):
    result = runner.invoke(args=["jobs", "run", "run-exercises"])  # T0 is past: both injects are due
    assert result.exit_code == 0, result.output
    assert "run-exercises: 2 inject(s) sent, 6 mail(s) queued" in result.output
    assert None not in sent(drill["app"], drill["exercise"]).values()


def test_an_amber_inject_to_a_recipient_without_a_key_is_a_notice_still_marked_exercise(drill, smtp, runner):
    app = drill["app"]
    with app.app_context():
        db.session.execute(update(ExerciseInject).where(ExerciseInject.exercise_id == drill["exercise"])
                           .values(tlp="amber"))
        db.session.commit()
    run(app, T0)
    assert runner.invoke(args=["jobs", "run", "send-mail"]).exit_code == 0
    subjects = {str(m["Subject"]) for m in smtp.handler.messages}
    assert subjects == {"[TLP:CLEAR] [EXERCISE] A TLP:AMBER message is waiting for you on cert-share"}
    text = smtp.handler.messages[0].get_body(("plain",)).get_content()
    assert "Phishing wave" not in text and "203.0.113.7" not in text
    assert f"/exercises/{drill['exercise']}/injects/1" in text


def test_a_closed_exercise_sends_nothing(drill):
    app = drill["app"]
    with app.app_context():
        staff = actor_for_user(db.session.get(User, drill["staff"]))
        close_exercise(db.session, staff, db.session.get(Exercise, drill["exercise"]))
    assert run(app, T0 + timedelta(days=1)) == "run-exercises: 0 inject(s) sent, 0 mail(s) queued"
    assert sent(app, drill["exercise"]) == {1: None, 2: None}
    assert stored_ids(app, drill["collection"]) == [] and outbox(app) == []


def test_an_smtp_outage_loses_no_inject_mail_and_sends_none_twice(drill, smtp):
    app = drill["app"]
    smtp.stop()
    assert run(app, T0).startswith("run-exercises: 1 inject(s) sent, 3 mail(s)")
    with app.app_context():
        now = datetime.now(timezone.utc)
        report = deliver_outbox(db.session, app.config, now=now)
        assert (report.sent, report.retried) == (0, 3)
    # The drill goes on meanwhile: the inject is in the collection, and a rerun queues nothing more.
    assert stored_ids(app, drill["collection"])
    assert run(app, T0 + timedelta(minutes=1)).startswith("run-exercises: 0 inject(s) sent")
    smtp.start()
    with app.app_context():
        assert deliver_outbox(db.session, app.config, now=now + timedelta(minutes=5)).sent == 3
        assert deliver_outbox(db.session, app.config, now=now + timedelta(hours=1)).sent == 0
    assert sorted(str(m["To"]) for m in smtp.handler.messages) == [
        "admin@firstbank.example", "admin@telco.example", "noc@telco.example"]


def test_a_run_that_fails_midway_keeps_what_it_sent_and_the_next_run_sends_the_rest(drill, monkeypatch):
    app = drill["app"]
    real = exercise_delivery._mail

    def fail_on_second(session, exercise, inject, collection, now):
        if inject.number == 2:
            raise RuntimeError("database went away")
        return real(session, exercise, inject, collection, now)

    monkeypatch.setattr(exercise_delivery, "_mail", fail_on_second)
    with pytest.raises(RuntimeError):
        run(app, T0 + timedelta(minutes=30))
    with app.app_context():
        db.session.rollback()
    assert sent(app, drill["exercise"]) == {1: T0 + timedelta(minutes=30), 2: None}
    assert len(outbox(app)) == 3
    note_id = sent_stix_id(app, drill["exercise"], 2)
    assert note_id not in stored_ids(app, drill["collection"])

    monkeypatch.setattr(exercise_delivery, "_mail", real)
    assert run(app, T0 + timedelta(minutes=31)) == "run-exercises: 1 inject(s) sent, 3 mail(s) queued"
    assert len(outbox(app)) == 6 and note_id in stored_ids(app, drill["collection"])
    with app.app_context():
        per_recipient = db.session.execute(select(OutboxMessage.to, func.count()).group_by(OutboxMessage.to)).all()
    assert {count for _to, count in per_recipient} == {2}


def sent_stix_id(app, exercise_id: int, number: int) -> str:
    with app.app_context():
        return db.session.execute(select(ExerciseInject.stix_id).where(
            ExerciseInject.exercise_id == exercise_id, ExerciseInject.number == number)).scalar_one()


def test_a_second_scheduler_that_saw_the_inject_due_does_not_send_it_again(drill, monkeypatch):
    """Two schedulers list the same due inject; the one that commits second finds it claimed."""
    app = drill["app"]
    with app.app_context():
        stale = exercise_delivery.due_injects(db.session, T0)
    assert run(app, T0) == "run-exercises: 1 inject(s) sent, 3 mail(s) queued"
    monkeypatch.setattr(exercise_delivery, "due_injects", lambda session, now: stale)
    assert run(app, T0 + timedelta(seconds=1)) == "run-exercises: 0 inject(s) sent, 0 mail(s) queued"
    assert sent(app, drill["exercise"])[1] == T0 and len(outbox(app)) == 3


def test_drill_mail_is_never_held_for_a_digest_and_leaves_with_the_exercise(drill):
    # A drill measures the response to alert mail as it arrives: folded into a digest, an inject
    # would lose its [EXERCISE] subject and its exercise_id, and outlive the exercise's deletion.
    app = drill["app"]
    app.config["MAIL_HOURLY_CAP"] = 0  # any other kind would now wait for the digest
    with app.app_context():
        admin = db.session.execute(select(User).where(User.email == "admin@firstbank.example")).scalar_one()
        admin.mail_prefs = {"exercise": "digest"}  # a choice the page no longer offers, stored before
        db.session.commit()
    run(app, T0)
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage)).scalars().all()
        assert {(m.to, m.state, m.exercise_id) for m in rows} == {
            (to, OutboxState.PENDING, drill["exercise"])
            for to in ("admin@firstbank.example", "admin@telco.example", "noc@telco.example")}
        # A row held for the digest before this rule existed goes out alone, never folded.
        rows[0].state = OutboxState.DIGEST
        db.session.commit()
        now = T0 + timedelta(minutes=1)
        report = send_digests(db.session, now=now, period=timedelta(days=1), slot=now)
        assert (report.digests, report.folded) == (0, 0)
        assert {m.state for m in db.session.execute(select(OutboxMessage)).scalars()} == {OutboxState.PENDING}
    deleted = app.test_client().delete(f"/api/v1/exercises/{drill['exercise']}",
                                       headers=auth(drill["tokens"]["cert"][1]))
    assert deleted.status_code == 200 and deleted.get_json()["removed"]["mail"] == 3
    assert outbox(app) == []
