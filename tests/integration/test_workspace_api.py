"""Triage over the API: what CERT staff can change on a report, and what members can never see."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import AuditEntry, CaseNote, Incident, StixObject
from tests.conftest import auth


def report(**overrides) -> dict:
    body = {"title": "Ransomware on file servers", "classification": "malicious-code/infected-system",
            "severity": "high", "tlp": "amber", "detected_at": (utcnow() - timedelta(hours=2)).isoformat(),
            "observables": [{"type": "ipv4-addr", "value": "203.0.113.7"}]}
    body.update(overrides)
    return body


@pytest.fixture
def setup(factory):
    cert = factory.cert()
    bank = factory.org("First Bank", sector="financial-services")
    telco = factory.org("TelcoNet", sector="telecommunications")
    return {
        "cert": factory.token(cert), "bank": factory.token(bank), "telco": factory.token(telco),
        "duty": factory.user(cert, "cert-analyst", email="duty@cert.example"),
        "bank_admin": factory.user(bank, "member-admin", email="admin@bank.example"),
    }


def new_report(client, token, **kw) -> dict:
    resp = client.post("/api/v1/incidents", json=report(**kw), headers=auth(token))
    assert resp.status_code == 201, resp.json
    return resp.json


def patch(client, token, incident_id, body):
    return client.patch(f"/api/v1/incidents/{incident_id}", json=body, headers=auth(token))


def test_staff_walk_a_report_through_the_workflow_and_timestamps_are_set(client, setup, app):
    inc = new_report(client, setup["bank"])
    resp = patch(client, setup["cert"], inc["id"], {"status": "acknowledged", "assignee": "duty@cert.example"})
    assert resp.status_code == 200, resp.json
    assert resp.json["status"] == "acknowledged" and resp.json["assignee"] == "duty@cert.example"
    acknowledged_at = resp.json["acknowledged_at"]
    assert acknowledged_at and resp.json["closed_at"] is None
    resp = patch(client, setup["cert"], inc["id"], {"status": "investigating"})
    assert resp.json["acknowledged_at"] == acknowledged_at  # first acknowledgement is kept
    resp = patch(client, setup["cert"], inc["id"], {"status": "closed"})
    assert resp.json["status"] == "closed" and resp.json["closed_at"]
    reopened = patch(client, setup["cert"], inc["id"], {"status": "investigating"})
    assert reopened.json["closed_at"] is None
    with app.app_context():
        actions = [(a.action, a.details.get("to")) for a in db.session.query(AuditEntry)
                   .filter_by(target_type="incident", target_id=str(inc["id"])).order_by(AuditEntry.id)]
    assert ("incident.status", "acknowledged") in actions and ("incident.assign", None) in actions
    assert [a for a in actions if a[0] == "incident.status"][-1] == ("incident.status", "investigating")


@pytest.mark.parametrize("path,expected", [
    (["investigating"], 409), (["closed"], 409), (["acknowledged", "new"], 409),
    (["acknowledged", "investigating", "closed", "acknowledged"], 409),
    (["false-positive", "closed"], 409), (["bogus"], 400),
])
def test_transitions_outside_the_workflow_are_refused(client, setup, path, expected):
    inc = new_report(client, setup["bank"])
    for status in path[:-1]:
        assert patch(client, setup["cert"], inc["id"], {"status": status}).status_code == 200
    resp = patch(client, setup["cert"], inc["id"], {"status": path[-1]})
    assert resp.status_code == expected
    assert "status" in resp.json["message"] or "status" in json.dumps(resp.json.get("errors", {}))


def test_members_get_403_on_triage_even_for_their_own_report(client, setup):
    inc = new_report(client, setup["bank"])
    resp = patch(client, setup["bank"], inc["id"], {"status": "acknowledged"})
    assert resp.status_code == 403
    assert client.get(f"/api/v1/incidents/{inc['id']}/case", headers=auth(setup["bank"])).status_code == 403
    # Another member does not even learn the report exists.
    assert patch(client, setup["telco"], inc["id"], {"status": "acknowledged"}).status_code == 404
    assert client.get(f"/api/v1/incidents/{inc['id']}", headers=auth(setup["bank"])).json["status"] == "new"


def test_unauthenticated_triage_is_401(client, setup):
    inc = new_report(client, setup["bank"])
    assert client.patch(f"/api/v1/incidents/{inc['id']}", json={"status": "acknowledged"}).status_code == 401


def test_internal_notes_never_reach_the_member_by_api_or_stix(client, setup, app):
    inc = new_report(client, setup["bank"])
    secret = "Suspect insider: the bank's CISO"
    resp = patch(client, setup["cert"], inc["id"], {"note": secret})
    assert resp.status_code == 200 and resp.json["notes"][0]["body"] == secret
    member_views = [
        client.get(f"/api/v1/incidents/{inc['id']}", headers=auth(setup["bank"])).get_data(as_text=True),
        client.get(f"/api/v1/incidents/{inc['id']}/stix", headers=auth(setup["bank"])).get_data(as_text=True),
        client.get("/api/v1/incidents", headers=auth(setup["bank"])).get_data(as_text=True),
    ]
    assert all(secret not in body and "notes" not in json.loads(body) for body in member_views)
    with app.app_context():
        assert not any(secret in row.body for row in db.session.query(StixObject))
        assert not any(secret in json.dumps(a.details) for a in db.session.query(AuditEntry))


def test_assignee_must_be_cert_staff(client, setup):
    inc = new_report(client, setup["bank"])
    resp = patch(client, setup["cert"], inc["id"], {"assignee": "admin@bank.example"})
    assert resp.status_code == 400 and "not CERT staff" in resp.json["message"]
    assert patch(client, setup["cert"], inc["id"], {"assignee": "nobody@x.example"}).status_code == 400
    ok = patch(client, setup["cert"], inc["id"], {"assignee": "duty@cert.example"})
    assert ok.json["assignee"] == "duty@cert.example"
    assert patch(client, setup["cert"], inc["id"], {"assignee": None}).json["assignee"] is None


def test_bad_input_stores_nothing_half_way(client, setup, app):
    inc = new_report(client, setup["bank"])
    resp = patch(client, setup["cert"], inc["id"], {"status": "acknowledged", "note": "first look",
                                                    "cooperation": {"countries": ["XX"]}})
    assert resp.status_code == 400 and "XX" in resp.json["message"]
    with app.app_context():
        assert db.session.get(Incident, inc["id"]).status == "new"
        assert db.session.query(CaseNote).count() == 0
    for body in ({"statuz": "closed"}, {"merge_into": "7"}, {"note": ""}, {"cooperation": {"countries": "FI"}}):
        assert patch(client, setup["cert"], inc["id"], body).status_code == 400, body
    assert client.patch(f"/api/v1/incidents/{inc['id']}", data="{", headers={
        **auth(setup["cert"]), "Content-Type": "application/json"}).status_code == 400


def test_cross_border_cooperation_flag(client, setup):
    inc = new_report(client, setup["bank"])
    resp = patch(client, setup["cert"], inc["id"], {"cooperation": {"countries": ["fi", "LV"],
                                                                    "partner_certs": ["CERT-FI"]}})
    assert resp.json["cooperation"] == {"countries": ["FI", "LV"], "partner_certs": ["CERT-FI"]}
    cleared = patch(client, setup["cert"], inc["id"], {"cooperation": None})
    assert cleared.json["cooperation"] is None


def test_merge_a_duplicate_closes_it_and_links_both(client, setup):
    first = new_report(client, setup["bank"], title="Phishing wave")
    dup = new_report(client, setup["bank"], title="Phishing wave (again)")
    resp = patch(client, setup["cert"], dup["id"], {"merge_into": first["id"]})
    assert resp.status_code == 200, resp.json
    assert resp.json["merged_into"] == first["id"] and resp.json["status"] == "closed"
    assert resp.json["links"] == [{"incident": first["id"], "kind": "duplicate", "direction": "to"}]
    # A merged duplicate owes no more reporting phases.
    assert not any(d["overdue"] for d in resp.json["deadlines"])
    survivor = client.get(f"/api/v1/incidents/{first['id']}/case", headers=auth(setup["cert"])).json
    assert survivor["links"] == [{"incident": dup["id"], "kind": "duplicate", "direction": "from"}]
    # Merging back would loop; merging again is a conflict; merging into itself is bad input.
    assert patch(client, setup["cert"], first["id"], {"merge_into": dup["id"]}).status_code == 409
    assert patch(client, setup["cert"], dup["id"], {"merge_into": first["id"]}).status_code == 409
    assert patch(client, setup["cert"], first["id"], {"merge_into": first["id"]}).status_code == 400
    assert patch(client, setup["cert"], first["id"], {"merge_into": 999999}).status_code == 400


def test_link_related_reports(client, setup):
    a = new_report(client, setup["bank"])
    b = new_report(client, setup["telco"])
    resp = patch(client, setup["cert"], a["id"], {"link": b["id"]})
    assert resp.json["links"] == [{"incident": b["id"], "kind": "related", "direction": "to"}]
    assert patch(client, setup["cert"], a["id"], {"link": b["id"]}).json["links"] == resp.json["links"]


def test_a_new_report_marked_false_positive_is_acknowledged_and_closed(client, setup):
    inc = new_report(client, setup["bank"])
    resp = patch(client, setup["cert"], inc["id"], {"status": "false-positive"})
    assert resp.status_code == 200 and resp.json["closed_at"] and resp.json["acknowledged_at"]


def test_every_report_carries_its_deadlines(client, setup):
    detected = utcnow() - timedelta(hours=80)
    inc = new_report(client, setup["telco"], detected_at=detected.isoformat())
    phases = {d["phase"]: d for d in inc["deadlines"]}
    assert set(phases) == {"early-warning", "notification", "final-report"}
    assert phases["notification"]["overdue"] is True and phases["early-warning"]["submitted_at"]
    resp = client.post(f"/api/v1/incidents/{inc['id']}/updates", headers=auth(setup["telco"]),
                       json={"phase": "notification", "summary": "scope known"})
    phases = {d["phase"]: d for d in resp.json["deadlines"]}
    assert phases["notification"]["overdue"] is False and phases["notification"]["late"] is True
    # Banks are under the DORA-like regime: intermediate report instead of notification.
    bank_inc = new_report(client, setup["bank"])
    assert [d["phase"] for d in bank_inc["deadlines"]] == ["early-warning", "intermediate", "final-report"]


def test_false_positive_withdraws_the_report_from_the_warnings_it_raised(client, setup, app):
    from cert_share.early_warning import lifecycle
    from cert_share.models import EarlyWarning, WarningSource

    ip = [{"type": "ipv4-addr", "value": "198.51.100.77"}]
    first = new_report(client, setup["bank"], tlp="green", observables=ip)
    new_report(client, setup["telco"], tlp="green", observables=ip)
    with app.app_context():
        lifecycle.publish_warnings(db.session)
        warning = db.session.query(EarlyWarning).one()
        assert warning.state == "published"
    resp = patch(client, setup["cert"], first["id"], {"status": "false-positive"})
    assert resp.status_code == 200
    with app.app_context():
        source = db.session.query(WarningSource).filter_by(incident_id=first["id"]).one()
        assert source.withdrawn
        # One organization's sighting is left: no longer a cross-organization warning.
        assert db.session.query(EarlyWarning).one().state == "revoked"


def test_openapi_documents_triage_and_metrics(client):
    doc = client.get("/api/v1/openapi.json").json
    assert "patch" in doc["paths"]["/api/v1/incidents/{incident_id}"]
    metrics = doc["paths"]["/api/v1/metrics"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"incidents", "cross_border_cases", "cross_border_declared", "cross_border_cooperation",
            "warnings_published", "median_time_to_acknowledge_minutes",
            "median_time_to_first_warning_minutes", "case_processing_rate", "overdue_phases",
            "members_polling", "cross_border_requests", "cooperation"} == set(metrics["properties"])
