"""Each organization is offered the phases of its own reporting regime, with when each is due:
a bank (DORA) files an intermediate report, never NIS2's notification, on the page or over the API."""
from __future__ import annotations

import re
from datetime import timedelta

from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import PhaseUpdate
from tests.conftest import auth
from tests.integration.incident_bodies import incident_body
from tests.integration.web_login import csrf_token


def file(client, token, hours_ago: float) -> dict:
    body = incident_body(detected_at=(utcnow() - timedelta(hours=hours_ago)).isoformat())
    response = client.post("/api/v1/incidents", json=body, headers=auth(token))
    assert response.status_code == 201, response.json
    return response.json


def offered(client, incident_id: int) -> dict[str, str]:
    """The phase form's options on the report page: value -> label."""
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    select = re.search(r'<select[^>]*name="phase"[^>]*>(.*?)</select>', page, re.S).group(1)
    return {value: label.strip() for value, label in re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)<', select)
            if value}


def utc_text(iso: str) -> str:
    return iso[:16].replace("T", " ") + " UTC"


def test_a_bank_is_offered_only_doras_phases_with_their_due_times(members):
    client, token = members["bank"]
    report = file(client, token, 2)
    due = {d["phase"]: d["due_at"] for d in report["deadlines"]}
    assert offered(client, report["id"]) == {
        "intermediate": f"Intermediate report — due {utc_text(due['intermediate'])}",
        "final-report": f"Final report — due {utc_text(due['final-report'])}",
    }


def test_a_nis2_member_is_offered_notification_and_sees_what_is_overdue(members):
    client, token = members["telco"]
    report = file(client, token, 80)  # the 72 h notification is overdue
    due = {d["phase"]: d["due_at"] for d in report["deadlines"]}
    assert offered(client, report["id"]) == {
        "notification": f"Incident notification — overdue since {utc_text(due['notification'])}",
        "intermediate": "Intermediate report — when the CERT asks for it",
        "final-report": f"Final report — due {utc_text(due['final-report'])}",
    }


def test_a_filed_phase_shows_when_it_was_filed(members):
    client, token = members["bank"]
    report = file(client, token, 2)
    response = client.post(f"/api/v1/incidents/{report['id']}/updates", headers=auth(token),
                           json={"phase": "intermediate", "summary": "Root cause found."})
    assert response.status_code == 201
    filed = next(d["submitted_at"] for d in response.json["deadlines"] if d["phase"] == "intermediate")
    assert offered(client, report["id"])["intermediate"] == f"Intermediate report — filed {utc_text(filed)}"


def test_the_api_refuses_a_phase_outside_the_regime_and_names_the_allowed_ones(app, members):
    client, token = members["bank"]
    report = file(client, token, 2)
    response = client.post(f"/api/v1/incidents/{report['id']}/updates", headers=auth(token),
                           json={"phase": "notification", "summary": "Scope known."})
    assert response.status_code == 400
    assert response.json["message"] == ("First Bank reports under DORA, which has no Incident notification phase; "
                                        "choose one of: Intermediate report, Final report")
    assert "phase" in response.json["errors"]
    with app.app_context():
        assert db.session.query(PhaseUpdate).count() == 0


def test_a_crafted_form_post_gets_the_same_refusal_next_to_the_field(app, members):
    client, token = members["bank"]
    report = file(client, token, 2)
    token_value = csrf_token(client.get(f"/incidents/{report['id']}").get_data(as_text=True))
    response = client.post(f"/incidents/{report['id']}/updates",
                           data={"csrf_token": token_value, "phase": "notification", "summary": "Scope known."})
    assert response.status_code == 400
    errors = re.search(r'<ul class="field-errors" id="phase-errors">(.*?)</ul>', response.get_data(as_text=True), re.S)
    assert ("which has no Incident notification phase; choose one of: Intermediate report, Final report"
            in errors.group(1))
    with app.app_context():
        assert db.session.query(PhaseUpdate).count() == 0
