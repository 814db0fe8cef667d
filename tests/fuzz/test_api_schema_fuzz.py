"""schemathesis over the JSON API's own OpenAPI document (/api/v1/openapi.json): every operation,
with data that fits the document and data that does not, as a member and as the CERT. No answer
may be a 5xx, and every answer must be one the document lists, in its content type and schema."""
from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cert_share.actor import CLI
from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.services.partners import set_partner
from tests.conftest import auth

from .profiles import examples, seeded

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Operations only CERT staff may use: a member's token meets 403 there before any input is read,
# so they are fuzzed with the CERT's token (and the 403 itself with a member's, briefly).
STAFF_OPERATIONS = {"PATCH /api/v1/incidents/{incident_id}", "GET /api/v1/incidents/{incident_id}/case",
                    "GET /api/v1/metrics", "PATCH /api/v1/warnings/{warning_id}",
                    "POST /api/v1/warnings/{warning_id}/discard", "POST /api/v1/warnings/{warning_id}/publish",
                    "POST /api/v1/warnings/{warning_id}/revoke",
                    "POST /api/v1/incidents/{incident_id}/cooperation-requests", "GET /api/v1/cooperation-requests",
                    "GET /api/v1/cooperation-requests/{request_id}",
                    "POST /api/v1/cooperation-requests/{request_id}/acknowledge",
                    "POST /api/v1/cooperation-requests/{request_id}/answer",
                    "POST /api/v1/cooperation-requests/{request_id}/resend",
                    "POST /api/v1/exercises", "GET /api/v1/exercises/{exercise_id}/results",
                    "POST /api/v1/exercises/{exercise_id}/close", "DELETE /api/v1/exercises/{exercise_id}"}


def _report(value: str) -> dict:
    detected = (utcnow() - timedelta(hours=1)).isoformat()  # recent: reports correlate within a window
    return {"title": "Scanner on the VPN", "classification": "information-gathering/scanner", "severity": "high",
            "tlp": "green", "detected_at": detected, "observables": [{"type": "ipv4-addr", "value": value}]}


@pytest.fixture
def api_world(app, factory, client):
    """Two banks and the CERT with tokens; each bank reports the same scanner, which raises a
    warning, so that generated requests can meet a real report and a real warning."""
    bank, bank2, cert = factory.org("Fuzz Bank"), factory.org("Fuzz Bank Two"), factory.cert()
    tokens = {"member": factory.token(bank), "member2": factory.token(bank2), "cert": factory.token(cert)}
    ids = {}
    for who in ("member", "member2"):
        response = client.post("/api/v1/incidents", json=_report("198.51.100.23"), headers=auth(tokens[who]))
        assert response.status_code == 201, response.get_json()
        ids.setdefault("incident_id", response.get_json()["id"])
    warnings = client.get("/api/v1/warnings", headers=auth(tokens["cert"])).get_json()["warnings"]
    ids["warning_id"] = warnings[0]["id"]
    partner = factory.org("Fuzz Partner CERT", sector="government-national", kind="partner")
    with app.app_context():
        set_partner(db.session, partner.slug, taxii_url="https://taxii.partner.example/collections/in/", actor=CLI)
    opened = client.post(f"/api/v1/incidents/{ids['incident_id']}/cooperation-requests", headers=auth(tokens["cert"]),
                         json={"partners": [partner.slug], "kind": "information", "message": "Who hosts it?",
                               "due_at": (utcnow() + timedelta(days=1)).isoformat(), "tlp": "green"})
    assert opened.status_code == 201, opened.get_json()
    ids["request_id"] = opened.get_json()["requests"][0]["id"]
    drill = client.post("/api/v1/exercises", headers=auth(tokens["cert"]), json={
        "name": "Fuzz drill", "participants": [bank.slug], "starts_at": utcnow().isoformat(),
        "injects": [{"offset_minutes": 0, "kind": "warning", "title": "Scan", "tlp": "green", "expect": "acknowledge",
                     "observables": [{"type": "ipv4-addr", "value": "192.0.2.1"}]}]})
    assert drill.status_code == 201, drill.get_json()
    ids["exercise_id"] = drill.get_json()["id"]
    return tokens, ids


def test_every_api_operation_answers_as_its_openapi_document_says(app, api_world):
    tokens, ids = api_world
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    problems = []
    for result in schema.get_all_operations():
        operation = result.ok()
        staff = operation.label in STAFF_OPERATIONS
        known = {p.name: ids[p.name] for p in operation.path_parameters if p.name in ids}
        # Bodies cost schemathesis about a second of generation per operation: fewer examples there.
        budget = 4 if operation.body else 12
        runs = [("cert" if staff else "member", GenerationMode.POSITIVE, known, budget),
                ("cert" if staff else "member", GenerationMode.NEGATIVE, {}, budget)]
        if staff:
            runs.append(("member", GenerationMode.POSITIVE, known, 2))
        for who, mode, path_parameters, budget in runs:
            @seeded
            @settings(max_examples=examples(budget))
            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None))
            def conforms(case):
                case.call_and_validate(headers=auth(tokens[who]), checks=CHECKS)  # noqa: B023 (runs in this iteration)

            try:
                conforms()
            except (Exception, FailureGroup) as exc:  # every operation's failure, reported together below
                problems.append(f"{operation.label} as {who} ({mode.value}): {exc}")
    assert not problems, "\n\n".join(problems)
