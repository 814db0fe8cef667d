"""The drills API as CERT staff and participants script it: create an exercise (and be told
clearly what is wrong, with nothing stored), read it (staff everything, a participant only what
was already sent, anyone else nothing), acknowledge an inject, close it and delete it with all
it left on the platform."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cert_share.clock import parse_iso, utcnow
from cert_share.extensions import db
from cert_share.models import (
    AuditEntry,
    Collection,
    Exercise,
    ExerciseAcknowledgement,
    ExerciseInject,
    ExerciseParticipant,
    ExerciseReport,
    OutboxMessage,
    StixObject,
    TaxiiPoll,
)
from tests.conftest import auth

API = "/api/v1"
HASH = "d41d8cd98f00b204e9800998ecf8427e"


@pytest.fixture
def tokens(factory, orgs):
    return {name: factory.token(org) for name, org in orgs.items()}


def _body(orgs, **changes) -> dict:
    body = {
        "name": "Cyber Storm 2026",
        "description": "Inter-sectoral drill",
        "participants": [orgs["bank"].slug],
        "starts_at": (utcnow() + timedelta(hours=1)).isoformat(),
        "injects": [
            {"offset_minutes": 90, "kind": "cooperation", "title": "CERT-XX asks about a C2",
             "description": "Partner request", "observables": [{"type": "domain-name", "value": "c2.example"}],
             "tlp": "amber", "expect": "report", "partner_name": "CERT Ruritania"},
            {"offset_minutes": 0, "kind": "warning", "title": "Phishing wave against banks",
             "observables": [{"type": "ipv4-addr", "value": "198.51.100.7"},
                             {"type": "url", "value": "hxxps://login.example.com/reset"},
                             {"type": "file:md5", "value": HASH}],
             "tlp": "green", "expect": "acknowledge"},
        ],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def _inject(**changes) -> dict:
    inject = {"offset_minutes": 0, "kind": "warning", "title": "Scan", "tlp": "green", "expect": "acknowledge",
              "observables": [{"type": "ipv4-addr", "value": "192.0.2.10"}]}
    inject.update(changes)
    return {k: v for k, v in inject.items() if v is not ...}


def _create(client, tokens, orgs, **changes) -> dict:
    response = client.post(f"{API}/exercises", json=_body(orgs, **changes), headers=auth(tokens["cert"]))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _stored(app) -> dict:
    with app.app_context():
        def count(model) -> int:
            return db.session.execute(select(func.count()).select_from(model)).scalar_one()
        return {"exercises": count(Exercise), "injects": count(ExerciseInject),
                "participants": count(ExerciseParticipant),
                "collections": db.session.execute(select(func.count()).select_from(Collection)
                                                  .where(Collection.kind == "exercise")).scalar_one(),
                "audit": db.session.execute(select(func.count()).select_from(AuditEntry)
                                            .where(AuditEntry.action.like("exercise.%"))).scalar_one()}


def _send(app, exercise_id: int, *numbers: int) -> None:
    """Mark injects sent, as run-exercises does when their time comes."""
    with app.app_context():
        for inject in db.session.execute(select(ExerciseInject).where(
                ExerciseInject.exercise_id == exercise_id, ExerciseInject.number.in_(numbers))).scalars():
            inject.sent_at = utcnow()
        db.session.commit()


def _audit(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.execute(select(AuditEntry).where(AuditEntry.action == action)).scalars().all()
        db.session.expunge_all()
        return list(rows)


# ---- creating --------------------------------------------------------------------------------

def test_staff_create_an_exercise_with_participants_by_slug_and_by_sector(app, client, orgs, tokens):
    body = _body(orgs, sectors=["telecommunications"])
    response = client.post(f"{API}/exercises", json=body, headers=auth(tokens["cert"]))
    assert response.status_code == 201, response.get_json()
    exercise = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/exercises/{exercise['id']}")
    assert exercise["slug"] == "cyber-storm-2026" and exercise["collection"] == "exercise-cyber-storm-2026"
    assert exercise["state"] == "open"
    assert [p["organization"] for p in exercise["participants"]] == [orgs["bank"].slug, orgs["telco"].slug]
    # Numbered in time order: the warning at +0 is inject 1, the partner's request at +90 is inject 2.
    first, second = exercise["injects"]
    assert (first["number"], first["kind"], first["title"]) == (1, "warning", "Phishing wave against banks")
    assert (second["number"], second["kind"], second["partner_name"]) == (2, "cooperation", "CERT Ruritania")
    starts = parse_iso(body["starts_at"])
    assert parse_iso(first["due_at"]) == starts and parse_iso(second["due_at"]) == starts + timedelta(minutes=90)
    assert first["stix_id"].startswith("report--") and second["stix_id"].startswith("note--")
    assert first["sent_at"] is None and not first["confirmed_real_values"]
    # The URL was defanged and normalized as a report's would be.
    assert {"type": "url", "value": "https://login.example.com/reset",
            "display": "https://login.example.com/reset"} in first["observables"]
    # Without an end: the first midnight UTC at least 24 hours after the last inject.
    ends = parse_iso(exercise["ends_at"])
    assert (ends.hour, ends.minute, ends.second, ends.microsecond) == (0, 0, 0, 0)
    assert timedelta(hours=24) <= ends - (starts + timedelta(minutes=90)) < timedelta(hours=48)
    with app.app_context():
        collection = db.session.execute(select(Collection).where(
            Collection.alias == "exercise-cyber-storm-2026")).scalar_one()
        assert (collection.kind, collection.title) == ("exercise", "[EXERCISE] Cyber Storm 2026")
    [entry] = _audit(app, "exercise.create")
    assert entry.target_id == str(exercise["id"]) and entry.details["injects"] == 2
    assert entry.details["participants"] == [orgs["bank"].slug, orgs["telco"].slug]


@pytest.mark.parametrize("last_inject,ends", [
    ("2027-03-02T09:17:00Z", "2027-03-04T00:00:00Z"),
    ("2027-03-02T23:59:00Z", "2027-03-04T00:00:00Z"),
    ("2027-03-02T00:00:00Z", "2027-03-03T00:00:00Z"),  # already a midnight: exactly 24 hours
    ("2027-03-02T00:01:00+02:00", "2027-03-03T00:00:00Z"),  # 22:01 UTC the day before
])
def test_the_default_end_reveals_the_day_of_the_last_inject_at_most(client, orgs, tokens, last_inject, ends):
    # Participants see ends_at: "the last inject + 24 h" would tell them the minute the last
    # inject is due, the drill's surprise. A midnight UTC tells them the day at most (09:17 and
    # 23:59 the same day end alike).
    last = parse_iso(last_inject)
    exercise = _create(client, tokens, orgs, starts_at=(last - timedelta(minutes=90)).isoformat())
    assert parse_iso(exercise["ends_at"]) == parse_iso(ends)


def test_a_second_exercise_of_the_same_name_gets_a_slug_and_collection_of_its_own(client, orgs, tokens):
    first = _create(client, tokens, orgs)
    second = _create(client, tokens, orgs)
    assert (first["slug"], second["slug"]) == ("cyber-storm-2026", "cyber-storm-2026-2")
    assert second["collection"] == "exercise-cyber-storm-2026-2"


def _red(orgs):
    return {"injects": [_inject(tlp="red")]}


BAD = [
    # (what is wrong, changes to the body, field the answer names, words it says)
    ("unknown organization", lambda o: {"participants": ["no-such-org"]}, "participants",
     "'no-such-org' is not an active member organization"),
    ("the CERT itself", lambda o: {"participants": [o["cert"].slug]}, "participants",
     "is not an active member organization"),
    ("nobody", lambda o: {"participants": []}, "participants", "choose at least one participating organization"),
    ("empty sector", lambda o: {"participants": [], "sectors": ["energy"]}, "sectors",
     "no active member organization in the sector 'energy'"),
    ("unknown sector", lambda o: {"sectors": ["bankz"]}, "sectors.0", "unknown sector 'bankz'"),
    ("no inject", lambda o: {"injects": []}, "injects", "a scenario needs at least one inject"),
    ("TLP:RED", lambda o: {"injects": [_inject(tlp="red")]}, "injects.0.tlp", "AMBER+STRICT and RED cannot"),
    ("AMBER+STRICT", lambda o: {"injects": [_inject(tlp="amber+strict")]}, "injects.0.tlp", "TLP:AMBER"),
    ("unknown kind", lambda o: {"injects": [_inject(kind="drill")]}, "injects.0.kind", "Early warning"),
    ("unknown response", lambda o: {"injects": [_inject(expect="call")]}, "injects.0.expect", "File a report"),
    ("negative offset", lambda o: {"injects": [_inject(offset_minutes=-5)]}, "injects.0.offset_minutes",
     "whole number of minutes"),
    ("offset as text", lambda o: {"injects": [_inject(offset_minutes="10")]}, "injects.0.offset_minutes",
     "Not a valid integer"),
    ("blank title", lambda o: {"injects": [_inject(title="  ")]}, "injects.0.title", "must not be blank"),
    ("bad value", lambda o: {"injects": [_inject(observables=[{"type": "ipv4-addr", "value": "300.1.1.1"}])]},
     "injects.0.observables.0.value", "is not a valid IPv4 address"),
    ("partner on a warning", lambda o: {"injects": [_inject(partner_name="CERT-XX")]}, "injects.0.partner_name",
     "only a cooperation inject comes from a partner CERT"),
    ("end before the last inject", lambda o: {"ends_at": (utcnow() + timedelta(hours=1, minutes=30)).isoformat()},
     "ends_at", "must be after the last inject's time"),
    ("unknown field", lambda o: {"budget": 3}, "budget", "Unknown field"),
    ("no start", lambda o: {"starts_at": ...}, "starts_at", "Missing data"),
    ("the end of the calendar", lambda o: {"starts_at": "9999-12-31T23:00:00Z"}, "starts_at",
     "the scenario would run past the year 9999"),
    ("not a boolean", lambda o: {"confirm_real_values": "yes"}, "confirm_real_values", "Not a valid boolean"),
]


@pytest.mark.parametrize("what,changes,field,words", BAD, ids=[case[0] for case in BAD])
def test_a_bad_exercise_is_refused_naming_the_field_and_nothing_is_stored(app, client, orgs, tokens, what,
                                                                           changes, field, words):
    before = _stored(app)
    response = client.post(f"{API}/exercises", json=_body(orgs, **changes(orgs)), headers=auth(tokens["cert"]))
    assert response.status_code == 400, response.get_json()
    error = response.get_json()
    node = error["errors"]
    for part in field.split("."):
        node = node[part]
    assert any(words in message for message in node), (what, error)
    assert _stored(app) == before


@pytest.mark.parametrize("observable,shown", [
    ({"type": "ipv4-addr", "value": "8.8.8.8"}, "8.8.8.8"),
    ({"type": "ipv4-addr", "value": "192.0.2.0/23"}, "192.0.2.0/23"),  # wider than the documentation range
    ({"type": "ipv6-addr", "value": "2a00:1450::1"}, "2a00:1450::1"),
    ({"type": "domain-name", "value": "bank.com"}, "bank.com"),
    ({"type": "domain-name", "value": "example.com.evil.io"}, "example.com.evil.io"),
    ({"type": "email-addr", "value": "ceo@realbank.com"}, "ceo@realbank.com"),
    ({"type": "url", "value": "https://8.8.4.4/login"}, "https://8.8.4.4/login"),
    ({"type": "phone-number", "value": "+84912345678"}, "+84 912 345 678"),  # no documentation range at all
])
def test_a_real_value_in_an_inject_is_refused_naming_it_unless_confirmed(app, client, orgs, tokens, observable,
                                                                        shown):
    injects = [_inject(), _inject(offset_minutes=10, observables=[observable])]
    response = client.post(f"{API}/exercises", json=_body(orgs, injects=injects), headers=auth(tokens["cert"]))
    assert response.status_code == 400
    error = response.get_json()
    [message] = error["errors"]["injects"]["1"]["observables"]
    assert message.startswith(f"{shown} is not from the documentation ranges")
    assert message.endswith("set confirm_real_values: true")
    assert error["message"] == f"inject 2: {message}"
    assert _stored(app)["exercises"] == 0

    # Confirmed on the inject, or for the whole request: stored, and the inject says so.
    injects[1]["confirm_real_values"] = True
    created = _create(client, tokens, orgs, injects=injects)
    assert [i["confirmed_real_values"] for i in created["injects"]] == [False, True]
    injects[1].pop("confirm_real_values")
    created = _create(client, tokens, orgs, injects=injects, confirm_real_values=True)
    assert [i["confirmed_real_values"] for i in created["injects"]] == [True, True]


def test_documentation_values_and_hashes_need_no_confirmation(client, orgs, tokens):
    observables = [{"type": "ipv6-addr", "value": "2001:db8::1"}, {"type": "email-addr", "value": "ceo@bank.example"},
                   {"type": "ipv4-addr", "value": "203.0.113.0/25"}, {"type": "file:sha256", "value": "a" * 64},
                   {"type": "autonomous-system", "value": "AS64500"},
                   {"type": "domain-name", "value": "www.example.org"}]
    created = _create(client, tokens, orgs, injects=[_inject(observables=observables)])
    assert len(created["injects"][0]["observables"]) == 6


def test_a_member_cannot_create_an_exercise_whatever_it_sends(client, orgs, tokens):
    for body in (_body(orgs), {"nonsense": True}):
        response = client.post(f"{API}/exercises", json=body, headers=auth(tokens["bank"]))
        assert response.status_code == 403
        assert response.get_json()["message"] == "exercises are run by CERT staff"
    response = client.post(f"{API}/exercises", data="not json", headers=auth(tokens["bank"]))
    assert response.status_code == 403


# ---- reading ---------------------------------------------------------------------------------

@pytest.fixture
def running(app, client, orgs, tokens):
    """An exercise of the first bank and the telco, its first inject sent, the second to come."""
    exercise = _create(client, tokens, orgs, participants=[orgs["bank"].slug, orgs["telco"].slug])
    _send(app, exercise["id"], 1)
    return exercise


def test_a_participant_sees_its_own_organization_and_only_the_injects_already_sent(client, orgs, tokens, running):
    response = client.get(f"{API}/exercises/{running['id']}", headers=auth(tokens["bank"]))
    assert response.status_code == 200
    seen = response.get_json()
    assert [p["organization"] for p in seen["participants"]] == [orgs["bank"].slug]
    assert [i["number"] for i in seen["injects"]] == [1]
    assert seen["injects"][0]["title"] == "Phishing wave against banks"
    assert seen["injects"][0]["acknowledged_at"] is None and seen["injects"][0]["reported"] is False
    assert seen["collection"] == "exercise-cyber-storm-2026"
    text = response.get_data(as_text=True)
    # Nothing of the inject to come: its title, its partner, its value, its time.
    for secret in ("CERT-XX asks about a C2", "CERT Ruritania", "c2.example", "offset_minutes", "due_at"):
        assert secret not in text
    assert orgs["telco"].slug not in text

    staff = client.get(f"{API}/exercises/{running['id']}", headers=auth(tokens["cert"])).get_json()
    assert [i["number"] for i in staff["injects"]] == [1, 2]
    assert len(staff["participants"]) == 2


def test_a_non_participant_learns_nothing_of_the_exercise(client, orgs, tokens, running):
    eid = running["id"]
    missing = eid + 1000
    for method, suffix in (("GET", ""), ("POST", "/injects/1/acknowledge")):
        theirs = client.open(f"{API}/exercises/{eid}{suffix}", method=method, headers=auth(tokens["bank2"]))
        none = client.open(f"{API}/exercises/{missing}{suffix}", method=method, headers=auth(tokens["bank2"]))
        assert theirs.status_code == none.status_code == 404
        assert theirs.get_json() == none.get_json()
    listed = client.get(f"{API}/exercises", headers=auth(tokens["bank2"]))
    assert listed.status_code == 200 and listed.get_json() == {"exercises": []}
    assert [e["id"] for e in client.get(f"{API}/exercises", headers=auth(tokens["bank"])).get_json()["exercises"]] \
        == [eid]
    assert [e["id"] for e in client.get(f"{API}/exercises", headers=auth(tokens["cert"])).get_json()["exercises"]] \
        == [eid]


@pytest.mark.parametrize("method,suffix", [("GET", "/results"), ("POST", "/close"), ("DELETE", "")])
def test_members_are_refused_the_staff_routes_alike_for_every_id(app, client, tokens, running, method, suffix):
    answers = [client.open(f"{API}/exercises/{eid}{suffix}", method=method, headers=auth(tokens[who]))
               for eid in (running["id"], running["id"] + 1000) for who in ("bank", "bank2")]
    assert {a.status_code for a in answers} == {403}
    assert len({a.get_data() for a in answers}) == 1
    assert _stored(app)["exercises"] == 1  # nothing closed or deleted
    with app.app_context():
        assert db.session.get(Exercise, running["id"]).state == "open"


def test_staff_read_the_results_of_an_exercise(client, orgs, tokens, running):
    response = client.get(f"{API}/exercises/{running['id']}/results", headers=auth(tokens["cert"]))
    assert response.status_code == 200
    results = response.get_json()
    assert results["exercise"]["id"] == running["id"]
    assert [p["organization"] for p in results["participants"]] == sorted([orgs["bank"].slug, orgs["telco"].slug])
    bank = next(p for p in results["participants"] if p["organization"] == orgs["bank"].slug)
    assert [(i["number"], i["missed"]) for i in bank["injects"]] == [(1, ["fetch", "acknowledge"])]
    assert client.get(f"{API}/exercises/{running['id'] + 1000}/results",
                      headers=auth(tokens["cert"])).status_code == 404


# ---- acknowledging ---------------------------------------------------------------------------

def test_a_participant_acknowledges_an_inject_once_and_a_repeat_changes_nothing(app, client, orgs, tokens, running):
    url = f"{API}/exercises/{running['id']}/injects/1/acknowledge"
    first = client.post(url, headers=auth(tokens["bank"]))
    assert first.status_code == 201
    body = first.get_json()
    assert (body["inject"], body["organization"], body["channel"], body["first"]) == (1, orgs["bank"].slug, "api",
                                                                                      True)
    again = client.post(url, headers=auth(tokens["bank"]))
    assert again.status_code == 200
    assert again.get_json()["acknowledged_at"] == body["acknowledged_at"] and again.get_json()["first"] is False
    seen = client.get(f"{API}/exercises/{running['id']}", headers=auth(tokens["bank"])).get_json()
    assert seen["injects"][0]["acknowledged_at"] == body["acknowledged_at"]
    # The telco has not acknowledged: its view says so.
    telco = client.get(f"{API}/exercises/{running['id']}", headers=auth(tokens["telco"])).get_json()
    assert telco["injects"][0]["acknowledged_at"] is None
    assert len(_audit(app, "exercise.acknowledge")) == 1
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(ExerciseAcknowledgement)).scalar_one() == 1


def test_an_inject_not_yet_sent_cannot_be_acknowledged_nor_told_from_one_that_does_not_exist(client, tokens, running):
    base = f"{API}/exercises/{running['id']}/injects"
    future = client.post(f"{base}/2/acknowledge", headers=auth(tokens["bank"]))
    missing = client.post(f"{base}/3/acknowledge", headers=auth(tokens["bank"]))
    assert future.status_code == missing.status_code == 404
    assert future.get_json() == missing.get_json()


def test_staff_do_not_acknowledge_for_a_participant(client, tokens, running):
    for eid in (running["id"], running["id"] + 1000):
        response = client.post(f"{API}/exercises/{eid}/injects/1/acknowledge", headers=auth(tokens["cert"]))
        assert response.status_code == 403


# ---- closing and deleting --------------------------------------------------------------------

def test_closing_freezes_the_results_and_ends_acknowledgements(app, client, tokens, running):
    eid = running["id"]
    closed = client.post(f"{API}/exercises/{eid}/close", headers=auth(tokens["cert"]))
    assert closed.status_code == 200
    assert closed.get_json()["state"] == "closed" and closed.get_json()["closed_at"]
    with app.app_context():
        frozen = db.session.get(Exercise, eid).frozen_results
    assert frozen["exercise"]["id"] == eid and len(frozen["participants"]) == 2
    assert client.post(f"{API}/exercises/{eid}/close", headers=auth(tokens["cert"])).status_code == 409
    late = client.post(f"{API}/exercises/{eid}/injects/1/acknowledge", headers=auth(tokens["bank"]))
    assert late.status_code == 409 and late.get_json()["message"] == "the exercise is closed"
    # What the results say no longer moves: the late acknowledgement was refused, and the
    # results are the frozen copy.
    results = client.get(f"{API}/exercises/{eid}/results", headers=auth(tokens["cert"])).get_json()
    assert results["exercise"]["frozen"] is True
    assert [p["injects"][0]["missed"] for p in results["participants"]] == [["fetch", "acknowledge"]] * 2
    assert [e.details["name"] for e in _audit(app, "exercise.close")] == ["Cyber Storm 2026"]


def test_deleting_an_exercise_removes_all_it_left_and_is_audited(app, client, orgs, tokens, running):
    eid = running["id"]
    assert client.post(f"{API}/exercises/{eid}/injects/1/acknowledge", headers=auth(tokens["bank"])).status_code == 201
    now = utcnow()
    with app.app_context():
        exercise = db.session.get(Exercise, eid)
        collection_id = exercise.collection_id
        inject = exercise.injects[0]
        db.session.add(StixObject(collection_id=collection_id, stix_id=inject.stix_id, type="report",
                                  version="2026-11-30T00:00:00.000000Z", date_added=now, tlp="green", body="{}"))
        db.session.add(TaxiiPoll(org_id=orgs["bank"].id, collection_id=collection_id, route="objects",
                                 polled_at=now, returned=1))
        db.session.add(ExerciseReport(exercise_id=eid, inject_id=inject.id, org_id=orgs["bank"].id, source="api",
                                      title="[EXERCISE] seen", classification="fraud/phishing", severity="low",
                                      tlp="green", details={}))
        for exercise_id in (eid, None):  # the drill's mail, and a real message that must stay
            db.session.add(OutboxMessage(to="ops@first-bank.example", subject="[EXERCISE] x" if exercise_id else "x",
                                         text="x", kind="exercise" if exercise_id else "warning",
                                         message_id=f"<{exercise_id}@cert.example>", exercise_id=exercise_id))
        other = db.session.execute(select(Collection).where(Collection.alias == "all-members")).scalar_one_or_none()
        db.session.commit()

    response = client.delete(f"{API}/exercises/{eid}", headers=auth(tokens["cert"]))
    assert response.status_code == 200
    removed = response.get_json()["removed"]
    assert removed == {"reports": 1, "acknowledgements": 1, "mail": 1, "objects": 1, "polls": 1, "statuses": 0}
    with app.app_context():
        def count(model, *where) -> int:
            return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
        assert count(Exercise) == count(ExerciseInject) == count(ExerciseParticipant) == 0
        assert count(ExerciseReport) == count(ExerciseAcknowledgement) == 0
        assert count(Collection, Collection.id == collection_id) == 0
        assert count(StixObject, StixObject.collection_id == collection_id) == 0
        assert count(TaxiiPoll, TaxiiPoll.collection_id == collection_id) == 0
        assert count(OutboxMessage, OutboxMessage.exercise_id == eid) == 0
        assert count(OutboxMessage) == 1  # the real message stays
        if other is not None:
            assert count(Collection, Collection.alias == "all-members") == 1
    [entry] = _audit(app, "exercise.delete")
    assert entry.target_id == str(eid) and entry.details["name"] == "Cyber Storm 2026"
    assert entry.details["objects"] == 1 and entry.details["mail"] == 1 and entry.details["reports"] == 1
    assert client.get(f"{API}/exercises/{eid}", headers=auth(tokens["cert"])).status_code == 404
    assert client.get(f"{API}/exercises/{eid}", headers=auth(tokens["bank"])).status_code == 404
    # The slug is free again: a new exercise of the same name takes it.
    assert _create(client, tokens, orgs)["slug"] == "cyber-storm-2026"


def test_the_openapi_document_describes_every_exercise_route(client):
    paths = client.get(f"{API}/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/exercises"]) >= {"get", "post"}
    assert set(paths["/api/v1/exercises/{exercise_id}"]) >= {"get", "delete"}
    ack = paths["/api/v1/exercises/{exercise_id}/injects/{number}/acknowledge"]["post"]["responses"]
    assert {"200", "201", "403", "404", "409"} <= set(ack)
    assert {"400", "403"} <= set(paths["/api/v1/exercises"]["post"]["responses"])
    assert "409" in paths["/api/v1/exercises/{exercise_id}/close"]["post"]["responses"]
    assert "403" in paths["/api/v1/exercises/{exercise_id}/results"]["get"]["responses"]
