"""The incident API contract: what a member's SOC tooling scripts against."""
from __future__ import annotations

import json

import pytest
from stix2validator import validate_string

from cert_share.extensions import db
from cert_share.models import AuditEntry, Incident, Observable, StixObject
from tests.conftest import auth
from tests.integration.incident_bodies import incident_body


@pytest.fixture
def bank(factory):
    return factory.org("First Bank", sector="financial-services")


@pytest.fixture
def telco(factory):
    return factory.org("TelcoNet", sector="telecommunications")


@pytest.fixture
def bank_token(factory, bank):
    return factory.token(bank)


def count(app, model) -> int:
    with app.app_context():
        return db.session.query(model).count()


def test_member_reports_an_incident_and_gets_id_and_stix_id(client, bank_token):
    resp = client.post("/api/v1/incidents", json=incident_body(), headers=auth(bank_token))
    assert resp.status_code == 201, resp.json
    body = resp.json
    assert isinstance(body["id"], int)
    assert body["stix_id"].startswith("incident--")
    assert body["status"] == "new"
    assert body["organization"] == "first-bank"
    assert body["cross_border"] == ["FI", "LV"]
    assert {o["type"] for o in body["observables"]} == {"ipv4-addr", "domain-name", "file:sha256"}
    sha = next(o for o in body["observables"] if o["type"] == "file:sha256")
    assert sha["value"] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert resp.headers["Location"].endswith(f"/api/v1/incidents/{body['id']}")


def test_report_is_readable_back_and_listed(client, bank_token):
    created = client.post("/api/v1/incidents", json=incident_body(), headers=auth(bank_token)).json
    one = client.get(f"/api/v1/incidents/{created['id']}", headers=auth(bank_token))
    assert one.status_code == 200 and one.json["title"] == "Ransomware on file servers"
    listing = client.get("/api/v1/incidents", headers=auth(bank_token)).json
    assert [i["id"] for i in listing["incidents"]] == [created["id"]]


def test_stix_export_is_a_valid_bundle_with_incident_core_extension(client, bank_token):
    created = client.post("/api/v1/incidents", json=incident_body(), headers=auth(bank_token)).json
    resp = client.get(f"/api/v1/incidents/{created['id']}/stix", headers=auth(bank_token))
    assert resp.status_code == 200
    bundle = resp.json
    result = validate_string(json.dumps(bundle))
    assert result.is_valid, [str(e) for e in result.errors]
    by_type = {}
    for obj in bundle["objects"]:
        by_type.setdefault(obj["type"], []).append(obj)
    incident = by_type["incident"][0]
    assert incident["id"] == created["stix_id"]
    core = incident["extensions"]["extension-definition--ef765651-680c-498d-9894-99799f2fa126"]
    assert core["extension_type"] == "property-extension"
    assert core["criticality"] == 75 and core["investigation_status"] == "new"
    assert 'rsit:malicious-code="infected-system"' in incident["labels"]
    amber = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
    assert incident["object_marking_refs"] == [amber]
    assert any(m["id"] == amber and m["name"] == "TLP:AMBER" for m in by_type["marking-definition"])
    assert len(by_type["indicator"]) == 3 and len(by_type["sighting"]) == 3
    identity = by_type["identity"][0]
    assert all(s["where_sighted_refs"] == [identity["id"]] for s in by_type["sighting"])
    patterns = {i["pattern"] for i in by_type["indicator"]}
    assert "[ipv4-addr:value = '203.0.113.7']" in patterns


def test_same_observable_from_two_members_is_the_same_sco(client, factory, bank_token, telco):
    telco_token = factory.token(telco)
    a = client.post("/api/v1/incidents", json=incident_body(), headers=auth(bank_token)).json
    b = client.post("/api/v1/incidents",
                    json=incident_body(observables=[{"type": "ipv4-addr", "value": "203.0.113.7"}]),
                    headers=auth(telco_token)).json
    ip_a = next(o for o in a["observables"] if o["type"] == "ipv4-addr")
    assert ip_a["stix_id"] == b["observables"][0]["stix_id"]


def test_member_cannot_read_another_members_report(client, factory, bank_token, telco):
    telco_token = factory.token(telco)
    created = client.post("/api/v1/incidents", json=incident_body(tlp="clear"), headers=auth(bank_token)).json
    for path in (f"/api/v1/incidents/{created['id']}", f"/api/v1/incidents/{created['id']}/stix"):
        assert client.get(path, headers=auth(telco_token)).status_code in (403, 404)
    assert client.get("/api/v1/incidents", headers=auth(telco_token)).json["incidents"] == []
    resp = client.post(f"/api/v1/incidents/{created['id']}/updates", headers=auth(telco_token),
                       json={"phase": "notification", "summary": "hijack"})
    assert resp.status_code in (403, 404)


def test_cert_sees_every_report(client, factory, bank_token):
    cert = factory.cert()
    cert_token = factory.token(cert)
    created = client.post("/api/v1/incidents", json=incident_body(), headers=auth(bank_token)).json
    assert client.get(f"/api/v1/incidents/{created['id']}", headers=auth(cert_token)).status_code == 200
    assert len(client.get("/api/v1/incidents", headers=auth(cert_token)).json["incidents"]) == 1


def test_retry_with_same_external_id_creates_nothing_new(client, app, bank_token):
    first = client.post("/api/v1/incidents", json=incident_body(external_id="SOC-4711"), headers=auth(bank_token))
    second = client.post("/api/v1/incidents", json=incident_body(external_id="SOC-4711"), headers=auth(bank_token))
    assert first.status_code == 201 and second.status_code == 200
    assert first.json["id"] == second.json["id"]
    assert count(app, Incident) == 1


def test_phase_update_adds_a_new_stix_version(client, app, bank_token):
    created = client.post("/api/v1/incidents", json=incident_body(), headers=auth(bank_token)).json
    resp = client.post(f"/api/v1/incidents/{created['id']}/updates", headers=auth(bank_token),
                       json={"phase": "intermediate", "summary": "Contained; root cause phishing."})
    assert resp.status_code == 201
    assert [u["phase"] for u in resp.json["updates"]] == ["intermediate"]
    with app.app_context():
        versions = db.session.query(StixObject).filter_by(stix_id=created["stix_id"]).count()
    assert versions == 2


def test_intake_is_audited(client, app, bank_token):
    client.post("/api/v1/incidents", json=incident_body(), headers=auth(bank_token))
    with app.app_context():
        entry = db.session.query(AuditEntry).filter_by(action="incident.report").one()
        assert entry.actor.startswith("token:first-bank/")


# --- authentication -------------------------------------------------------------------------

def test_missing_or_wrong_token_is_401(client):
    resp = client.get("/api/v1/incidents")
    assert resp.status_code == 401 and "Bearer" in resp.headers["WWW-Authenticate"]
    assert client.get("/api/v1/incidents", headers=auth("cs_nope")).status_code == 401
    assert client.get("/api/v1/incidents", headers={"Authorization": "Basic Zm9vOmJhcg=="}).status_code == 401


def test_revoked_token_is_refused(client, app, bank, bank_token):
    from cert_share.actor import CLI
    from cert_share.models import ApiToken, Organization
    from cert_share.services.tokens import revoke_token

    with app.app_context():
        row = db.session.query(ApiToken).one()
        revoke_token(db.session, db.session.get(Organization, bank.id), row.id, actor=CLI)
    assert client.get("/api/v1/incidents", headers=auth(bank_token)).status_code == 401


def test_token_last_used_time_is_recorded(client, app, bank_token):
    from cert_share.models import ApiToken

    client.get("/api/v1/incidents", headers=auth(bank_token))
    with app.app_context():
        assert db.session.query(ApiToken).one().last_used_at is not None


# --- bad input: 4xx naming the field, nothing stored ------------------------------------------

BAD_BODIES = [
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"tlp": "purple"}, "tlp"),
    ({"tlp": "white"}, "tlp"),
    ({"classification": "malicious-code/ransomware-ish"}, "classification"),
    ({"severity": "urgent"}, "severity"),
    ({"observables": [{"type": "ipv4-addr", "value": "999.1.1.1"}]}, "observables"),
    ({"observables": [{"type": "domain-name", "value": "not a domain"}]}, "observables"),
    ({"observables": [{"type": "file:md5", "value": "xyz"}]}, "observables"),
    ({"observables": [{"type": "file:sha256", "value": "abc123"}]}, "observables"),
    ({"observables": [{"type": "mutex", "value": "Global\\x"}]}, "observables"),
    ({"observables": [{"type": "ipv4-addr"}]}, "observables"),
    ({"observables": [{"type": "email-addr", "value": "nobody@"}]}, "observables"),
    ({"observables": [{"type": "autonomous-system", "value": "AS99999999999"}]}, "observables"),
    ({"detected_at": "yesterday"}, "detected_at"),
    ({"detected_at": "2999-01-01T00:00:00Z"}, "detected_at"),
    ({"started_at": "2999-01-01T00:00:00Z"}, "started_at"),
    ({"title": "evil\x00title"}, "title"),
    ({"description": "bell\x07"}, "description"),
    ({"cross_border": ["XX"]}, "cross_border"),
    ({"unknown_field": 1}, "unknown_field"),
    ({"title": 42}, "title"),
    ({"title": "x" * 301}, "title"),
]


@pytest.mark.parametrize("override,field", BAD_BODIES)
def test_bad_field_is_400_naming_it_and_stores_nothing(client, app, bank_token, override, field):
    resp = client.post("/api/v1/incidents", json=incident_body(**override), headers=auth(bank_token))
    assert resp.status_code == 400, resp.json
    assert field in resp.json["errors"], resp.json
    assert field in resp.json["message"]
    assert count(app, Incident) == 0 and count(app, Observable) == 0 and count(app, StixObject) == 0


@pytest.mark.parametrize("missing", ["title", "classification", "severity", "tlp", "detected_at"])
def test_missing_required_field_is_400(client, bank_token, missing):
    body = incident_body()
    del body[missing]
    resp = client.post("/api/v1/incidents", json=body, headers=auth(bank_token))
    assert resp.status_code == 400 and missing in resp.json["errors"]


def test_observable_error_names_the_entry(client, bank_token):
    body = incident_body(observables=[{"type": "ipv4-addr", "value": "10.0.0.1"},
                                      {"type": "ipv4-addr", "value": "999.1.1.1"}])
    resp = client.post("/api/v1/incidents", json=body, headers=auth(bank_token))
    assert resp.status_code == 400
    assert "value" in resp.json["errors"]["observables"]["1"]
    assert "999.1.1.1" in resp.json["errors"]["observables"]["1"]["value"][0]


@pytest.mark.parametrize("raw,content_type,status", [
    (b"not json", "application/json", 400),
    (b"[1, 2, 3]", "application/json", 400),
    (b'"a string"', "application/json", 400),
    (b"", "application/json", 400),
    (b"\xff\xfe", "application/json", 400),
    (b'{"title": NaN}', "application/json", 400),
    (b"[" * 5000 + b"]" * 5000, "application/json", 400),
    (b'{"a":' * 3000 + b"1" + b"}" * 3000, "application/json", 400),
    (b"title=x", "application/x-www-form-urlencoded", 415),
    (b"{}", "text/plain", 415),
])
def test_malformed_bodies_get_4xx_never_500(client, app, bank_token, raw, content_type, status):
    resp = client.post("/api/v1/incidents", data=raw, headers={**auth(bank_token), "Content-Type": content_type})
    assert resp.status_code == status, resp.data
    assert resp.is_json and resp.json["message"]
    assert count(app, Incident) == 0


def test_body_over_the_limit_is_413(client, app, bank_token):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    resp = client.post("/api/v1/incidents", data=json.dumps(incident_body(description="x" * 5000)),
                       headers={**auth(bank_token), "Content-Type": "application/json"})
    assert resp.status_code == 413 and resp.is_json
    assert count(app, Incident) == 0


def test_text_is_stored_nfc_and_domains_as_punycode(client, bank_token):
    body = incident_body(title="Cafe\u0301 attack", observables=[{"type": "domain-name", "value": "BÜCHER.example"}])
    created = client.post("/api/v1/incidents", json=body, headers=auth(bank_token)).json
    assert created["title"] == "Caf\u00e9 attack"
    obs = created["observables"][0]
    assert obs["value"] == "xn--bcher-kva.example" and obs["display_value"] == "bücher.example"


def test_session_cookie_is_not_accepted_by_the_api(client, factory, bank):
    user = factory.user(bank, "analyst")
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True
    assert client.get("/api/v1/incidents").status_code == 401


def test_openapi_document_describes_the_contract(client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/incidents" in doc["paths"]
    create = doc["components"]["schemas"]["IncidentCreate"]
    assert {"title", "classification", "severity", "tlp", "detected_at", "observables"} <= set(create["properties"])
    assert set(create["required"]) >= {"title", "classification", "severity", "tlp", "detected_at"}
