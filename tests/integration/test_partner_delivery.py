"""push-partners: cooperation requests reach a partner CERT's TAXII server (medallion) once,
survive the partner being away, end as failed with the partner's words when it refuses, and never
carry anything TLP:RED."""
from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from stix2validator import ValidationOptions, validate_instance

from cert_share.clock import utcnow
from cert_share.errors import InputError
from cert_share.extensions import db
from cert_share.mail.delivery import RetryPolicy
from cert_share.models import AuditEntry, CooperationRequest, Incident, Organization, PartnerDelivery
from cert_share.services import cooperation, partner_delivery
from cert_share.services.partner_delivery import PushSettings, claim, push_due
from cert_share.stix import cooperation as stix_coop
from cert_share.stix import markings

from . import medallion_server
from .cooperation_world import file_report, open_requests_in_app, set_taxii, world

# Quick polling and few attempts; the clock is passed in, so nothing waits for backoff.
SETTINGS = PushSettings(policy=RetryPolicy(max_attempts=5, base_seconds=60, max_seconds=600), lease_seconds=300,
                        timeout_seconds=10, poll_interval=0.05)


@pytest.fixture
def partner_server(tmp_path):
    partner, stop = medallion_server.start(tmp_path)
    yield partner
    stop()


@pytest.fixture
def coop(app, factory, monkeypatch, partner_server):
    coop = world(factory)
    set_taxii(app, coop["partner"].id, partner_server.intake_url, "CERT_ABROAD_TAXII_USER",
              "CERT_ABROAD_TAXII_PASSWORD")
    monkeypatch.setenv("CERT_ABROAD_TAXII_USER", medallion_server.USER)
    monkeypatch.setenv("CERT_ABROAD_TAXII_PASSWORD", medallion_server.PASSWORD)
    return coop


def _report(app, coop, tlp="amber", title="Mule accounts phishing", address="203.0.113.9"):
    return file_report(app, coop["bank"].id, by=coop["analyst"].id, tlp=tlp, title=title,
                       description=f"Kit at {address}",
                       observables=[{"type": "ipv4-addr", "value": address},
                                    {"type": "domain-name", "value": f"kit-{uuid.uuid4().hex[:6]}.example"}])


def _open(app, coop, incident_id, tlp="amber", confirm_strict=False, message="Who hosts 203.0.113.9?"):
    with app.app_context():
        [request] = open_requests_in_app(coop["staff"].id, incident_id, [coop["partner"].slug], message=message,
                                         tlp=tlp, confirm_strict=confirm_strict)
        return request.id


def _run(app, now=None, settings=SETTINGS):
    with app.app_context():
        return push_due(db.session, now=now or utcnow(), settings=settings)


def _request(app, request_id):
    with app.app_context():
        request = db.session.get(CooperationRequest, request_id)
        [delivery] = db.session.execute(select(PartnerDelivery).where(PartnerDelivery.request_id == request_id)
                                        ).scalars().all()
        db.session.expunge_all()
        return request, delivery


def _timeline(app, incident_id, action):
    with app.app_context():
        return db.session.execute(select(AuditEntry).where(
            AuditEntry.target_type == "incident", AuditEntry.target_id == str(incident_id),
            AuditEntry.action == action)).scalars().all()


def test_a_request_lands_at_the_partner_as_valid_stix_and_becomes_sent(app, coop, partner_server):
    incident_id = _report(app, coop)
    request_id = _open(app, coop, incident_id)
    report = _run(app)
    assert (report.sent, report.retried, report.failed) == (1, 0, 0), report.summary()

    received = partner_server.received()
    by_id = {o["id"]: o for o in received}
    request, delivery = _request(app, request_id)
    note = by_id[request.stix_id]
    assert note["extensions"][stix_coop.EXTENSION_ID]["purpose"] == "request"
    assert note["extensions"][stix_coop.EXTENSION_ID]["kind"] == "information"
    assert note["content"] == "Who hosts 203.0.113.9?"
    assert stix_coop.EXTENSION_ID in by_id, "the extension-definition did not reach the partner"
    assert {o["type"] for o in received} >= {"incident", "indicator", "ipv4-addr", "identity", "note"}
    results = validate_instance({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": received},
                                ValidationOptions(strict=False))
    assert results.is_valid, [str(e) for e in results.errors]

    assert request.state == "sent" and request.sent_at is not None
    assert request.taxii_status_id and request.taxii_status_id == delivery.taxii_status_id
    assert (delivery.state, delivery.attempts) == ("sent", 1)
    [entry] = _timeline(app, incident_id, "cooperation.sent")
    assert entry.details["taxii_status"] == request.taxii_status_id and entry.details["channel"] == "taxii"

    assert _run(app).sent == 0 and partner_server.posts_taken == 1  # a later run sends nothing again


def test_a_partner_that_is_down_for_a_while_gets_the_request_exactly_once(app, coop, partner_server):
    incident_id = _report(app, coop)
    request_id = _open(app, coop, incident_id)
    partner_server.down = 503
    now = utcnow()
    for run in range(3):
        report = _run(app, now=now + timedelta(hours=run))
        assert (report.sent, report.retried, report.failed) == (0, 1, 0), report.summary()
    request, delivery = _request(app, request_id)
    assert request.state == "queued" and delivery.state == "pending" and delivery.attempts == 3
    assert "HTTP 503" in delivery.last_error

    early = _run(app, now=now + timedelta(hours=2, seconds=1))  # backoff: not due yet
    assert early.sent + early.retried == 0

    partner_server.down = 0
    assert _run(app, now=now + timedelta(hours=5)).sent == 1
    assert _run(app, now=now + timedelta(hours=9)).sent == 0
    request, delivery = _request(app, request_id)
    assert request.state == "sent" and (delivery.state, delivery.attempts) == ("sent", 4)
    assert partner_server.posts_taken == 1
    ids = [o["id"] for o in partner_server.received()]
    assert ids.count(request.stix_id) == 1 and len(ids) == len(set(ids))
    with app.app_context():
        bundle_ids = {o["id"] for o in db.session.get(PartnerDelivery, delivery.id).bundle["objects"]}
    assert bundle_ids <= set(ids), "something the request carried never reached the partner"
    assert len(_timeline(app, incident_id, "cooperation.sent")) == 1


def test_nothing_listening_is_retried_then_given_up_with_the_reason(app, coop):
    with app.app_context():
        org = db.session.get(Organization, coop["partner"].id)
        org.taxii_url = f"http://127.0.0.1:9/partner/collections/{medallion_server.INTAKE_ID}/"
        db.session.commit()
    incident_id = _report(app, coop)
    request_id = _open(app, coop, incident_id)
    now = utcnow()
    for run in range(SETTINGS.policy.max_attempts):
        _run(app, now=now + timedelta(days=run))
    request, delivery = _request(app, request_id)
    assert delivery.state == "dead" and delivery.attempts == SETTINGS.policy.max_attempts
    assert request.state == "failed" and "gave up after 5 attempts: unreachable" in request.last_error
    [entry] = _timeline(app, incident_id, "cooperation.failed")
    assert "unreachable" in entry.details["error"]


def test_an_unset_credential_variable_is_named_and_retried(app, coop, monkeypatch, partner_server):
    monkeypatch.delenv("CERT_ABROAD_TAXII_PASSWORD")
    incident_id = _report(app, coop)
    request_id = _open(app, coop, incident_id)
    report = _run(app)
    assert report.retried == 1 and "CERT_ABROAD_TAXII_PASSWORD" in report.summary()
    request, delivery = _request(app, request_id)
    assert request.state == "queued" and "environment variable CERT_ABROAD_TAXII_PASSWORD" in delivery.last_error
    monkeypatch.setenv("CERT_ABROAD_TAXII_PASSWORD", medallion_server.PASSWORD)
    assert _run(app, now=utcnow() + timedelta(hours=1)).sent == 1
    assert partner_server.posts_taken == 1


@pytest.mark.parametrize("refusal, said", [
    ("wrong password", "HTTP 401"),
    ("read-only collection", "does not allow writing"),
    ("no such collection", "HTTP 404"),
])
def test_a_partner_that_refuses_makes_the_request_failed_with_its_error(app, coop, monkeypatch, partner_server,
                                                                        refusal, said):
    if refusal == "wrong password":
        monkeypatch.setenv("CERT_ABROAD_TAXII_PASSWORD", "not-the-password")
    else:
        with app.app_context():
            org = db.session.get(Organization, coop["partner"].id)
            org.taxii_url = (partner_server.read_only_url if refusal == "read-only collection" else
                             f"{partner_server.base}/partner/collections/{uuid.uuid4()}/")
            db.session.commit()
    incident_id = _report(app, coop)
    request_id = _open(app, coop, incident_id)
    report = _run(app)
    assert (report.sent, report.retried, report.failed) == (0, 0, 1), report.summary()
    request, delivery = _request(app, request_id)
    assert request.state == "failed" and request.failed_at is not None
    assert said in request.last_error and delivery.state == "dead" and delivery.attempts == 1
    [entry] = _timeline(app, incident_id, "cooperation.failed")
    assert said in entry.details["error"]
    assert _run(app, now=utcnow() + timedelta(days=1)).failed == 0  # dead: never tried again
    assert partner_server.posts_taken == 0


def test_a_run_that_died_after_the_partner_took_the_bundle_is_not_a_refusal_when_repeated(app, coop, partner_server):
    incident_id = _report(app, coop)
    request_id = _open(app, coop, incident_id)
    now = utcnow()
    with app.app_context():  # a run claims, pushes, and dies before recording the status
        _token, [row] = claim(db.session, now=now, lease_seconds=300)
        partner = db.session.get(Organization, row.partner_org_id)
        partner_delivery.push_taxii(partner, row.bundle, SETTINGS)
        db.session.rollback()
    assert _run(app, now=now + timedelta(seconds=200)).sent == 0  # still leased to the dead run
    # After the lease, the next run posts the same objects again; medallion lists each as a
    # failure ("Unable to process object") since it holds that id and version already.
    report = _run(app, now=now + timedelta(seconds=301))
    assert (report.sent, report.failed) == (1, 0), report.summary()
    request, delivery = _request(app, request_id)
    assert request.state == "sent" and delivery.state == "sent"
    assert partner_server.posts_taken == 2
    ids = [o["id"] for o in partner_server.received()]
    assert ids.count(request.stix_id) == 1 and len(ids) == len(set(ids))
    assert len(_timeline(app, incident_id, "cooperation.sent")) == 1


def test_objects_the_partner_refuses_make_the_request_failed_with_its_words(app, coop, partner_server):
    partner_server.refuse_types = frozenset({"note"})  # the partner's server takes no notes
    incident_id = _report(app, coop)
    request_id = _open(app, coop, incident_id)
    report = _run(app)
    assert (report.sent, report.retried, report.failed) == (0, 0, 1), report.summary()
    request, delivery = _request(app, request_id)
    assert request.state == "failed" and delivery.state == "dead"
    assert "note objects are not accepted by this collection" in request.last_error
    assert request.stix_id in request.last_error and delivery.taxii_status_id in request.last_error
    [entry] = _timeline(app, incident_id, "cooperation.failed")
    assert "note objects are not accepted by this collection" in entry.details["error"]
    assert not _timeline(app, incident_id, "cooperation.sent")


def test_no_tlp_red_object_ever_reaches_the_partner(app, coop, partner_server):
    red_id = _report(app, coop, tlp="red", title="Named victim", address="198.51.100.66")
    from cert_share.actor import CLI
    from cert_share.services.case_access import name_staff
    with app.app_context():
        name_staff(db.session, db.session.get(Incident, red_id), coop["staff"].id, actor=CLI)
        db.session.commit()
    with pytest.raises(InputError, match="TLP:RED never leaves"):
        _open(app, coop, red_id, tlp="red", confirm_strict=True)
    amber = _report(app, coop, tlp="amber", address="203.0.113.9")
    green = _report(app, coop, tlp="green", address="192.0.2.77")
    opened = [_open(app, coop, amber), _open(app, coop, green), _open(app, coop, green, tlp="amber"),
              _open(app, coop, amber, tlp="amber+strict", confirm_strict=True)]
    with pytest.raises(InputError, match="TLP:RED never leaves"):
        _open(app, coop, amber, tlp="red", confirm_strict=True)
    assert _run(app).sent == len(opened)

    received = partner_server.received()
    assert received, "the partner received nothing: the test would prove nothing"
    red = markings.marking_id("red")
    assert red not in json.dumps(received)
    assert all(markings.tlp_of(o) != "red" for o in received)
    with app.app_context():
        incident = db.session.get(Incident, red_id)
        red_ids = {o["id"] for o in cooperation.request_objects(db.session, incident) if o["type"] != "identity"}
        red_values = {ob.value for ob in incident.observables}
    assert red_ids and not red_ids & {o["id"] for o in received}
    assert not any(value in json.dumps(received) for value in red_values)
    assert "Named victim" not in json.dumps(received)


def test_two_runs_at_once_never_push_one_delivery_twice(app, coop, partner_server):
    requests = [_open(app, coop, _report(app, coop, address=f"203.0.113.{n}")) for n in range(1, 7)]
    partner_server.delay = 0.2  # each push takes a while, so the two runs overlap
    now = utcnow()
    reports, errors = [], []

    def run():
        try:
            with app.app_context():
                reports.append(push_due(db.session, now=now, settings=SETTINGS, limit=2))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sum(r.sent for r in reports) == len(requests) and all(r.sent for r in reports), \
        [r.summary() for r in reports]
    assert partner_server.posts_taken == len(requests)
    for request_id in requests:
        request, delivery = _request(app, request_id)
        assert request.state == "sent" and delivery.attempts == 1
        assert len(_timeline(app, request.incident_id, "cooperation.sent")) == 1


def test_a_claimed_delivery_is_not_claimed_again_until_its_lease_runs_out(app, coop):
    _open(app, coop, _report(app, coop))
    now = utcnow()
    with app.app_context():
        first, rows = claim(db.session, now=now, lease_seconds=300)
        assert len(rows) == 1
        assert claim(db.session, now=now + timedelta(seconds=299))[1] == []
        # The first run died: after its lease, another run takes the delivery over.
        second, again = claim(db.session, now=now + timedelta(seconds=301))
        assert [r.id for r in again] == [rows[0].id] and second != first


def test_the_job_is_listed_and_runs_from_the_command_line(app, coop, runner, partner_server):
    request_id = _open(app, coop, _report(app, coop))
    listed = runner.invoke(args=["jobs", "list"])
    line = next(x for x in listed.output.splitlines() if x.startswith("push-partners"))
    assert "JOB_PUSH_PARTNERS_MINUTES" in line and "1 min" in line
    result = runner.invoke(args=["jobs", "run", "push-partners"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "sent 1, retry later 0, failed 0, overdue 0"
    assert _request(app, request_id)[0].state == "sent"


def test_a_partner_reached_by_mail_gets_it_through_the_outbox_and_the_request_follows_the_mail(app, coop):
    from cert_share.mail.delivery import deliver_outbox
    from cert_share.models import OutboxMessage

    with app.app_context():  # no TAXII: the partner's 24/7 address, in clear for TLP:GREEN
        db.session.get(Organization, coop["partner"].id).taxii_url = None
        db.session.commit()
    incident_id = _report(app, coop, tlp="green")
    sent_id = _open(app, coop, incident_id, tlp="green")
    dead_id = _open(app, coop, _report(app, coop, tlp="green", address="192.0.2.8"), tlp="green")
    first = _run(app)
    assert (first.mailed, first.sent, first.failed) == (2, 0, 0), first.summary()
    again = _run(app, now=utcnow() + timedelta(minutes=5))  # mail not sent yet: nothing changes, nothing requeued
    assert (again.mailed, again.sent, again.failed) == (0, 0, 0), again.summary()
    with app.app_context():
        rows = {d.request_id: d for d in db.session.execute(select(PartnerDelivery)).scalars()}
        assert {(d.channel, d.state) for d in rows.values()} == {("email", "sending")}
        assert len(db.session.execute(select(OutboxMessage)).scalars().all()) == 2
        # The relay refused one mail for good: a dead letter with its reason.
        dead = db.session.get(OutboxMessage, rows[dead_id].outbox_id)
        dead.state, dead.last_error = "dead", "550 5.1.1 duty@cert-abroad.example: mailbox unavailable"
        db.session.commit()
        assert deliver_outbox(db.session, app.config, now=utcnow(), instance_path=app.instance_path).sent == 1
    synced = _run(app, now=utcnow() + timedelta(minutes=10))
    assert (synced.sent, synced.failed) == (1, 1), synced.summary()
    request, delivery = _request(app, sent_id)
    assert request.state == "sent" and delivery.state == "sent"
    [entry] = _timeline(app, incident_id, "cooperation.sent")
    assert entry.details["channel"] == "email"
    request, delivery = _request(app, dead_id)
    assert request.state == "failed" and "mailbox unavailable" in request.last_error and delivery.state == "dead"
    assert _run(app, now=utcnow() + timedelta(minutes=20)).sent == 0  # recorded once


def test_a_partner_that_never_answers_holds_the_run_only_until_the_timeout(app, coop):
    import socket
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections are taken by the kernel; nobody ever answers them
    try:
        with app.app_context():
            db.session.get(Organization, coop["partner"].id).taxii_url = \
                f"http://127.0.0.1:{silent.getsockname()[1]}/partner/collections/{medallion_server.INTAKE_ID}/"
            db.session.commit()
        request_id = _open(app, coop, _report(app, coop))
        started = time.monotonic()
        report = _run(app, settings=PushSettings(policy=SETTINGS.policy, lease_seconds=300, timeout_seconds=0.5))
        assert time.monotonic() - started < 10
    finally:
        silent.close()
    assert report.retried == 1, report.summary()
    request, delivery = _request(app, request_id)
    assert request.state == "queued" and "no answer within 0.5 s" in delivery.last_error


# ---- a partner's server that answers what no TAXII server should -----------------------------

def _posting(environ) -> bool:
    return environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/objects/")


def _posted(environ) -> list[dict]:
    """The objects of the envelope posted (the body read, as a server must)."""
    return json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))["objects"]


def _status(status_id, objects: list[dict], failures: list[dict] = ()) -> bytes:
    return json.dumps({"id": status_id, "status": "complete", "total_count": len(objects),
                       "success_count": len(objects) - len(failures), "failure_count": len(failures),
                       "pending_count": 0, "failures": list(failures)}).encode()


def _taxii(line: str, body) -> tuple:
    return line, [("Content-Type", medallion_server.TAXII)], [body] if isinstance(body, bytes) else body


@pytest.mark.parametrize("status_id", ["s" * 300, "../../collections/other", 42])
def test_a_status_id_that_is_not_taxii_is_never_stored_and_the_delivery_is_retried(app, coop, partner_server,
                                                                                   status_id):
    def answer(environ):
        if _posting(environ):
            return _taxii("202 Accepted", _status(status_id, _posted(environ)))
        return None

    partner_server.answer = answer
    incident_id = _report(app, coop)
    request_id = _open(app, coop, incident_id)
    report = _run(app)  # on PostgreSQL, a 300-character id stored would end the run with an error
    assert (report.sent, report.retried, report.failed) == (0, 1, 0), report.summary()
    request, delivery = _request(app, request_id)
    assert (delivery.state, delivery.attempts, delivery.taxii_status_id) == ("pending", 1, None)
    assert "not a TAXII status" in delivery.last_error
    assert request.state == "queued" and request.taxii_status_id is None
    assert not _timeline(app, incident_id, "cooperation.sent")

    partner_server.answer = None  # the partner's server is fixed: the next run delivers
    assert _run(app, now=utcnow() + timedelta(hours=1)).sent == 1
    request, delivery = _request(app, request_id)
    assert request.state == "sent" and (delivery.state, delivery.attempts) == ("sent", 2)


def test_an_unforeseen_error_in_one_delivery_never_ends_the_run(app, coop, partner_server, monkeypatch):
    broken = _open(app, coop, _report(app, coop, address="203.0.113.1"))
    fine = _open(app, coop, _report(app, coop, address="203.0.113.2"))
    real = cooperation.delivered

    def delivered(session, delivery, **kwargs):
        if delivery.request_id == broken:
            raise RuntimeError("the timeline refused the entry")
        return real(session, delivery, **kwargs)

    monkeypatch.setattr(cooperation, "delivered", delivered)
    now = utcnow()
    report = _run(app, now=now)
    assert (report.sent, report.retried) == (1, 1), report.summary()
    request, delivery = _request(app, broken)
    assert (delivery.state, delivery.attempts) == ("pending", 1)  # nothing of the outcome kept, the attempt counted
    assert "unexpected error: RuntimeError: the timeline refused the entry" in delivery.last_error
    assert request.state == "queued" and not _timeline(app, request.incident_id, "cooperation.sent")
    assert _request(app, fine)[0].state == "sent"

    for run in range(1, SETTINGS.policy.max_attempts):  # never a loop for ever: given up at the last attempt
        _run(app, now=now + timedelta(days=run))
    request, delivery = _request(app, broken)
    assert (delivery.state, delivery.attempts) == ("dead", SETTINGS.policy.max_attempts)
    assert request.state == "failed" and "gave up after 5 attempts: unexpected error" in request.last_error


def test_the_job_still_marks_overdue_requests_when_a_delivery_breaks(app, coop, runner, partner_server, monkeypatch):
    def delivered(session, delivery, **kwargs):
        raise RuntimeError("the timeline refused the entry")

    monkeypatch.setattr(cooperation, "delivered", delivered)
    request_id = _open(app, coop, _report(app, coop))
    late_id = _open(app, coop, _report(app, coop, address="203.0.113.3"))
    with app.app_context():
        db.session.get(CooperationRequest, late_id).due_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    result = runner.invoke(args=["jobs", "run", "push-partners"])
    assert result.exit_code == 0, result.output
    assert "retry later 2" in result.output and "overdue 1" in result.output
    assert _request(app, late_id)[0].state == "overdue" and _request(app, request_id)[0].state == "queued"


@pytest.mark.parametrize("channel", ["taxii", "email"])
def test_a_deactivated_partner_gets_nothing_and_the_request_fails_saying_so(app, coop, partner_server, channel):
    from cert_share.models import OutboxMessage

    tlp = "amber" if channel == "taxii" else "green"
    with app.app_context():
        if channel == "email":
            db.session.get(Organization, coop["partner"].id).taxii_url = None
            db.session.commit()
    incident_id = _report(app, coop, tlp=tlp)
    request_id = _open(app, coop, incident_id, tlp=tlp)
    with app.app_context():  # the partnership ended after the request was opened
        db.session.get(Organization, coop["partner"].id).active = False
        db.session.commit()
    report = _run(app)
    assert (report.sent, report.mailed, report.failed) == (0, 0, 1), report.summary()
    request, delivery = _request(app, request_id)
    said = f"partner {coop['partner'].slug} is deactivated"
    assert delivery.state == "dead" and delivery.last_error == said
    assert request.state == "failed" and request.last_error == said
    [entry] = _timeline(app, incident_id, "cooperation.failed")
    assert entry.details["error"] == said
    assert partner_server.posts_taken == 0
    with app.app_context():
        assert db.session.execute(select(OutboxMessage)).scalars().all() == []


def test_deliveries_waiting_for_a_partner_found_down_get_no_attempt_counted(app, coop, partner_server):
    first = _open(app, coop, _report(app, coop, address="203.0.113.1"))
    second = _open(app, coop, _report(app, coop, address="203.0.113.2"))
    partner_server.down = 503
    report = _run(app)
    assert (report.sent, report.retried) == (0, 2), report.summary()
    tried, waited = _request(app, first)[1], _request(app, second)[1]
    assert (tried.state, tried.attempts) == ("pending", 1) and "HTTP 503" in tried.last_error
    assert (waited.state, waited.attempts) == ("pending", 0) and "HTTP 503" in waited.last_error


# Pushes bounded by a 1 s deadline (a quarter of a 4 s lease), each request by 5 s.
QUICK = PushSettings(policy=SETTINGS.policy, lease_seconds=4, timeout_seconds=5, poll_interval=0.05)


def test_a_partner_dripping_its_answer_holds_the_push_only_until_its_deadline(app, coop, partner_server):
    import time

    def drip(objects):
        for _ in range(200):  # a byte every 50 ms: each read ends well within the request's timeout
            yield b" "
            time.sleep(0.05)
        yield _status("status-1", objects)

    def answer(environ):
        return _taxii("202 Accepted", drip(_posted(environ))) if _posting(environ) else None

    partner_server.answer = answer
    request_id = _open(app, coop, _report(app, coop))
    started = time.monotonic()
    report = _run(app, settings=QUICK)
    assert time.monotonic() - started < 5, "the push outlasted its deadline (and, longer, the lease)"
    assert report.retried == 1, report.summary()
    request, delivery = _request(app, request_id)
    assert request.state == "queued" and "the push took longer than its 1 s" in delivery.last_error


def test_looking_up_what_the_partner_holds_keeps_to_the_push_deadline(app, coop, partner_server):
    import time

    def answer(environ):
        if _posting(environ):  # every object listed as a failure: each is looked up
            objects = _posted(environ)
            return _taxii("202 Accepted", _status("status-1", objects, [{"id": o["id"]} for o in objects]))
        if "/objects/" in environ["PATH_INFO"]:
            time.sleep(0.8)
            return _taxii("404 Not Found", json.dumps({"title": "no such object"}).encode())
        return None

    partner_server.answer = answer
    request_id = _open(app, coop, _report(app, coop))
    started = time.monotonic()
    report = _run(app, settings=QUICK)
    assert time.monotonic() - started < 3.5
    assert report.retried == 1, report.summary()
    request, delivery = _request(app, request_id)
    assert request.state == "queued" and "the push took longer than its 1 s" in delivery.last_error


def test_an_answer_over_the_size_limit_is_not_read(app, coop, partner_server):
    def huge(objects):
        for _ in range(11):
            yield b" " * (1024 * 1024)
        yield _status("status-1", objects)  # valid JSON, after 11 MiB of white space

    def answer(environ):
        return _taxii("202 Accepted", huge(_posted(environ))) if _posting(environ) else None

    partner_server.answer = answer
    request_id = _open(app, coop, _report(app, coop))
    report = _run(app)
    assert report.retried == 1, report.summary()
    request, delivery = _request(app, request_id)
    assert request.state == "queued" and "the partner's answer is over 10 MiB" in delivery.last_error


def test_a_redirect_is_not_followed_so_the_credentials_stay_with_the_partner(app, coop, partner_server):
    elsewhere: list[str] = []

    def answer(environ):
        if environ["PATH_INFO"].startswith("/elsewhere/"):
            elsewhere.append(environ.get("HTTP_AUTHORIZATION", ""))
            return _taxii("202 Accepted", _status("status-1", _posted(environ)))
        if _posting(environ):
            _posted(environ)
            return "307 Temporary Redirect", [("Location", f"{partner_server.base}/elsewhere/objects/")], [b""]
        return None

    partner_server.answer = answer
    incident_id = _report(app, coop)
    request_id = _open(app, coop, incident_id)
    report = _run(app)
    assert elsewhere == [], "the redirect was followed"
    assert report.failed == 1, report.summary()
    request, delivery = _request(app, request_id)
    assert delivery.state == "dead" and request.state == "failed"
    assert "HTTP 307" in request.last_error and "redirects are not followed" in request.last_error


@pytest.mark.parametrize("reported", ["../../../status", "x/../../objects", ".."])
def test_a_collection_alias_reporting_an_unsafe_id_is_not_followed(app, coop, partner_server, reported):
    alias = "/partner/collections/intake/"
    asked: list[str] = []

    def answer(environ):
        asked.append(environ["PATH_INFO"])
        if environ["PATH_INFO"] == alias:
            return _taxii("200 OK", json.dumps({"id": reported, "title": "Intake", "can_read": True,
                                                "can_write": True}).encode())
        return None

    partner_server.answer = answer
    with app.app_context():
        db.session.get(Organization, coop["partner"].id).taxii_url = f"{partner_server.base}{alias}"
        db.session.commit()
    request_id = _open(app, coop, _report(app, coop))
    report = _run(app)
    assert report.retried == 1, report.summary()
    assert set(asked) == {alias}, asked
    request, delivery = _request(app, request_id)
    assert request.state == "queued" and "not a TAXII collection id" in delivery.last_error
