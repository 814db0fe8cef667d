"""The cooperation-request API as CERT staff script it: open requests from a report, list and read
them, acknowledge and answer a partner's request. Members get 403 everywhere and learn nothing."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cert_share.actor import CLI
from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import CooperationRequest, PartnerDelivery
from cert_share.services.partners import set_partner
from cert_share.stix import cooperation as stix_coop
from cert_share.stix import markings
from tests.conftest import auth
from tests.integration.cooperation_world import kill_delivery, partner_request, push_to_intake

API = "/api/v1"
# The partner's incident its requests are about (not sent along).
OTHER_INCIDENT = f"incident--{'2' * 8}-2222-4222-8222-{'2' * 12}"


@pytest.fixture
def world(app, factory, client):
    cert = factory.cert()
    bank, telco = factory.org("Bank One", country="VN"), factory.org("TelcoNet", sector="telecommunications")
    partners = [factory.org(name, sector="government-national", kind="partner") for name in ("CERT-FI", "CERT-FR")]
    with app.app_context():
        set_partner(db.session, "cert-fi", country="FI", taxii_url="https://taxii.cert.fi/api/collections/in/",
                    actor=CLI)
        set_partner(db.session, "cert-fr", country="FR", contact="duty@cert.fr",
                    taxii_url="https://taxii.cert.fr/api/collections/in/", actor=CLI)
    tokens = {"cert": factory.token(cert), "bank": factory.token(bank), "telco": factory.token(telco),
              "cert-fi": factory.token(partners[0])}
    report = {"title": "Mule accounts phishing", "classification": "fraud/phishing", "severity": "high",
              "tlp": "amber", "detected_at": (utcnow() - timedelta(hours=1)).isoformat(),
              "observables": [{"type": "ipv4-addr", "value": "203.0.113.9"}]}
    response = client.post(f"{API}/incidents", json=report, headers=auth(tokens["bank"]))
    assert response.status_code == 201, response.get_json()
    red = client.post(f"{API}/incidents", json=dict(report, tlp="red", title="Red one"), headers=auth(tokens["bank"]))
    return {"tokens": tokens, "incident": response.get_json()["id"], "red_incident": red.get_json()["id"]}


def _request(**changes) -> dict:
    body = {"partners": ["cert-fi", "cert-fr"], "kind": "preservation", "message": "Please preserve logs of "
            "203.0.113.9", "due_at": (utcnow() + timedelta(days=2)).isoformat(), "tlp": "amber"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def _stored(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.execute(select(func.count()).select_from(CooperationRequest)).scalar_one(),
                db.session.execute(select(func.count()).select_from(PartnerDelivery)).scalar_one())


def _incoming(client, world) -> str:
    """A partner's request pushed to our intake, as its cert-share would send it."""
    note = partner_request(incident_stix_id=OTHER_INCIDENT, title="Botnet")
    push_to_intake(client, world["tokens"]["cert-fi"], [*stix_coop.extension_objects(), note])
    return note["id"]


def test_staff_open_one_request_per_partner_and_read_it_back(client, world):
    staff = auth(world["tokens"]["cert"])
    response = client.post(f"{API}/incidents/{world['incident']}/cooperation-requests", json=_request(),
                           headers=staff)
    assert response.status_code == 201, response.get_json()
    requests = response.get_json()["requests"]
    assert [(r["partner"], r["state"], r["direction"], r["kind"], r["tlp"], r["incident_id"]) for r in requests] == [
        ("cert-fi", "queued", "outgoing", "preservation", "amber", world["incident"]),
        ("cert-fr", "queued", "outgoing", "preservation", "amber", world["incident"])]
    assert all(r["stix_id"].startswith("note--") and r["id"] and r["due_at"] and r["created_at"] for r in requests)
    one = client.get(f"{API}/cooperation-requests/{requests[0]['id']}", headers=staff).get_json()
    assert one["stix_id"] == requests[0]["stix_id"] and one["partner_country"] == "FI"
    assert {"answer_message", "answer_stix_id", "answer_object_ids", "sent_at", "acknowledged_at", "answered_at",
            "failed_at", "overdue_at", "last_error", "taxii_status_id"} <= set(one)
    listed = client.get(f"{API}/cooperation-requests?direction=outgoing&state=queued", headers=staff).get_json()
    assert {r["id"] for r in listed["requests"]} == {r["id"] for r in requests}
    assert client.get(f"{API}/cooperation-requests?direction=incoming", headers=staff).get_json() == {
        "requests": [], "more": False}
    assert client.get(f"{API}/cooperation-requests?state=answered", headers=staff).get_json() == {
        "requests": [], "more": False}


@pytest.mark.parametrize("body, field", [
    (_request(partners=["cert-fi", "nobody"]), "partners"),
    (_request(partners=["bank-one"]), "partners"),  # a member is not a partner CERT
    (_request(partners=[]), "partners"),
    (_request(partners="cert-fi"), "partners"),
    (_request(partners=[7]), "partners"),
    (_request(kind="takedown"), "kind"),
    (_request(kind=...), "kind"),
    (_request(due_at=(utcnow() - timedelta(hours=1)).isoformat()), "due_at"),
    (_request(due_at="next tuesday"), "due_at"),
    (_request(tlp="red"), "tlp"),
    (_request(tlp="green"), "tlp"),  # looser than the AMBER report
    (_request(tlp="amber+strict"), "confirm_strict"),
    (_request(tlp="amber+strict", confirm_strict="yes"), "confirm_strict"),
    (_request(message="   "), "message"),
    (_request(message=42), "message"),
    (_request(message="x" * 20_001), "message"),
    (_request(partners=["cert-fi"] * 51), "partners"),
    (_request(extra=1), "extra"),
])
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(client, app, world, body, field):
    response = client.post(f"{API}/incidents/{world['incident']}/cooperation-requests", json=body,
                           headers=auth(world["tokens"]["cert"]))
    assert response.status_code == 400, response.get_json()
    answer = response.get_json()
    assert field in answer.get("errors", {}), answer
    assert _stored(app) == (0, 0)


def test_a_red_report_never_leaves_and_amber_strict_leaves_once_confirmed(client, app, world):
    staff = auth(world["tokens"]["cert"])
    red = client.post(f"{API}/incidents/{world['incident']}/cooperation-requests", json=_request(tlp="red"),
                      headers=staff)
    assert red.status_code == 400 and "TLP:RED never leaves" in red.get_json()["message"]
    # A TLP:RED report is read only by the staff named on its case: a CERT token is refused it.
    red_report = client.post(f"{API}/incidents/{world['red_incident']}/cooperation-requests",
                             json=_request(tlp="red"), headers=staff)
    assert red_report.status_code == 403 and "TLP:RED" in red_report.get_json()["message"]
    assert _stored(app) == (0, 0)
    strict = client.post(f"{API}/incidents/{world['incident']}/cooperation-requests",
                         json=_request(tlp="amber+strict", confirm_strict=True, partners=["cert-fi"]), headers=staff)
    assert strict.status_code == 201 and strict.get_json()["requests"][0]["tlp"] == "amber+strict"
    assert _stored(app) == (1, 1)


def test_bodies_that_are_not_json_or_too_big_are_refused_and_store_nothing(client, app, world):
    url, staff = f"{API}/incidents/{world['incident']}/cooperation-requests", auth(world["tokens"]["cert"])
    text = client.post(url, data="partners=cert-fi", headers={**staff, "Content-Type": "text/plain"})
    assert text.status_code == 415 and "application/json" in text.get_json()["message"]
    broken = client.post(url, data="{not json", headers={**staff, "Content-Type": "application/json"})
    assert broken.status_code == 400 and "not valid JSON" in broken.get_json()["message"]
    listed = client.post(url, json=[_request()], headers=staff)
    assert listed.status_code == 400 and "JSON object" in listed.get_json()["message"]
    huge = client.post(url, data=json.dumps(_request(message="x" * (6 * 1024 * 1024))),
                       headers={**staff, "Content-Type": "application/json"})
    assert huge.status_code == 413
    assert _stored(app) == (0, 0)
    unknown_report = client.post(f"{API}/incidents/999999/cooperation-requests", json=_request(), headers=staff)
    assert unknown_report.status_code == 404


def test_staff_acknowledge_and_answer_a_partners_request(client, app, world):
    staff = auth(world["tokens"]["cert"])
    note_id = _incoming(client, world)
    [incoming] = client.get(f"{API}/cooperation-requests?direction=incoming", headers=staff).get_json()["requests"]
    assert (incoming["stix_id"], incoming["state"], incoming["partner"], incoming["kind"]) == (
        note_id, "received", "cert-fi", "assistance")
    url = f"{API}/cooperation-requests/{incoming['id']}"
    acked = client.post(f"{url}/acknowledge", headers=staff)
    assert acked.status_code == 200 and acked.get_json()["state"] == "acknowledged"
    assert acked.get_json()["acknowledged_at"]
    indicator = {"type": "indicator", "spec_version": "2.1", "id": "indicator--3a8f5e1c-1d4b-4c1e-9f3a-0e7d2b6c5a41",
                 "created": "2026-11-30T08:00:00.000Z", "modified": "2026-11-30T08:00:00.000Z",
                 "pattern": "[domain-name:value = 'bad.example']", "pattern_type": "stix",
                 "valid_from": "2026-11-30T08:00:00.000Z", "object_marking_refs": [markings.marking_id("red")]}
    red = client.post(f"{url}/answer", json={"message": "Sinkholed", "objects": [indicator]}, headers=staff)
    assert red.status_code == 400 and "objects" in red.get_json()["errors"]
    assert client.get(url, headers=staff).get_json()["state"] == "acknowledged"
    for bad, field in (({"objects": []}, "message"), ({"message": "x", "objects": "all"}, "objects"),
                       ({"message": "x", "objects": [{"type": "indicator"}]}, "objects")):
        response = client.post(f"{url}/answer", json=bad, headers=staff)
        assert response.status_code == 400 and field in response.get_json()["errors"], response.get_json()
    green = dict(indicator, object_marking_refs=[markings.marking_id("green")])
    answered = client.post(f"{url}/answer", json={"message": "Sinkholed at 10:00", "objects": [green]},
                           headers=staff)
    assert answered.status_code == 200, answered.get_json()
    body = answered.get_json()
    assert (body["state"], body["answer_message"], body["answer_object_ids"]) == (
        "answered", "Sinkholed at 10:00", [green["id"]])
    assert body["answer_stix_id"].startswith("note--") and body["answered_at"]
    again = client.post(f"{url}/answer", json={"message": "Once more"}, headers=staff)
    assert again.status_code == 400 and "already answered" in again.get_json()["message"]
    with app.app_context():
        purposes = db.session.execute(select(PartnerDelivery.purpose).order_by(PartnerDelivery.id)).scalars().all()
    assert purposes == ["acknowledgement", "answer"]


def test_our_own_request_is_not_acknowledged_or_answered_by_us(client, world):
    staff = auth(world["tokens"]["cert"])
    created = client.post(f"{API}/incidents/{world['incident']}/cooperation-requests",
                          json=_request(partners=["cert-fi"]), headers=staff).get_json()["requests"][0]
    url = f"{API}/cooperation-requests/{created['id']}"
    assert client.post(f"{url}/acknowledge", headers=staff).status_code == 400
    assert client.post(f"{url}/answer", json={"message": "Done"}, headers=staff).status_code == 400
    assert client.get(url, headers=staff).get_json()["state"] == "queued"


@pytest.mark.parametrize("query, field", [("direction=sideways", "direction"), ("state=lost", "state"),
                                          ("limit=0", "limit")])
def test_list_filters_are_checked(client, world, query, field):
    response = client.get(f"{API}/cooperation-requests?{query}", headers=auth(world["tokens"]["cert"]))
    assert response.status_code == 400 and field in response.get_json()["message"]


def test_members_get_the_same_403_on_every_route_whether_the_id_exists_or_not(client, app, world):
    staff = auth(world["tokens"]["cert"])
    _incoming(client, world)
    created = client.post(f"{API}/incidents/{world['incident']}/cooperation-requests",
                          json=_request(partners=["cert-fi"]), headers=staff).get_json()["requests"][0]
    stored = _stored(app)
    real, missing = created["id"], 987654
    for member in ("bank", "telco"):  # the reporting member and another one
        headers = auth(world["tokens"][member])
        answers = []
        for incident_id in (world["incident"], 987654):
            answers.append(client.post(f"{API}/incidents/{incident_id}/cooperation-requests", json=_request(),
                                       headers=headers))
            answers.append(client.post(f"{API}/incidents/{incident_id}/cooperation-requests", data="{junk",
                                       headers={**headers, "Content-Type": "application/json"}))
        answers.append(client.get(f"{API}/cooperation-requests", headers=headers))
        answers.append(client.get(f"{API}/cooperation-requests?direction=incoming", headers=headers))
        for request_id in (real, missing):
            url = f"{API}/cooperation-requests/{request_id}"
            answers += [client.get(url, headers=headers), client.post(f"{url}/acknowledge", headers=headers),
                        client.post(f"{url}/resend", headers=headers),
                        client.post(f"{url}/answer", json={"message": "Done"}, headers=headers),
                        client.post(f"{url}/answer", data="x", headers={**headers, "Content-Type": "text/plain"})]
        assert {a.status_code for a in answers} == {403}, [(a.request.path, a.status_code) for a in answers]
        bodies = {json.dumps(a.get_json(), sort_keys=True) for a in answers}
        assert len(bodies) == 1, bodies
        assert "cert-fi" not in bodies.pop()
    assert _stored(app) == stored
    assert client.get(f"{API}/cooperation-requests/{real}", headers=staff).get_json()["state"] == "queued"


def test_the_openapi_document_lists_every_route_and_status(client):
    spec = client.get(f"{API}/openapi.json").get_json()
    paths = spec["paths"]
    create = paths["/api/v1/incidents/{incident_id}/cooperation-requests"]["post"]
    assert set(create["responses"]) == {"201", "400", "401", "403", "404", "409", "413", "415", "429"}
    assert set(paths["/api/v1/cooperation-requests"]["get"]["responses"]) == {"200", "400", "401", "403", "414", "429"}
    assert set(paths["/api/v1/cooperation-requests/{request_id}"]["get"]["responses"]) == {"200", "401", "403",
                                                                                          "404", "429"}
    assert "403" in paths["/api/v1/cooperation-requests/{request_id}/acknowledge"]["post"]["responses"]
    assert "415" in paths["/api/v1/cooperation-requests/{request_id}/answer"]["post"]["responses"]
    schema = spec["components"]["schemas"]["CooperationRequestCreate"]
    assert set(schema["required"]) == {"partners", "kind", "message", "due_at", "tlp"}
    assert set(schema["properties"]["kind"]["enum"]) == {"information", "assistance", "preservation"}
    assert schema["properties"]["partners"]["maxItems"] == 50
    out = spec["components"]["schemas"]["CooperationRequest"]["properties"]
    assert {"id", "state", "stix_id", "answer_object_ids", "taxii_status_id"} <= set(out)


def _kill(app, request_id, purpose, error="HTTP 401 Unauthorized"):
    kill_delivery(app, request_id, purpose, error)


def test_staff_see_what_did_not_arrive_and_resend_it(client, app, world):
    staff = auth(world["tokens"]["cert"])
    created = client.post(f"{API}/incidents/{world['incident']}/cooperation-requests",
                          json=_request(partners=["cert-fi"]), headers=staff).get_json()["requests"][0]
    assert (created["undelivered"], created["overdue"]) == (0, False)
    url = f"{API}/cooperation-requests/{created['id']}"
    nothing = client.post(f"{url}/resend", headers=staff)
    assert nothing.status_code == 400 and "nothing to resend" in nothing.get_json()["message"]
    _kill(app, created["id"], "request")
    one = client.get(url, headers=staff).get_json()
    assert (one["state"], one["undelivered"], one["last_error"]) == ("failed", 1, "HTTP 401 Unauthorized")
    [listed] = client.get(f"{API}/cooperation-requests?state=failed", headers=staff).get_json()["requests"]
    assert listed["undelivered"] == 1
    for member in ("bank", "telco"):
        assert client.post(f"{url}/resend", headers=auth(world["tokens"][member])).status_code == 403
    resent = client.post(f"{url}/resend", headers=staff)
    assert resent.status_code == 200, resent.get_json()
    assert (resent.get_json()["state"], resent.get_json()["undelivered"]) == ("queued", 0)
    with app.app_context():
        delivery = db.session.execute(select(PartnerDelivery)).scalar_one()
        assert (delivery.state, delivery.attempts) == ("pending", 0)
    assert client.post(f"{url}/resend", headers=staff).status_code == 400


def test_an_amber_strict_request_is_acknowledged_and_answered_only_with_confirm_strict(client, app, world):
    staff = auth(world["tokens"]["cert"])
    note = partner_request(kind="information", message="Who is behind bad.example?", tlp="amber+strict",
                           incident_stix_id=OTHER_INCIDENT, title="Botnet")
    push_to_intake(client, world["tokens"]["cert-fi"], [*stix_coop.extension_objects(), note])
    [incoming] = client.get(f"{API}/cooperation-requests?direction=incoming", headers=staff).get_json()["requests"]
    url = f"{API}/cooperation-requests/{incoming['id']}"
    for bad in ({}, {"confirm_strict": False}):
        refused = client.post(f"{url}/acknowledge", json=bad, headers=staff)
        assert refused.status_code == 400 and "confirm_strict" in refused.get_json()["errors"], refused.get_json()
    assert client.post(f"{url}/acknowledge", headers=staff).status_code == 400  # no body: not confirmed either
    refused = client.post(f"{url}/answer", json={"message": "It is X."}, headers=staff)
    assert refused.status_code == 400 and "confirm_strict" in refused.get_json()["errors"]
    assert _stored(app) == (1, 0)
    assert client.post(f"{url}/acknowledge", json={"confirm_strict": "yes"}, headers=staff).status_code == 400
    assert client.post(f"{url}/acknowledge", json={"confirm_strict": True}, headers=staff).status_code == 200
    answered = client.post(f"{url}/answer", json={"message": "It is X.", "confirm_strict": True}, headers=staff)
    assert answered.status_code == 200 and answered.get_json()["state"] == "answered"
    assert _stored(app) == (1, 2)


def test_the_list_pages_with_limit_and_before_id(client, world):
    staff = auth(world["tokens"]["cert"])
    ids = []
    for _ in range(3):
        ids += [r["id"] for r in client.post(f"{API}/incidents/{world['incident']}/cooperation-requests",
                                             json=_request(partners=["cert-fi"]), headers=staff
                                             ).get_json()["requests"]]
    first = client.get(f"{API}/cooperation-requests?direction=outgoing&limit=2", headers=staff).get_json()
    assert [r["id"] for r in first["requests"]] == ids[::-1][:2] and first["more"] is True
    assert "before_id=" in first["next"] and "direction=outgoing" in first["next"]
    second = client.get(first["next"], headers=staff).get_json()
    assert [r["id"] for r in second["requests"]] == [ids[0]] and second["more"] is False and "next" not in second
    bad = client.get(f"{API}/cooperation-requests?before_id=zero", headers=staff)
    assert bad.status_code == 400 and "before_id" in bad.get_json()["message"]


def test_the_openapi_document_lists_resend_paging_and_the_confirmations(client):
    spec = client.get(f"{API}/openapi.json").get_json()
    paths = spec["paths"]
    resend = paths["/api/v1/cooperation-requests/{request_id}/resend"]["post"]
    assert set(resend["responses"]) == {"200", "400", "401", "403", "404", "429"}
    listing = paths["/api/v1/cooperation-requests"]["get"]
    assert {"limit", "before_id"} <= {p["name"] for p in listing["parameters"]}
    assert set(listing["responses"]["200"]["content"]["application/json"]["schema"]["properties"]) == {
        "requests", "more", "next"}
    schemas = spec["components"]["schemas"]
    assert "confirm_strict" in schemas["CooperationAnswer"]["properties"]
    assert "confirm_strict" in schemas["CooperationAcknowledge"]["properties"]
    assert {"overdue", "undelivered"} <= set(schemas["CooperationRequest"]["properties"])
