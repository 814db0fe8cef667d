"""Cooperation requests under a second review: what happens when things happen at once (an answer
committed while the overdue job reads), when a report changed after its request was frozen, when
a partner's server writes control characters or odd TAXII, and when a partner URL predates the
rules. Each test failed before its fix, on SQLite and on PostgreSQL (the PostgreSQL-only lock test
says so)."""
from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import event, select, text

from cert_share import deadlines
from cert_share.actor import actor_for_user
from cert_share.clock import utcnow
from cert_share.errors import InputError
from cert_share.extensions import db
from cert_share.mail.delivery import RetryPolicy
from cert_share.models import AuditEntry, CooperationRequest, Incident, Organization, PartnerDelivery, User
from cert_share.services import cooperation, intake
from cert_share.services.partner_delivery import PushSettings, Refused, push_due
from cert_share.stix import cooperation as stix_coop

from ..conftest import auth
from . import medallion_server
from .cooperation_world import (
    delivery_in_app,
    file_report,
    kill_delivery,
    open_requests_in_app,
    partner_incident,
    partner_reply,
    partner_request,
    push_to_intake,
    request_id_of,
    set_taxii,
    world,
)
from .staff_login import enrol, sign_in

SETTINGS = PushSettings(policy=RetryPolicy(max_attempts=5, base_seconds=60, max_seconds=600), lease_seconds=300,
                        timeout_seconds=10, poll_interval=0.05)
TAXII_URL = "https://taxii.cert-abroad.example/api/collections/abc/"


@pytest.fixture
def coop(app, factory):
    coop = world(factory, taxii_url=TAXII_URL, staff_email="duty@cert.example")
    return {**coop, "partner_token": factory.token(coop["partner"]), "bank_token": factory.token(coop["bank"])}


def _staff(coop):
    return actor_for_user(db.session.get(User, coop["staff"].id))


def _report(app, coop, tlp="amber", share_reporter=False):
    return file_report(app, coop["bank"].id, by=coop["analyst"].id, tlp=tlp, share_reporter=share_reporter,
                       observables=[{"type": "domain-name", "value": f"kit-{uuid.uuid4().hex[:6]}.example"}])


def _open(app, coop, incident_id, **kw) -> tuple[int, str]:
    with app.app_context():
        [request] = open_requests_in_app(coop["staff"].id, incident_id, [coop["partner"].slug], **kw)
        return request.id, request.stix_id


def _incoming(client, coop, due_in=timedelta(days=1)) -> int:
    note = partner_request(due_in=due_in)
    push_to_intake(client, coop["partner_token"], [*stix_coop.extension_objects(), note])
    return request_id_of(client.application, note)


def _actions(request_id):
    return [a.action for a in db.session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
            if (a.details or {}).get("request") == request_id]


class _Pushes:
    """A partner's TAXII server that takes everything, counting what it was sent."""

    def __init__(self, during=None):
        self.calls: list[str] = []
        self.during = during

    def __call__(self, partner, bundle, settings, deadline):
        self.calls.append(partner.slug)
        if self.during is not None:
            self.during()
        return "status-1"


def _run(app, push, now=None):
    with app.app_context():
        return push_due(db.session, now=now or utcnow(), settings=SETTINGS, push=push)


def _while_overdue_is_read(app, meanwhile):
    """Run ``meanwhile`` (in another thread, its own session, committed) right after mark_overdue
    has read the requests it will mark, before it writes."""
    fired: list[bool] = []

    def after(conn, cursor, statement, parameters, context, executemany):
        if not fired and statement.lstrip().upper().startswith("SELECT") and "overdue_at IS NULL" in statement:
            fired.append(True)
            errors: list[BaseException] = []

            def run():
                try:
                    with app.app_context():
                        meanwhile()
                except BaseException as exc:  # noqa: BLE001 - reported by the test below
                    errors.append(exc)

            thread = threading.Thread(target=run)
            thread.start()
            thread.join(timeout=60)
            assert not errors, errors

    engine = db.engine
    event.listen(engine, "after_cursor_execute", after)
    try:
        return cooperation.mark_overdue(db.session, utcnow() + timedelta(hours=2))
    finally:
        event.remove(engine, "after_cursor_execute", after)
        assert fired, "mark_overdue never read the requests"


# ---- 1. mark_overdue against an answer committed meanwhile -------------------------------------

def test_an_answer_committed_while_the_overdue_job_reads_stays_answered_and_no_second_answer_leaves(
        app, coop, client):
    request_id = _incoming(client, coop, due_in=timedelta(minutes=30))

    def staff_answer():
        cooperation.answer(db.session, _staff(coop), db.session.get(CooperationRequest, request_id), message="Done")
        db.session.remove()

    with app.app_context():
        assert _while_overdue_is_read(app, staff_answer) == 0
        db.session.expire_all()
        request = db.session.get(CooperationRequest, request_id)
        assert request.state == "answered" and request.overdue_at is None
        assert "cooperation.overdue" not in _actions(request_id)
        with pytest.raises(InputError, match="already answered"):
            cooperation.answer(db.session, _staff(coop), request, message="Second answer")
        db.session.rollback()
        answers = db.session.execute(select(PartnerDelivery).where(PartnerDelivery.request_id == request_id,
                                                                   PartnerDelivery.purpose == "answer")).all()
        assert len(answers) == 1


def test_a_request_answered_but_left_overdue_by_the_old_race_takes_no_second_answer(app, coop, client):
    request_id = _incoming(client, coop)
    with app.app_context():
        cooperation.answer(db.session, _staff(coop), db.session.get(CooperationRequest, request_id), message="Done")
        request = db.session.get(CooperationRequest, request_id)
        request.state, request.overdue_at = "overdue", utcnow()  # what the race used to leave behind
        db.session.commit()
        with pytest.raises(InputError, match="already answered"):
            cooperation.answer(db.session, _staff(coop), request, message="Again")
        db.session.rollback()
        assert len(cooperation.deliveries(db.session, request)) == 1


def test_a_partners_acknowledgement_committed_while_the_overdue_job_reads_is_kept(app, coop, client):
    request_id, note_id = _open(app, coop, _report(app, coop), due_at=utcnow() + timedelta(minutes=30))
    with app.app_context():
        cooperation.delivered(db.session, delivery_in_app(request_id), now=utcnow(), taxii_status_id="s-1")
        db.session.commit()

    def partner_acknowledges():
        push_to_intake(app.test_client(), coop["partner_token"],
                       [*stix_coop.extension_objects(), partner_reply("acknowledgement", note_id)])

    with app.app_context():
        assert _while_overdue_is_read(app, partner_acknowledges) == 0
        db.session.expire_all()
        request = db.session.get(CooperationRequest, request_id)
        assert request.state == "acknowledged" and request.acknowledged_at is not None
        # The next run marks it late, keeping the acknowledgement.
        assert cooperation.mark_overdue(db.session, utcnow() + timedelta(hours=2)) == 1
        request = db.session.get(CooperationRequest, request_id)
        assert request.state == "acknowledged" and request.overdue_at is not None


def test_an_acknowledgement_arriving_while_the_request_is_pushed_is_not_overwritten_with_sent(app, coop):
    request_id, note_id = _open(app, coop, _report(app, coop))

    def partner_acknowledges_at_once():
        push_to_intake(app.test_client(), coop["partner_token"],
                       [*stix_coop.extension_objects(), partner_reply("acknowledgement", note_id)])

    report = _run(app, _Pushes(during=partner_acknowledges_at_once))
    assert report.sent == 1, report.summary()
    with app.app_context():
        request = db.session.get(CooperationRequest, request_id)
        assert request.state == "acknowledged" and request.sent_at is not None


# ---- 2. a frozen bundle whose report changed ---------------------------------------------------

def _change_report(app, incident_id, change):
    with app.app_context():
        incident = db.session.get(Incident, incident_id)
        if change == "red":
            incident.tlp = "red"
        elif change == "stricter":
            incident.tlp = "amber+strict"
        else:
            incident.share_reporter = False
        db.session.commit()


CHANGES = [("red", "it is TLP:RED now"), ("stricter", "TLP:AMBER+STRICT now, stricter than the request's TLP:AMBER"),
           ("reporter", "no longer shares its name")]


@pytest.mark.parametrize("change, said", CHANGES)
def test_resend_refuses_a_bundle_whose_report_changed_since(app, coop, change, said):
    incident_id = _report(app, coop, share_reporter=change == "reporter")
    request_id, _n = _open(app, coop, incident_id)
    kill_delivery(app, request_id, "request", "HTTP 401 Unauthorized", attempts=5)
    _change_report(app, incident_id, change)
    with app.app_context():
        with pytest.raises(InputError) as refused:
            cooperation.resend(db.session, _staff(coop), db.session.get(CooperationRequest, request_id))
        db.session.rollback()
        assert "the report changed since the request was made" in refused.value.message
        assert said in refused.value.message and "open a new request" in refused.value.message
        assert delivery_in_app(request_id).state == "dead"
        assert db.session.get(CooperationRequest, request_id).state == "failed"


@pytest.mark.parametrize("change, said", CHANGES)
def test_a_queued_request_whose_report_changed_is_never_pushed_and_fails_saying_why(app, coop, change, said):
    incident_id = _report(app, coop, share_reporter=change == "reporter")
    request_id, _n = _open(app, coop, incident_id)
    _change_report(app, incident_id, change)
    pushes = _Pushes()
    report = _run(app, pushes)
    assert pushes.calls == [] and report.failed == 1, report.summary()
    with app.app_context():
        delivery, request = delivery_in_app(request_id), db.session.get(CooperationRequest, request_id)
        assert delivery.state == "dead" and said in delivery.last_error
        assert request.state == "failed" and "open a new request" in request.last_error


def test_a_request_naming_a_member_that_still_agrees_is_pushed(app, coop):
    request_id, _n = _open(app, coop, _report(app, coop, share_reporter=True))
    pushes = _Pushes()
    assert _run(app, pushes).sent == 1 and pushes.calls == [coop["partner"].slug]


def test_nothing_is_resent_to_a_deactivated_partner_and_its_page_offers_no_resend(app, coop):
    request_id, _n = _open(app, coop, _report(app, coop))
    kill_delivery(app, request_id, "request", "HTTP 401 Unauthorized", attempts=5)
    staff = app.test_client()
    assert sign_in(staff, coop["staff"].email, enrol(app, coop["staff"])).status_code == 302
    assert 'id="resend-form"' in staff.get(f"/cooperation/{request_id}").get_data(as_text=True)
    with app.app_context():
        db.session.get(Organization, coop["partner"].id).active = False
        db.session.commit()
        with pytest.raises(InputError, match="is deactivated"):
            cooperation.resend(db.session, _staff(coop), db.session.get(CooperationRequest, request_id))
        db.session.rollback()
        assert delivery_in_app(request_id).state == "dead"
    page = staff.get(f"/cooperation/{request_id}").get_data(as_text=True)
    assert 'id="resend-form"' not in page and "is deactivated" in page and 'id="undelivered-flag"' in page
    response = client_post_json(app, coop["bank_token"], f"/api/v1/cooperation-requests/{request_id}/resend")
    assert response.status_code == 403  # members never reach cooperation requests


def client_post_json(app, token, path):
    return app.test_client().post(path, data="{}", headers={**auth(token), "Content-Type": "application/json"})


# ---- 3. control characters in what a partner says ---------------------------------------------

@pytest.fixture
def partner_server(tmp_path):
    partner, stop = medallion_server.start(tmp_path)
    yield partner
    stop()


@pytest.fixture
def over_taxii(app, coop, monkeypatch, partner_server):
    set_taxii(app, coop["partner"].id, partner_server.intake_url, "CERT_ABROAD_TAXII_USER",
              "CERT_ABROAD_TAXII_PASSWORD")
    monkeypatch.setenv("CERT_ABROAD_TAXII_USER", medallion_server.USER)
    monkeypatch.setenv("CERT_ABROAD_TAXII_PASSWORD", medallion_server.PASSWORD)
    return partner_server


def _posting(environ) -> bool:
    return environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/objects/")


def _posted(environ) -> list[dict]:
    return json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))["objects"]


def _taxii(line: str, body: bytes) -> tuple:
    return line, [("Content-Type", medallion_server.TAXII)], [body]


def _status(objects: list[dict], failures: list) -> bytes:
    return json.dumps({"id": "status-1", "status": "complete", "total_count": len(objects),
                       "success_count": len(objects) - len(failures), "failure_count": len(failures),
                       "pending_count": 0, "failures": failures}).encode()


def _push_real(app):
    with app.app_context():
        return push_due(db.session, now=utcnow(), settings=SETTINGS)


def test_a_refusal_with_a_nul_byte_is_a_refusal_stored_without_control_characters(app, coop, over_taxii):
    def answer(environ):
        if _posting(environ):
            _posted(environ)
            return _taxii("403 Forbidden", json.dumps({"title": "No\u0000 entry", "description": "bad\u0007 key\n"
                                                       }).encode())
        return None

    over_taxii.answer = answer
    incident_id = _report(app, coop)
    request_id, _n = _open(app, coop, incident_id)
    report = _push_real(app)  # on PostgreSQL the NUL used to crash the write: retried for ever
    assert report.failed == 1, report.summary()
    with app.app_context():
        delivery, request = delivery_in_app(request_id), db.session.get(CooperationRequest, request_id)
        assert delivery.state == "dead" and request.state == "failed"
        assert request.last_error == "HTTP 403 Forbidden: No entry - bad key\n"
        [failed] = db.session.execute(select(AuditEntry).where(AuditEntry.action == "cooperation.failed")).scalars()
        assert failed.details["error"] == request.last_error


def test_refused_objects_and_mail_errors_are_stored_without_control_characters(app, coop, over_taxii):
    def answer(environ):
        if _posting(environ):
            objects = _posted(environ)
            note = next(o for o in objects if o["type"] == "note")
            return _taxii("202 Accepted", _status(objects, [{"id": note["id"], "message": "not\u0000 here\u001b[31m"}]))
        return None

    over_taxii.answer = answer
    request_id, _n = _open(app, coop, _report(app, coop))
    assert _push_real(app).failed == 1
    with app.app_context():
        request = db.session.get(CooperationRequest, request_id)
        assert request.state == "failed" and "not here[31m" in request.last_error
        assert not any(ord(c) < 32 and c not in "\n\t" for c in request.last_error)
    # Whatever the route (a mail server's words, given up on): cleaned the same way.
    other_id, _n = _open(app, coop, _report(app, coop))
    kill_delivery(app, other_id, "request", "550 no\x00 such\x01 box")
    with app.app_context():
        assert db.session.get(CooperationRequest, other_id).last_error == "550 no such box"


def test_a_partners_answer_with_control_characters_is_stored_without_them(app, coop, client):
    request_id, note_id = _open(app, coop, _report(app, coop))
    answer = partner_reply("answer", note_id, message="Done\u0001\u001b.\n\tok")
    push_to_intake(client, coop["partner_token"], [*stix_coop.extension_objects(), answer])
    incoming = partner_request(message="Sinkhole\u0002 bad.example")
    push_to_intake(client, coop["partner_token"], [partner_incident(), incoming])
    with app.app_context():
        request = db.session.get(CooperationRequest, request_id)
        assert request.state == "answered" and request.answer_message == "Done.\n\tok"
        assert db.session.get(CooperationRequest, request_id_of(app, incoming)).message == "Sinkhole bad.example"


# ---- 4. odd TAXII status failures and look-ups ------------------------------------------------

def test_status_failures_whose_id_is_not_a_string_name_nothing_of_ours(app, coop, over_taxii):
    def answer(environ):
        if _posting(environ):
            objects = _posted(environ)
            return _taxii("202 Accepted", _status(objects, [{"id": ["x"]}, {"id": {"a": 1}}, {"id": 7}]))
        return None

    over_taxii.answer = answer
    request_id, _n = _open(app, coop, _report(app, coop))
    report = _push_real(app)
    assert report.sent == 1, report.summary()
    with app.app_context():
        assert db.session.get(CooperationRequest, request_id).state == "sent"


def test_a_redirect_while_looking_up_one_failure_is_judged_for_that_object_only(app, coop, over_taxii):
    held: dict[str, dict] = {}

    def answer(environ):
        path = environ["PATH_INFO"]
        if _posting(environ):
            objects = _posted(environ)
            incident = next(o for o in objects if o["type"] == "incident")
            domain = next(o for o in objects if o["type"] == "domain-name")
            held[domain["id"]] = domain
            return _taxii("202 Accepted", _status(objects, [{"id": incident["id"], "message": "duplicate"},
                                                            {"id": domain["id"], "message": "duplicate"}]))
        if "/objects/incident--" in path:
            return "302 Found", [("Location", "https://elsewhere.example/objects/")], [b""]
        for object_id, obj in held.items():
            if f"/objects/{object_id}/" in path:
                return _taxii("200 OK", json.dumps({"objects": [obj]}).encode())
        return None

    over_taxii.answer = answer
    request_id, _n = _open(app, coop, _report(app, coop))
    assert _push_real(app).failed == 1
    with app.app_context():
        error = db.session.get(CooperationRequest, request_id).last_error
        # The object it holds is no refusal; the one it would not show stands, in the partner's words.
        assert "refused 1 object(s)" in error and "incident--" in error and "duplicate" in error
        assert "redirect" not in error


def test_refused_carries_no_control_characters_whoever_builds_it():
    assert str(Refused("a\x00b\x1fc\nd")) == "abc\nd"


# ---- 5. a partner URL stored before today's rules ----------------------------------------------

@pytest.mark.parametrize("url, said", [
    ("https://taxii.cert-abroad.example/api/collections/abc/?token=s3cret", "must not have a query"),
    ("http://taxii.cert-abroad.example/api/collections/abc/", "must be https://"),
])
def test_a_partner_url_that_fails_todays_rules_is_never_pushed_to(app, coop, url, said):
    set_taxii(app, coop["partner"].id, url)
    request_id, _n = _open(app, coop, _report(app, coop))
    pushes = _Pushes()
    report = _run(app, pushes)
    assert pushes.calls == [] and report.failed == 1, report.summary()
    with app.app_context():
        delivery, request = delivery_in_app(request_id), db.session.get(CooperationRequest, request_id)
        assert delivery.state == "dead" and said in delivery.last_error and "s3cret" not in delivery.last_error
        assert request.state == "failed"


# ---- 6. the request's lock lets deliveries be inserted (PostgreSQL) ----------------------------

def test_locking_a_request_does_not_hold_up_a_delivery_inserted_for_it(app, coop):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("row locks: PostgreSQL only (SQLite locks the whole database for a writer)")
    request_id, _n = _open(app, coop, _report(app, coop))
    with app.app_context():
        cooperation._locked(db.session, db.session.get(CooperationRequest, request_id))
        with db.engine.connect() as other:
            other.execute(text("SET LOCAL lock_timeout = '2s'"))
            other.execute(text(
                "INSERT INTO partner_deliveries (request_id, partner_org_id, purpose, channel, bundle, state, "
                "attempts, next_attempt_at, created_at) SELECT id, partner_org_id, 'answer', 'taxii', '{}', "
                "'pending', 0, now(), now() FROM cooperation_requests WHERE id = :id"), {"id": request_id})
            other.rollback()
        db.session.rollback()


# ---- 7. a partner CERT's report owes no phases, not even on request ---------------------------

def test_a_partners_report_offers_and_takes_no_phase_update(app, coop, client):
    incident = partner_incident(labels=['rsit:malicious-code="c2-server"'])
    push_to_intake(client, coop["partner_token"], [incident])
    member_id = _report(app, coop)
    with app.app_context():
        theirs = db.session.execute(select(Incident).where(Incident.external_id == incident["id"])).scalar_one()
        assert deadlines.update_options(theirs, deadlines.for_incident(theirs)) == []
        with pytest.raises(InputError, match="partner CERT") as refused:
            intake.add_phase_update(db.session, incident=theirs, phase="final-report", summary="Done",
                                    details=None, actor=_staff(coop))
        assert "phase" in refused.value.errors
        db.session.rollback()
        ours = db.session.get(Incident, member_id)
        assert deadlines.update_options(ours, deadlines.for_incident(ours)) != []
