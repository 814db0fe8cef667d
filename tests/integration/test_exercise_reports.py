"""Exercise reports: a participant answers a drill with the normal report API or form, naming the
exercise, and gets an exercise report, never an incident; a member outside the drill learns
nothing of it, not even that it exists."""
from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest

from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import (
    AuditEntry,
    Exercise,
    ExerciseReport,
    Incident,
    Observable,
    Organization,
    PhaseDeadline,
    StixObject,
)
from tests.conftest import auth
from tests.integration.exercise_rows import make_exercise
from tests.integration.incident_bodies import incident_body
from tests.integration.test_web_incidents import field_errors, form, submit
from tests.integration.web_login import login

NO_SUCH_EXERCISE = "no exercise your organization takes part in has this id"


@pytest.fixture
def bank(factory):
    factory.cert()
    return factory.org("First Bank", sector="financial-services")


@pytest.fixture
def telco(factory):
    return factory.org("TelcoNet", sector="telecommunications")


@pytest.fixture
def exercise_id(app, bank):
    return make_exercise(app, [bank])


def real_rows(app) -> tuple[int, ...]:
    """Every real table an incident writes to."""
    with app.app_context():
        return tuple(db.session.query(m).count() for m in (Incident, Observable, StixObject, PhaseDeadline))


def test_a_report_naming_the_exercise_is_stored_as_an_exercise_report_and_nowhere_else(app, factory, bank,
                                                                                     exercise_id):
    token = factory.token(bank)
    before = real_rows(app)
    response = factory_post(app, token, incident_body(exercise_id=exercise_id))
    assert response.status_code == 201, response.json
    body = response.json
    assert body["exercise_report"] is True and body["exercise_id"] == exercise_id
    # No inject named: the latest sent inject expecting a report (number 1: 2 expects an
    # acknowledgement, 3 is not sent yet).
    assert body["exercise_inject"] == 1
    assert body["title"] == "Ransomware on file servers" and body["tlp"] == "amber"
    assert {"type": "ipv4-addr", "value": "203.0.113.7", "display": "203.0.113.7"} in body["observables"]
    assert response.headers["Location"].endswith(f"/api/v1/exercises/{exercise_id}/reports/{body['id']}")
    assert real_rows(app) == before  # no incident, observable, STIX object or deadline
    with app.app_context():
        report = db.session.get(ExerciseReport, body["id"])
        assert report.source == "api" and report.org_id == bank.id
        assert report.details["detected_at"].endswith("Z")
        assert report.details["cross_border"] == ["FI", "LV"]
        audit = db.session.query(AuditEntry).filter_by(action="exercise.report").one()
        assert audit.details["exercise"] == exercise_id and audit.details["inject"] == 1
        assert db.session.query(AuditEntry).filter_by(action="incident.report").count() == 0

    again = app.test_client().get(response.headers["Location"], headers=auth(token))
    assert again.status_code == 200 and again.json == body


def factory_post(app, token, body):
    return app.test_client().post("/api/v1/incidents", json=body, headers=auth(token))


def test_the_inject_named_is_the_one_answered_and_an_unsent_one_is_refused(app, factory, bank, exercise_id):
    token = factory.token(bank)
    assert factory_post(app, token, incident_body(exercise_id=exercise_id, exercise_inject=2)).json[
        "exercise_inject"] == 2
    for number in (3, 99):  # not sent yet, or past the scenario's end: the same answer
        refused = factory_post(app, token, incident_body(exercise_id=exercise_id, exercise_inject=number))
        assert refused.status_code == 400
        assert refused.json["errors"] == {"exercise_inject": [f"inject {number} has not been sent yet"]}


def test_before_any_inject_is_sent_a_report_answers_none(app, factory, bank):
    exercise = make_exercise(app, [bank], injects=(("report", False),))
    response = factory_post(app, factory.token(bank), incident_body(exercise_id=exercise))
    assert response.status_code == 201 and response.json["exercise_inject"] is None


def test_bad_exercise_fields_get_clear_400s(app, factory, bank, exercise_id):
    token = factory.token(bank)
    for value, message in (("12", "Not a valid integer."), (0, "is not an exercise id"),
                           (2**52, NO_SUCH_EXERCISE)):
        response = factory_post(app, token, incident_body(exercise_id=value))
        assert response.status_code == 400 and response.json["errors"] == {"exercise_id": [message]}
    huge = factory_post(app, token, incident_body(exercise_id=2**70))
    assert huge.status_code == 400 and "exercise_id" in huge.json["errors"]
    alone = factory_post(app, token, incident_body(exercise_inject=1))
    assert alone.status_code == 400
    assert alone.json["errors"] == {"exercise_inject": ["is only meaningful with exercise_id"]}
    # The report itself is validated as every report is.
    invalid = factory_post(app, token, incident_body(exercise_id=exercise_id, severity="apocalyptic"))
    assert invalid.status_code == 400 and "severity" in invalid.json["errors"]
    with app.app_context():
        assert db.session.query(ExerciseReport).count() == 0


def test_a_member_outside_the_exercise_gets_the_answer_of_a_missing_exercise(app, factory, bank, telco,
                                                                            exercise_id):
    telco_token = factory.token(telco)
    outside = factory_post(app, telco_token, incident_body(exercise_id=exercise_id))
    missing = factory_post(app, telco_token, incident_body(exercise_id=exercise_id + 1000))
    assert outside.status_code == missing.status_code == 400
    assert outside.json == missing.json
    assert outside.json["errors"] == {"exercise_id": [NO_SUCH_EXERCISE]}
    # Nor may it read a participant's report, which answers as one that does not exist.
    filed = factory_post(app, factory.token(bank), incident_body(exercise_id=exercise_id)).json
    client = app.test_client()
    theirs = client.get(f"/api/v1/exercises/{exercise_id}/reports/{filed['id']}", headers=auth(telco_token))
    nothing = client.get(f"/api/v1/exercises/{exercise_id}/reports/{filed['id'] + 1000}", headers=auth(telco_token))
    assert theirs.status_code == nothing.status_code == 404
    assert re.sub(r"report \d+", "", theirs.json["message"]) == re.sub(r"report \d+", "", nothing.json["message"])
    wrong_exercise = client.get(f"/api/v1/exercises/{exercise_id + 1}/reports/{filed['id']}",
                                headers=auth(factory.token(bank)))
    assert wrong_exercise.status_code == 404
    with app.app_context():
        cert = db.session.query(Organization).filter_by(kind="cert").one()
        db.session.expunge(cert)
    staff = client.get(f"/api/v1/exercises/{exercise_id}/reports/{filed['id']}", headers=auth(factory.token(cert)))
    assert staff.status_code == 200 and staff.json["organization"] == "first-bank"


def test_a_closed_exercise_takes_no_more_reports(app, factory, bank):
    closed = make_exercise(app, [bank], state="closed")
    response = factory_post(app, factory.token(bank), incident_body(exercise_id=closed))
    assert response.status_code == 409
    assert "closed" in response.json["message"]


def test_a_card_number_in_the_free_text_is_stored_masked(app, factory, bank, exercise_id):
    body = incident_body(exercise_id=exercise_id, title="Card 4111 1111 1111 1111 used",
                         description="Also 4111-1111-1111-1111 in the log", impact="4111111111111111")
    response = factory_post(app, factory.token(bank), body)
    assert response.status_code == 201
    assert "4111 1111 1111 1111" not in response.get_data(as_text=True)
    with app.app_context():
        report = db.session.get(ExerciseReport, response.json["id"])
        stored = " ".join([report.title, str(report.details)])
        assert "411111******1111" in report.title
        assert not re.search(r"4111[\s-]?1111[\s-]?1111[\s-]?1111", stored)


def test_a_retried_post_with_the_same_external_id_files_one_report(app, factory, bank, exercise_id):
    token = factory.token(bank)
    first = factory_post(app, token, incident_body(exercise_id=exercise_id, external_id="soc-42"))
    second = factory_post(app, token, incident_body(exercise_id=exercise_id, external_id="soc-42"))
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json["id"] == second.json["id"]


# The web form ---------------------------------------------------------------------------------


@pytest.fixture
def bank_client(app, factory, bank):
    user = factory.user(bank, "analyst", email="soc@firstbank.example")
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    return client


def test_the_form_offers_the_exercise_and_files_an_exercise_report_then_shows_the_exercise(
        app, bank_client, exercise_id):
    page = bank_client.get(f"/incidents/new?exercise={exercise_id}&inject=2").get_data(as_text=True)
    assert "Exercise (drill)" in page
    assert re.search(rf'<option (?=[^>]*value="{exercise_id}")(?=[^>]*selected)[^>]*>\[EXERCISE\] Autumn drill', page)
    assert re.search(r'name="exercise_inject"[^>]*value="2"|value="2"[^>]*name="exercise_inject"', page)
    before = real_rows(app)
    response = submit(bank_client, form(exercise_id=str(exercise_id), exercise_inject="2"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/exercises/{exercise_id}")
    assert real_rows(app) == before
    with app.app_context():
        report = db.session.query(ExerciseReport).one()
        assert report.source == "web" and report.details["observables"][0]["value"] == "203.0.113.7"
    with bank_client.session_transaction() as session:
        flashes = " ".join(message for _category, message in session.get("_flashes", []))
    assert "recorded as an exercise report" in flashes


def test_the_form_defaults_to_a_real_report(app, bank_client, exercise_id):
    page = bank_client.get("/incidents/new").get_data(as_text=True)
    assert re.search(r'<option (?=[^>]*value="")(?=[^>]*selected)[^>]*>\s*Not an exercise', page)
    response = submit(bank_client, form())
    assert response.status_code == 302 and "/incidents/" in response.headers["Location"]
    with app.app_context():
        assert db.session.query(Incident).count() == 1 and db.session.query(ExerciseReport).count() == 0


def test_a_member_outside_any_exercise_sees_no_exercise_choice(app, factory, telco, exercise_id):
    user = factory.user(telco, "analyst")
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    assert "Exercise (drill)" not in client.get(f"/incidents/new?exercise={exercise_id}").get_data(as_text=True)
    # Posting the id anyway gets the missing exercise's answer, and files nothing.
    response = submit(client, form(exercise_id=str(exercise_id)))
    assert response.status_code == 400
    assert NO_SUCH_EXERCISE in html.unescape(response.get_data(as_text=True))
    assert real_rows(app) == (0, 0, 0, 0)


def test_the_form_says_when_the_exercise_is_closed(app, bank, bank_client):
    closed = make_exercise(app, [bank], state="closed")
    response = submit(bank_client, form(exercise_id=str(closed)))
    assert response.status_code == 409
    assert "closed" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(ExerciseReport).count() == 0 and db.session.query(Incident).count() == 0


def test_the_openapi_document_describes_exercise_reports(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    create = doc["components"]["schemas"]["IncidentCreate"]["properties"]
    assert create["exercise_id"]["type"] == create["exercise_inject"]["type"] == "integer"
    post = doc["paths"]["/api/v1/incidents"]["post"]["responses"]
    assert {"201", "200", "400", "409"} <= set(post)
    assert {"$ref": "#/components/schemas/ExerciseReport"} in post["201"]["content"]["application/json"]["schema"][
        "anyOf"]
    assert doc["components"]["schemas"]["ExerciseReport"]["properties"]["exercise_report"]["enum"] == [True]
    read = doc["paths"]["/api/v1/exercises/{exercise_id}/reports/{report_id}"]["get"]["responses"]
    assert {"200", "401", "404"} <= set(read)


RED_REFUSED = ("a drill's report is read by the CERT staff running it: TLP:RED is not available for exercise "
               "reports; choose AMBER+STRICT")


def test_an_exercise_report_may_not_be_tlp_red_and_nothing_is_stored(app, factory, bank, exercise_id):
    # A real RED report follows need-to-know; a drill's report is read by every CERT credential
    # (the staff running the drill), so RED would promise what the exercise cannot keep.
    token = factory.token(bank)
    refused = factory_post(app, token, incident_body(exercise_id=exercise_id, tlp="red"))
    assert refused.status_code == 400
    assert refused.json["errors"] == {"tlp": [RED_REFUSED]}
    with app.app_context():
        assert db.session.query(ExerciseReport).count() == 0
        assert db.session.query(AuditEntry).filter_by(action="exercise.report").count() == 0
    assert real_rows(app) == (0, 0, 0, 0)
    strict = factory_post(app, token, incident_body(exercise_id=exercise_id, tlp="amber+strict"))
    assert strict.status_code == 201 and strict.json["tlp"] == "amber+strict"


def test_the_form_says_beside_the_tlp_field_that_red_is_not_for_a_drill(app, bank_client, exercise_id):
    response = submit(bank_client, form(exercise_id=str(exercise_id), tlp="red"))
    assert response.status_code == 400
    assert RED_REFUSED in field_errors(response.get_data(as_text=True), "tlp")
    with app.app_context():
        assert db.session.query(ExerciseReport).count() == 0 and db.session.query(Incident).count() == 0


def test_a_late_report_after_the_exercise_window_is_still_taken_while_it_is_open(app, factory, bank, exercise_id):
    # ends_at is the planned end, not a deadline: a late response is measured, not lost.
    with app.app_context():
        db.session.get(Exercise, exercise_id).ends_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    late = factory_post(app, factory.token(bank), incident_body(exercise_id=exercise_id))
    assert late.status_code == 201 and late.json["exercise_report"] is True
