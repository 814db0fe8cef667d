"""A drill end to end, through the channels members use for real: CERT staff create an exercise
with two injects for three organizations in two sectors, the run-exercises job sends them, two
participants' SIEMs fetch them over TAXII (taxii2-client against a live server), one acknowledges
the warning through the API, another files a report through the API with the exercise's id, the
third does nothing. The results, the API's and the after-action report's, show exactly that, with
the times the platform recorded; closing freezes them."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

from taxii2client.v21 import Collection as TaxiiCollection

from cert_share.clock import parse_iso, utcnow
from cert_share.extensions import db
from cert_share.models import ExerciseReport, Incident, TaxiiPoll
from cert_share.store.collections import by_alias
from tests.conftest import auth
from tests.integration.incident_bodies import incident_body


def _at(value: str | None) -> datetime | None:
    return None if value is None else parse_iso(value)


def _scenario(starts_at: datetime) -> dict:
    return {
        "name": "Winter grid and payments drill",
        "participants": ["alpha-bank", "beta-bank", "gamma-power"],
        "starts_at": starts_at.isoformat(),
        "injects": [
            {"offset_minutes": 0, "kind": "warning", "title": "C2 server contacted by payment terminals",
             "description": "Block and look for this address in your logs.", "tlp": "green",
             "expect": "acknowledge", "observables": [{"type": "ipv4-addr", "value": "192.0.2.45"}]},
            {"offset_minutes": 1, "kind": "cooperation", "title": "Partner asks about a phishing domain",
             "description": "Did you see this domain? Report what you find.", "tlp": "amber",
             "expect": "report", "partner_name": "CERT Ruritania",
             "observables": [{"type": "domain-name", "value": "pay-update.example"}]},
        ],
    }


def _fetch(live_server, collection_id: str, org, token: str) -> list[dict]:
    url = f"{live_server.url}/taxii2/api/collections/{collection_id}/"
    return TaxiiCollection(url, user=org.slug, password=token).get_objects().get("objects", [])


def test_a_drill_measures_who_fetched_acknowledged_reported_and_who_did_nothing(app, client, runner, factory,
                                                                                live_server):
    cert = factory.cert()
    alpha = factory.org("Alpha Bank", sector="financial-services")
    beta = factory.org("Beta Bank", sector="financial-services")
    gamma = factory.org("Gamma Power", sector="energy")
    tokens = {o.slug: factory.token(o) for o in (cert, alpha, beta, gamma)}
    staff = auth(tokens[cert.slug])

    created = client.post("/api/v1/exercises", json=_scenario(utcnow() - timedelta(minutes=5)), headers=staff)
    assert created.status_code == 201, created.json
    exercise_id = created.json["id"]
    with app.app_context():
        collection_id = by_alias(db.session, f"exercise-{created.json['slug']}").id

    # Nothing is sent until the job runs: the results list no entry yet.
    before = client.get(f"/api/v1/exercises/{exercise_id}/results", headers=staff).json
    assert all(p["injects"] == [] for p in before["participants"])
    job = runner.invoke(args=["jobs", "run", "run-exercises"])
    assert job.exit_code == 0, job.output
    results = client.get(f"/api/v1/exercises/{exercise_id}/results", headers=staff).json
    sent_at = {i["number"]: _at(i["sent_at"]) for i in results["injects"]}
    assert None not in sent_at.values()

    # Alpha's and Beta's SIEMs poll the exercise's collection; Gamma's does not.
    for org in (alpha, beta):
        objects = _fetch(live_server, collection_id, org, tokens[org.slug])
        assert objects and all("exercise" in o.get("labels", ["exercise"]) for o in objects)
    with app.app_context():
        polls = {org_id: at for org_id, at in db.session.query(TaxiiPoll.org_id, TaxiiPoll.polled_at)
                 .filter(TaxiiPoll.collection_id == collection_id, TaxiiPoll.returned > 0)}
    assert set(polls) == {alpha.id, beta.id}

    ack = client.post(f"/api/v1/exercises/{exercise_id}/injects/1/acknowledge", headers=auth(tokens[alpha.slug]))
    assert ack.status_code == 201, ack.json
    acknowledged_at = _at(ack.json["acknowledged_at"])
    filed = client.post("/api/v1/incidents", headers=auth(tokens[beta.slug]), json=incident_body(
        title="Phishing domain seen in our mail gateway", classification="fraud/phishing", tlp="amber",
        observables=[{"type": "domain-name", "value": "pay-update.example"}], exercise_id=exercise_id))
    assert filed.status_code == 201, filed.json
    assert filed.json["exercise_report"] is True and filed.json["exercise_inject"] == 2
    with app.app_context():
        [report] = db.session.query(ExerciseReport).filter_by(exercise_id=exercise_id).all()
        reported_at = report.created_at
        assert db.session.query(Incident).count() == 0  # a drill's report is no incident

    results = client.get(f"/api/v1/exercises/{exercise_id}/results", headers=staff).json
    by_org = {p["organization"]: p for p in results["participants"]}
    assert set(by_org) == {"alpha-bank", "beta-bank", "gamma-power"}
    a1, a2 = by_org["alpha-bank"]["injects"]
    b1, b2 = by_org["beta-bank"]["injects"]
    g1, g2 = by_org["gamma-power"]["injects"]

    # Alpha fetched both injects with one poll after both were sent, acknowledged the first.
    assert _at(a1["fetched_at"]) == _at(a2["fetched_at"]) == polls[alpha.id]
    assert a1["fetch_seconds"] == round((polls[alpha.id] - sent_at[1]).total_seconds())
    assert _at(a1["acknowledged_at"]) == acknowledged_at
    assert a1["acknowledge_seconds"] == round((acknowledged_at - sent_at[1]).total_seconds())
    assert (a1["missed"], a2["missed"]) == ([], ["report"])
    assert a2["reported_at"] is None and a2["report_seconds"] is None
    # Beta fetched, never acknowledged the warning, reported on the cooperation request.
    assert _at(b1["fetched_at"]) == polls[beta.id] and b1["acknowledged_at"] is None
    assert _at(b2["reported_at"]) == reported_at
    assert b2["report_seconds"] == round((reported_at - sent_at[2]).total_seconds())
    assert (b1["missed"], b2["missed"]) == (["acknowledge"], [])
    # Gamma did nothing.
    assert (g1["missed"], g2["missed"]) == (["fetch", "acknowledge"], ["fetch", "report"])
    assert all(g[k] is None for g in (g1, g2) for k in ("fetched_at", "acknowledged_at", "reported_at"))
    # The times are the order things happened in.
    assert sent_at[1] <= sent_at[2] <= polls[alpha.id] <= acknowledged_at
    assert sent_at[2] <= polls[beta.id] <= reported_at

    sectors = {s["sector"]: s for s in results["sectors"]}
    assert {k: sectors["energy"][k] for k in ("participants", "responses_expected", "responses_made", "missed")} \
        == {"participants": 1, "responses_expected": 2, "responses_made": 0, "missed": 2}
    finance = sectors["financial-services"]
    assert (finance["participants"], finance["responses_expected"], finance["responses_made"], finance["missed"]) \
        == (2, 4, 2, 2)
    assert finance["median_acknowledge_seconds"] == a1["acknowledge_seconds"]
    assert finance["median_report_seconds"] == b2["report_seconds"]

    # The after-action report says the same.
    report_csv = runner.invoke(args=["report", "exercise", "--id", str(exercise_id), "--format", "csv"])
    assert report_csv.exit_code == 0, report_csv.output
    rows = {(r["organization"], r["inject"]): r for r in csv.DictReader(io.StringIO(report_csv.output))}
    assert len(rows) == 6 and rows[("gamma-power", "2")]["missed"] == "fetch;report"
    assert rows[("alpha-bank", "1")]["acknowledge_seconds"] == str(a1["acknowledge_seconds"])
    report_json = runner.invoke(args=["report", "exercise", "--id", str(exercise_id), "--format", "json"])
    assert json.loads(report_json.output)["participants"] == results["participants"]

    # Closing freezes them: Gamma's late acknowledgement is refused, and later polls change nothing.
    closed = client.post(f"/api/v1/exercises/{exercise_id}/close", headers=staff)
    assert closed.status_code == 200, closed.json
    late = client.post(f"/api/v1/exercises/{exercise_id}/injects/1/acknowledge", headers=auth(tokens[gamma.slug]))
    assert late.status_code == 409
    _fetch(live_server, collection_id, gamma, tokens[gamma.slug])
    frozen = client.get(f"/api/v1/exercises/{exercise_id}/results", headers=staff).json
    assert frozen["exercise"]["frozen"] is True and frozen["exercise"]["state"] == "closed"
    assert frozen["participants"] == results["participants"] and frozen["sectors"] == results["sectors"]
