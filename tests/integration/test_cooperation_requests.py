"""Cooperation requests at the service level: what leaves (and what never does), and how a
partner's request, acknowledgement and answer, pushed into our intake, are recognised."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select

from cert_share.actor import actor_for_user
from cert_share.clock import utcnow
from cert_share.errors import InputError, PermissionDenied
from cert_share.extensions import db
from cert_share.models import AuditEntry, CooperationRequest, Incident, Organization, PartnerDelivery, User
from cert_share.services import cooperation
from cert_share.services.cooperation import RequestInput
from cert_share.stix import cooperation as stix_coop
from cert_share.stix import markings

from .cooperation_world import delivery_in_app as _delivery
from .cooperation_world import (
    file_report,
    kill_delivery,
    open_requests_in_app,
    partner_cert,
    partner_incident,
    partner_request,
    request_id_of,
    world,
)
from .cooperation_world import partner_reply as _reply
from .cooperation_world import push_to_intake as _push


@pytest.fixture
def coop(app, factory):
    coop = world(factory, taxii_url="https://taxii.cert-abroad.example/api/collections/abc/")
    return {**coop, "partner_token": factory.token(coop["partner"]), "bank_token": factory.token(coop["bank"])}


def _report(app, coop, tlp="amber", share_reporter=False):
    return file_report(app, coop["bank"].id, by=coop["analyst"].id, tlp=tlp, description="Kit at 203.0.113.9",
                       share_reporter=share_reporter)


def _open(app, coop, incident_id, partners=None, **kw):
    with app.app_context():
        chosen = partners if partners is not None else [coop["partner"].slug]
        rows = open_requests_in_app(coop["staff"].id, incident_id, chosen, **kw)
        return [(r.id, r.stix_id, r.state) for r in rows]


def _bundle_of(app, request_id):
    with app.app_context():
        return db.session.execute(select(PartnerDelivery.bundle).where(PartnerDelivery.request_id == request_id,
                                                                       PartnerDelivery.purpose == "request")
                                  ).scalar_one()


def test_a_request_is_queued_with_a_bundle_that_hides_the_reporter_and_passes_the_validator(app, coop, tmp_path):
    incident_id = _report(app, coop)
    [(request_id, note_id, state)] = _open(app, coop, incident_id)
    assert state == "queued"
    bundle = _bundle_of(app, request_id)
    by_type = {}
    for obj in bundle["objects"]:
        by_type.setdefault(obj["type"], []).append(obj)
    [note] = by_type["note"]
    assert note["id"] == note_id
    ext = note["extensions"][stix_coop.EXTENSION_ID]
    assert ext["purpose"] == "request" and ext["kind"] == "information" and ext["due_at"]
    [incident] = by_type["incident"]
    assert note["object_refs"] == [incident["id"]]
    assert stix_coop.EXTENSION_ID in {o["id"] for o in by_type["extension-definition"]}
    with app.app_context():
        cert_id = db.session.execute(select(Organization.stix_id).where(Organization.kind == "cert")).scalar_one()
        bank_id = db.session.get(Organization, coop["bank"].id).stix_id
    assert incident["created_by_ref"] == cert_id
    assert bank_id not in json.dumps(bundle), "the reporting member's identity left without its consent"
    assert by_type["indicator"] and by_type["ipv4-addr"]
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    result = subprocess.run([sys.executable, "-m", "stix2validator", "--strict-types", "--no-cache",
                             "-d", "extensions-use", str(path)],
                            capture_output=True, text=True)
    if result.returncode != 0:  # the validator's command line differs between versions: use its API
        from stix2validator import ValidationOptions, validate_file
        outcome = validate_file(str(path), ValidationOptions(strict=False))
        assert outcome.is_valid, [str(e) for r in outcome.object_results for e in r.errors]


def test_the_reporter_is_named_only_when_the_member_opted_in(app, coop):
    incident_id = _report(app, coop, share_reporter=True)
    [(request_id, _note, _state)] = _open(app, coop, incident_id)
    bundle = _bundle_of(app, request_id)
    [incident] = [o for o in bundle["objects"] if o["type"] == "incident"]
    with app.app_context():
        assert incident["created_by_ref"] == db.session.get(Organization, coop["bank"].id).stix_id


@pytest.mark.parametrize("report_tlp, request_tlp, confirm, message", [
    ("red", "red", True, "TLP:RED never leaves"),
    ("amber", "red", True, "TLP:RED never leaves"),
    ("amber", "green", False, "marked TLP:AMBER or stricter"),
    ("amber", "amber+strict", False, "only when you confirm it"),
])
def test_what_must_not_leave_is_refused_and_nothing_is_queued(app, coop, report_tlp, request_tlp, confirm, message):
    incident_id = _report(app, coop, tlp=report_tlp)
    if report_tlp == "red":  # only the staff named on a RED case read it at all
        from cert_share.actor import CLI
        from cert_share.services.case_access import name_staff
        with app.app_context():
            name_staff(db.session, db.session.get(Incident, incident_id), coop["staff"].id, actor=CLI)
            db.session.commit()
    with pytest.raises(InputError, match=message):
        _open(app, coop, incident_id, tlp=request_tlp, confirm_strict=confirm)
    with app.app_context():
        db.session.rollback()
        assert db.session.execute(select(CooperationRequest)).first() is None
        assert db.session.execute(select(PartnerDelivery)).first() is None


def test_amber_strict_leaves_once_confirmed(app, coop):
    incident_id = _report(app, coop, tlp="amber")
    [(request_id, _n, _s)] = _open(app, coop, incident_id, tlp="amber+strict", confirm_strict=True)
    bundle = _bundle_of(app, request_id)
    strict = markings.marking_id("amber+strict")
    for obj in bundle["objects"]:
        if obj["type"] in ("incident", "indicator", "note", "ipv4-addr", "sighting", "relationship"):
            assert obj["object_marking_refs"] == [strict], obj["type"]


def test_members_cannot_open_requests(app, coop):
    incident_id = _report(app, coop)
    with app.app_context():
        analyst = db.session.get(User, coop["analyst"].id)
        with pytest.raises(PermissionDenied):
            cooperation.open_requests(db.session, actor_for_user(analyst), db.session.get(Incident, incident_id),
                                      RequestInput([coop["partner"].slug], "information", "x",
                                                   utcnow() + timedelta(days=1), "amber"))


def test_a_member_cannot_be_chosen_as_a_partner(app, coop):
    incident_id = _report(app, coop)
    with pytest.raises(InputError, match="not a partner CERT"):
        _open(app, coop, incident_id, partners=[coop["bank"].slug])


def test_a_partners_request_lands_in_the_queue_with_its_report(app, coop, client):
    # The partner's bundle, as the other side's open_requests builds it.
    incident = partner_incident("amber", labels=['rsit:malicious-code="c2-server"'])
    note = partner_request(kind="preservation", message="Please preserve logs of 198.51.100.7",
                           due_in=timedelta(days=3), tlp="amber", title=incident["name"])
    status = _push(client, coop["partner_token"], [*stix_coop.extension_objects(), incident, note])
    assert status["failure_count"] == 0
    _push(client, coop["partner_token"], [incident, note])  # delivered twice: still one request
    with app.app_context():
        [request] = db.session.execute(select(CooperationRequest)).scalars().all()
        assert (request.direction, request.kind, request.state, request.stix_id) == (
            "incoming", "preservation", "received", note["id"])
        assert request.incident is not None and request.incident.org_id == coop["partner"].id
        assert request.due_at is not None and request.partner.country == "FI"
        actions = db.session.execute(select(AuditEntry.action).where(AuditEntry.target_type == "incident",
                                                                     AuditEntry.target_id == str(request.incident_id))
                                     ).scalars().all()
        assert "cooperation.received" in actions


def test_a_member_posting_a_request_note_creates_nothing(app, coop, client):
    note = partner_request(message="Take this down", incident_stix_id=f"incident--{'1' * 8}-1111-4111-8111-{'1' * 12}")
    _push(client, coop["bank_token"], [*stix_coop.extension_objects(), note])
    with app.app_context():
        assert db.session.execute(select(CooperationRequest)).first() is None


def test_the_partners_acknowledgement_and_answer_move_our_request_on(app, coop, client):
    incident_id = _report(app, coop)
    [(request_id, note_id, _s)] = _open(app, coop, incident_id)
    _push(client, coop["partner_token"], [*stix_coop.extension_objects(), _reply("acknowledgement", note_id)])
    with app.app_context():
        request = db.session.get(CooperationRequest, request_id)
        assert request.state == "acknowledged" and request.acknowledged_at is not None
    answer = _reply("answer", note_id, message="The host is a bulletproof provider; logs preserved.")
    _push(client, coop["partner_token"], [answer])
    with app.app_context():
        request = db.session.get(CooperationRequest, request_id)
        assert request.state == "answered" and request.answer_stix_id == answer["id"]
        assert "bulletproof" in request.answer_message


def test_a_plain_opinion_naming_our_request_is_an_answer(app, coop, client):
    incident_id = _report(app, coop)
    [(request_id, note_id, _s)] = _open(app, coop, incident_id)
    opinion = {"type": "opinion", "spec_version": "2.1", "id": "opinion--0b6b0cf4-2f0e-4c58-9f39-4f2d9d1d7a21",
               "created": "2026-11-30T08:00:00.000Z", "modified": "2026-11-30T08:00:00.000Z",
               "opinion": "agree", "explanation": "Confirmed, sinkholed.", "object_refs": [note_id],
               "object_marking_refs": [markings.marking_id("amber")]}
    _push(client, coop["partner_token"], [opinion])
    with app.app_context():
        request = db.session.get(CooperationRequest, request_id)
        assert request.state == "answered" and "sinkholed" in request.answer_message


def test_an_answer_to_a_request_never_sent_or_sent_to_another_partner_is_ignored_and_logged(
        app, coop, client, factory, caplog):
    other = partner_cert(factory, "CERT Elsewhere", country="SE", contact="duty@elsewhere.example")
    incident_id = _report(app, coop)
    [(request_id, note_id, _s)] = _open(app, coop, incident_id)
    stranger = _reply("answer", stix_coop.new_note_id())
    spoof = _reply("answer", note_id)
    with caplog.at_level("WARNING"):
        _push(client, coop["partner_token"], [stranger])
        _push(client, factory.token(other), [spoof])  # our request went to CERT Abroad, not to this partner
    with app.app_context():
        assert db.session.get(CooperationRequest, request_id).state == "queued"
        ignored = db.session.execute(select(AuditEntry).where(AuditEntry.action == "cooperation.ignored")
                                     ).scalars().all()
        assert len(ignored) == 2
    assert "references no request we sent" in caplog.text


def test_an_overdue_request_is_marked_once_and_an_answer_still_closes_it(app, coop, client):
    incident_id = _report(app, coop)
    [(request_id, note_id, _s)] = _open(app, coop, incident_id, due_at=utcnow() + timedelta(minutes=5))
    with app.app_context():
        assert cooperation.mark_overdue(db.session, utcnow() + timedelta(minutes=10)) == 1
        assert cooperation.mark_overdue(db.session, utcnow() + timedelta(minutes=20)) == 0
        assert db.session.get(CooperationRequest, request_id).state == "overdue"
    _push(client, coop["partner_token"], [_reply("answer", note_id)])
    with app.app_context():
        assert db.session.get(CooperationRequest, request_id).state == "answered"


def test_acknowledging_and_answering_an_incoming_request_queues_replies_to_the_partner(app, coop, client):
    note = partner_request(incident_stix_id=f"incident--{'2' * 8}-2222-4222-8222-{'2' * 12}")
    _push(client, coop["partner_token"], [*stix_coop.extension_objects(), note])
    with app.app_context():
        staff = actor_for_user(db.session.get(User, coop["staff"].id))
        request = db.session.execute(select(CooperationRequest)).scalar_one()
        cooperation.acknowledge(db.session, staff, request)
        cooperation.acknowledge(db.session, staff, request)  # twice: one acknowledgement
        red = {"type": "indicator", "spec_version": "2.1", "id": "indicator--3a8f5e1c-1d4b-4c1e-9f3a-0e7d2b6c5a41",
               "created": "2026-11-30T08:00:00.000Z", "modified": "2026-11-30T08:00:00.000Z",
               "pattern": "[domain-name:value = 'bad.example']", "pattern_type": "stix",
               "valid_from": "2026-11-30T08:00:00.000Z", "object_marking_refs": [markings.marking_id("red")]}
        with pytest.raises(InputError, match="TLP:RED"):
            cooperation.answer(db.session, staff, request, message="Sinkholed", objects=[red])
        db.session.rollback()
        green = dict(red, object_marking_refs=[markings.marking_id("green")])
        cooperation.answer(db.session, staff, request, message="Sinkholed at 10:00", objects=[green])
        deliveries = cooperation.deliveries(db.session, request)
        assert [d.purpose for d in deliveries] == ["acknowledgement", "answer"]
        answer_bundle = deliveries[1].bundle
        [answer_note] = [o for o in answer_bundle["objects"] if o["type"] == "note"]
        assert answer_note["object_refs"][0] == note["id"] and green["id"] in answer_note["object_refs"]
        assert request.state == "answered"


# ---- the state rules -----------------------------------------------------------------------------

def _incoming_request(client, coop, tlp="green", due_in=timedelta(days=1), with_incident=False) -> int:
    """A partner's request pushed into our intake; its id here."""
    incident = partner_incident(incident_id=f"incident--{stix_coop.new_note_id()[6:]}")
    note = partner_request(incident_stix_id=incident["id"], due_in=due_in, tlp=tlp)
    _push(client, coop["partner_token"],
                   [*stix_coop.extension_objects(), *([incident] if with_incident else []), note])
    return request_id_of(client.application, note)


def _staff(coop):
    return actor_for_user(db.session.get(User, coop["staff"].id))


def _dies(app, request_id, purpose, error="HTTP 401 Unauthorized"):
    kill_delivery(app, request_id, purpose, error, attempts=5)


def _delivered(app, request_id, purpose="request"):
    with app.app_context():
        delivery = _delivery(request_id, purpose)
        delivery.state = "sent"
        cooperation.delivered(db.session, delivery, now=utcnow(), taxii_status_id="status-1", via="taxii")
        db.session.commit()


def _actions(request_id):
    return [a.action for a in db.session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
            if (a.details or {}).get("request") == request_id]


def test_a_dead_delivery_after_the_partner_acknowledged_keeps_the_state_and_tells_the_error(app, coop, client):
    incident_id = _report(app, coop)
    [(request_id, note_id, _s)] = _open(app, coop, incident_id)
    _push(client, coop["partner_token"], [*stix_coop.extension_objects(), _reply("acknowledgement", note_id)])
    _dies(app, request_id, "request", error="HTTP 403: collection closed")
    with app.app_context():
        request = db.session.get(CooperationRequest, request_id)
        assert request.state == "acknowledged" and request.failed_at is None
        assert request.last_error == "HTTP 403: collection closed"
        [failed] = db.session.execute(select(AuditEntry).where(AuditEntry.action == "cooperation.failed")).scalars()
        assert failed.details["error"] == "HTTP 403: collection closed"
    # Not acknowledged yet: the request itself did not arrive, so it has failed.
    [(other_id, _n, _s)] = _open(app, coop, incident_id)
    _dies(app, other_id, "request")
    with app.app_context():
        assert db.session.get(CooperationRequest, other_id).state == "failed"


def test_a_dead_reply_leaves_our_answered_request_answered(app, coop, client):
    request_id = _incoming_request(client, coop)
    with app.app_context():
        cooperation.answer(db.session, _staff(coop), db.session.get(CooperationRequest, request_id), message="Done")
    _dies(app, request_id, "answer")
    with app.app_context():
        request = db.session.get(CooperationRequest, request_id)
        assert request.state == "answered" and "cooperation.failed" in _actions(request_id)
        assert cooperation.undelivered(db.session, [request_id]) == {request_id: 1}


def test_overdue_fires_once_and_an_acknowledged_request_stays_acknowledged_but_overdue(app, coop, client):
    incident_id = _report(app, coop)
    [(request_id, note_id, _s)] = _open(app, coop, incident_id, due_at=utcnow() + timedelta(minutes=5))
    _delivered(app, request_id)
    with app.app_context():
        assert cooperation.mark_overdue(db.session, utcnow() + timedelta(minutes=10)) == 1
        assert db.session.get(CooperationRequest, request_id).state == "overdue"
    _push(client, coop["partner_token"], [*stix_coop.extension_objects(), _reply("acknowledgement", note_id)])
    with app.app_context():
        assert cooperation.mark_overdue(db.session, utcnow() + timedelta(minutes=20)) == 0
        request = db.session.get(CooperationRequest, request_id)
        assert request.state == "acknowledged" and request.overdue_at is not None
        assert cooperation.is_overdue(request, utcnow() + timedelta(minutes=20))
        assert _actions(request_id).count("cooperation.overdue") == 1
    # Acknowledged before its due date, then late: still acknowledged, marked overdue once.
    [(early_id, early_note, _s)] = _open(app, coop, incident_id, due_at=utcnow() + timedelta(minutes=5))
    _push(client, coop["partner_token"], [*stix_coop.extension_objects(), _reply("acknowledgement", early_note)])
    with app.app_context():
        assert cooperation.mark_overdue(db.session, utcnow() + timedelta(minutes=10)) == 1
        assert cooperation.mark_overdue(db.session, utcnow() + timedelta(minutes=30)) == 0
        early = db.session.get(CooperationRequest, early_id)
        assert early.state == "acknowledged" and early.overdue_at is not None
    _push(client, coop["partner_token"], [_reply("answer", early_note)])
    with app.app_context():
        early = db.session.get(CooperationRequest, early_id)
        assert early.state == "answered" and not cooperation.is_overdue(early, utcnow() + timedelta(hours=1))


def test_resend_queues_the_dead_deliveries_again_and_a_failed_request_goes_back_to_queued(app, coop, client):
    incident_id = _report(app, coop)
    [(request_id, _n, _s)] = _open(app, coop, incident_id)
    bundle = _bundle_of(app, request_id)
    with app.app_context():
        with pytest.raises(InputError, match="nothing to resend"):
            cooperation.resend(db.session, _staff(coop), db.session.get(CooperationRequest, request_id))
    _dies(app, request_id, "request")
    with app.app_context():
        request = cooperation.resend(db.session, _staff(coop), db.session.get(CooperationRequest, request_id))
        assert (request.state, request.failed_at, request.last_error) == ("queued", None, None)
        delivery = _delivery(request_id, "request")
        assert (delivery.state, delivery.attempts, delivery.bundle) == ("pending", 0, bundle)
        assert cooperation.undelivered(db.session, [request_id]) == {}
        with pytest.raises(InputError, match="nothing to resend"):
            cooperation.resend(db.session, _staff(coop), request)
        db.session.rollback()
        analyst = actor_for_user(db.session.get(User, coop["analyst"].id))
        with pytest.raises(PermissionDenied):
            cooperation.resend(db.session, analyst, request)
    # Our acknowledgement of a partner's request died: resent, the request's state untouched.
    incoming = _incoming_request(client, coop)
    with app.app_context():
        cooperation.acknowledge(db.session, _staff(coop), db.session.get(CooperationRequest, incoming))
    _dies(app, incoming, "acknowledgement")
    with app.app_context():
        request = cooperation.resend(db.session, _staff(coop), db.session.get(CooperationRequest, incoming))
        assert request.state == "acknowledged" and _delivery(incoming, "acknowledgement").state == "pending"
        assert _actions(incoming)[-1] == "cooperation.resend"


def test_amber_strict_replies_leave_only_when_confirmed_and_unmarked_objects_count_as_amber_strict(
        app, coop, client):
    strict = _incoming_request(client, coop, tlp="amber+strict")
    with app.app_context():
        request = db.session.get(CooperationRequest, strict)
        for call in (lambda: cooperation.acknowledge(db.session, _staff(coop), request),
                     lambda: cooperation.answer(db.session, _staff(coop), request, message="Done")):
            with pytest.raises(InputError, match="confirm") as refused:
                call()
            assert "confirm_strict" in refused.value.errors
            db.session.rollback()
        assert cooperation.deliveries(db.session, request) == []
        cooperation.acknowledge(db.session, _staff(coop), request, confirm_strict=True)
        unmarked = {"type": "indicator", "spec_version": "2.1",
                    "id": "indicator--3a8f5e1c-1d4b-4c1e-9f3a-0e7d2b6c5a41", "created": "2026-11-30T08:00:00.000Z",
                    "modified": "2026-11-30T08:00:00.000Z", "pattern": "[domain-name:value = 'bad.example']",
                    "pattern_type": "stix", "valid_from": "2026-11-30T08:00:00.000Z"}
        cooperation.answer(db.session, _staff(coop), request, message="Done", objects=[unmarked],
                           confirm_strict=True)
        answer_bundle = _delivery(strict, "answer").bundle
        [sent] = [o for o in answer_bundle["objects"] if o["id"] == unmarked["id"]]
        assert sent["object_marking_refs"] == [markings.marking_id("amber+strict")]
    green = _incoming_request(client, coop, tlp="green")
    with app.app_context():
        with pytest.raises(InputError, match=r"objects\[0\] is unmarked .*TLP:AMBER\+STRICT"):
            cooperation.answer(db.session, _staff(coop), db.session.get(CooperationRequest, green),
                               message="Done", objects=[unmarked], confirm_strict=True)
        db.session.rollback()
        assert db.session.get(CooperationRequest, green).state == "received"


def test_our_answer_note_comes_first_and_names_the_cert(app, coop, client):
    request_id = _incoming_request(client, coop)
    with app.app_context():
        request = db.session.get(CooperationRequest, request_id)
        remark = {"type": "note", "spec_version": "2.1", "id": "note--7d1f3b2a-5c4e-4f6a-9b8c-1a2b3c4d5e6f",
                  "created": "2026-11-30T08:00:00.000Z", "modified": "2026-11-30T08:00:00.000Z",
                  "content": "Our analyst's remark on your request", "object_refs": [request.stix_id],
                  "object_marking_refs": [markings.marking_id("green")]}
        cooperation.answer(db.session, _staff(coop), request, message="Sinkholed", objects=[remark])
        notes = [o for o in _delivery(request_id, "answer").bundle["objects"]
                 if o["type"] == "note" and request.stix_id in o["object_refs"]]
        assert notes[0]["id"] == request.answer_stix_id and notes[1]["id"] == remark["id"]
        assert notes[0]["authors"] == [db.session.get(Organization, coop["cert"].id).name]
    incident_id = _report(app, coop)
    [(outgoing, _n, _s)] = _open(app, coop, incident_id)
    [note] = [o for o in _bundle_of(app, outgoing)["objects"] if o["type"] == "note"]
    with app.app_context():
        assert note["authors"] == [db.session.get(Organization, coop["cert"].id).name]


def test_a_partners_answer_is_taken_over_a_plain_note_pushed_with_it(app, coop, client):
    incident_id = _report(app, coop)
    [(request_id, note_id, _s)] = _open(app, coop, incident_id)
    answer = _reply("answer", note_id, message="The host is a bulletproof provider.")
    remark = {"type": "note", "spec_version": "2.1", "id": "note--7d1f3b2a-5c4e-4f6a-9b8c-1a2b3c4d5e6f",
              "created": "2026-11-30T08:00:00.000Z", "modified": "2026-11-30T08:00:00.000Z",
              "content": "An attachment that names the request too", "object_refs": [note_id],
              "object_marking_refs": [markings.marking_id("amber")]}
    _push(client, coop["partner_token"], [*stix_coop.extension_objects(), remark, answer])
    with app.app_context():
        request = db.session.get(CooperationRequest, request_id)
        assert request.answer_stix_id == answer["id"] and "bulletproof" in request.answer_message


def test_nothing_leaves_without_the_cert_organization(app, coop, client, monkeypatch):
    incident_id = _report(app, coop)
    incoming = _incoming_request(client, coop)
    monkeypatch.setattr(cooperation, "cert_organization", lambda session: None)
    from cert_share.errors import Conflict
    with pytest.raises(Conflict, match="operating CERT organization is not set up"):
        _open(app, coop, incident_id)
    with app.app_context():
        db.session.rollback()
        request = db.session.get(CooperationRequest, incoming)
        for call in (lambda: cooperation.acknowledge(db.session, _staff(coop), request),
                     lambda: cooperation.answer(db.session, _staff(coop), request, message="Done")):
            with pytest.raises(Conflict, match="operating CERT organization is not set up"):
                call()
            db.session.rollback()
        assert db.session.execute(select(PartnerDelivery)).first() is None
        assert db.session.execute(select(CooperationRequest.direction)).scalars().all() == ["incoming"]


def test_two_staff_answering_at_once_send_one_answer(app, coop, client):
    from sqlalchemy.orm import Session
    request_id = _incoming_request(client, coop)
    with app.app_context():
        stale = db.session.get(CooperationRequest, request_id)  # the first staff member's page
        assert stale.state == "received"
        with Session(db.engine) as other:  # the second answers first and commits
            cooperation.answer(other, actor_for_user(other.get(User, coop["staff"].id)),
                               other.get(CooperationRequest, request_id), message="Answer one")
        with pytest.raises(InputError, match="already answered"):
            cooperation.answer(db.session, _staff(coop), stale, message="Answer two")
        db.session.rollback()
        answers = db.session.execute(select(PartnerDelivery).where(PartnerDelivery.purpose == "answer")).all()
        assert len(answers) == 1
        assert db.session.get(CooperationRequest, request_id).answer_message == "Answer one"


def test_lists_and_the_awaiting_count_keep_red_cases_to_the_staff_named_on_them(app, coop, client, factory):
    from cert_share.actor import CLI
    from cert_share.services import cooperation_queue
    from cert_share.services.case_access import name_staff
    incident_id = _report(app, coop)
    [(older, _n, _s)] = _open(app, coop, incident_id)
    red_report = _report(app, coop)
    [(newer, _n, _s)] = _open(app, coop, red_report)
    incoming = _incoming_request(client, coop, with_incident=True)
    named = factory.user(coop["cert"], role="cert-analyst")
    with app.app_context():
        red_case = db.session.get(CooperationRequest, incoming).incident_id
        for rid in (red_report, red_case):  # re-marked TLP:RED after the requests were opened
            db.session.get(Incident, rid).tlp = "red"
            name_staff(db.session, db.session.get(Incident, rid), named.id, actor=CLI)
        db.session.commit()
        staff, insider = _staff(coop), actor_for_user(db.session.get(User, named.id))
        # The newest request is a RED case's: a page of one is still one the reader may see.
        assert [r.id for r in cooperation.list_requests(db.session, staff, direction="outgoing", limit=1)] == [older]
        assert [r.id for r in cooperation.list_requests(db.session, insider, direction="outgoing",
                                                        limit=1)] == [newer]
        assert [r.id for r in cooperation.list_requests(db.session, insider, direction="outgoing",
                                                        before_id=newer)] == [older]
        assert cooperation.list_requests(db.session, staff, direction="incoming") == []
        assert cooperation_queue.awaiting_count(db.session, staff) == 0
        assert cooperation_queue.awaiting_count(db.session, insider) == 1


def test_listing_requests_takes_a_fixed_number_of_queries(app, coop, client, factory):
    from tests.integration.sql_capture import sql_statements
    other = partner_cert(factory, "CERT Elsewhere", country="SE", contact="duty@elsewhere.example",
                         taxii_url="https://taxii.elsewhere.example/api/collections/in/")
    reports = [_report(app, coop) for _ in range(4)]
    for incident_id in reports:
        _open(app, coop, incident_id, partners=[coop["partner"].slug, other.slug])
    with app.app_context():
        staff = _staff(coop)
    with sql_statements(app) as seen, app.app_context():
        rows = cooperation.list_requests(db.session, staff)
        read = {(r.partner.slug, r.incident.id) for r in rows}
    assert read == {(slug, i) for slug in (coop["partner"].slug, other.slug) for i in reports}
    assert len(seen) <= 3, seen  # the rows, their partners, their reports: not one query per row


def test_every_state_change_is_on_the_case_timeline_and_in_the_audit_log(app, coop, client):
    from cert_share.services import workspace
    from cert_share.vocab import AUDIT_ACTION_LABELS
    incident_id = _report(app, coop)
    [(request_id, note_id, _s)] = _open(app, coop, incident_id, due_at=utcnow() + timedelta(minutes=5))
    _dies(app, request_id, "request")
    with app.app_context():
        cooperation.resend(db.session, _staff(coop), db.session.get(CooperationRequest, request_id))
    _delivered(app, request_id)
    with app.app_context():
        assert cooperation.mark_overdue(db.session, utcnow() + timedelta(minutes=10)) == 1
    _push(client, coop["partner_token"], [*stix_coop.extension_objects(), _reply("acknowledgement", note_id)])
    _push(client, coop["partner_token"], [_reply("answer", note_id)])
    expected = ["cooperation.open", "cooperation.failed", "cooperation.resend", "cooperation.sent",
                "cooperation.overdue", "cooperation.acknowledged", "cooperation.answered"]
    with app.app_context():
        assert _actions(request_id) == expected
        events = [e for e in workspace.timeline(db.session, db.session.get(Incident, incident_id))
                  if e.kind == "cooperation"]
        assert [e.title for e in events] == [AUDIT_ACTION_LABELS[a] for a in expected]
        assert all(f"request #{request_id}" in e.detail for e in events)
        assert db.session.get(CooperationRequest, request_id).state == "answered"


def test_two_staff_pressing_answer_in_the_same_instant_send_one_answer(app, coop, client):
    import threading
    request_id = _incoming_request(client, coop)
    ready, outcomes = threading.Barrier(2), []

    def press(text):
        with app.app_context():
            request = db.session.get(CooperationRequest, request_id)  # both pages read "received"
            staff = _staff(coop)
            ready.wait(timeout=10)
            try:
                cooperation.answer(db.session, staff, request, message=text)
                outcomes.append("answered")
            except InputError as exc:
                db.session.rollback()
                outcomes.append(exc.message)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=press, args=(f"Answer {n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["answered", "this request is already answered"]
    with app.app_context():
        assert len(db.session.execute(select(PartnerDelivery).where(PartnerDelivery.purpose == "answer")).all()) == 1
