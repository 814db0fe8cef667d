"""A drill never touches the real picture, and an organization outside it never sees it.

Everything a drill does, it does here through the real channels: staff create it over the API,
run-exercises sends its injects (observables equal to values a member really reported), the
participants fetch them over TAXII, acknowledge one and file exercise reports with the API and
the form. Then every real table, figure and report must read exactly as before the drill: real
collections, incidents, observables, warnings, deadlines, real mail, the metrics, the operations
figures and the transparency report. A later real report of a drill's value correlates only with
real reports. And a member outside the drill gets, on every route, the answer it gets for an
exercise that does not exist.
"""
from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import (
    Collection,
    EarlyWarning,
    ExerciseReport,
    Incident,
    Observable,
    OutboxMessage,
    PhaseDeadline,
    StixObject,
    WarningSource,
)
from cert_share.reports import transparency
from cert_share.services import exercise_delivery, metrics, operations, operations_figures
from cert_share.store.collections import by_alias
from cert_share.store.stix_objects import add_objects
from tests.conftest import auth
from tests.integration.incident_bodies import incident_body
from tests.integration.taxii_world import API, indicator
from tests.integration.test_web_incidents import form, submit
from tests.integration.web_login import login, without_csrf

TAXII = "application/taxii+json;version=2.1"
REAL_VALUE = "203.0.113.7"  # reported for real by First Bank before the drill, and in the drill's inject
DRILL_VALUE = "198.51.100.77"  # reported only in the drill, by both participants


def taxii_headers(token: str) -> dict:
    return {**auth(token), "Accept": TAXII}


@pytest.fixture
def world(app, factory):
    cert = factory.cert()
    orgs = {"bank": factory.org("First Bank", sector="financial-services"),
            "telco": factory.org("Telco One", sector="telecommunications"),
            "other": factory.org("Other Bank", sector="financial-services")}
    users = {name: factory.user(org, "member-admin", email=f"admin@{org.slug}.example") for name, org in orgs.items()}
    tokens = {name: factory.token(org) for name, org in orgs.items()}
    tokens["cert"] = factory.token(cert)
    client = app.test_client()
    # The real picture: First Bank's report of REAL_VALUE, a CERT indicator the others poll.
    real = client.post("/api/v1/incidents", headers=auth(tokens["bank"]),
                       json=incident_body(observables=[{"type": "ipv4-addr", "value": REAL_VALUE}]))
    assert real.status_code == 201, real.json
    with app.app_context():
        add_objects(db.session, by_alias(db.session, "all-members"), [indicator("192.0.2.44")], owner_org_id=cert.id)
        db.session.commit()
    for name in ("bank", "other"):
        polled = client.get(f"{API}collections/all-members/objects/", headers=taxii_headers(tokens[name]))
        assert polled.status_code == 200
    return {"app": app, "orgs": orgs, "users": users, "tokens": tokens, "client": client,
            "now": utcnow() + timedelta(minutes=10)}


def run_drill(world) -> dict:
    """The whole drill, through the real channels; returns its ids."""
    client, tokens, orgs = world["client"], world["tokens"], world["orgs"]
    created = client.post("/api/v1/exercises", headers=auth(tokens["cert"]), json={
        "name": "Winter drill", "participants": [orgs["bank"].slug, orgs["telco"].slug],
        "starts_at": (utcnow() - timedelta(hours=1)).isoformat(),
        "injects": [
            {"offset_minutes": 0, "kind": "warning", "title": "Botnet C2 at a bank", "description": "Block it.",
             "tlp": "green", "expect": "report",
             "observables": [{"type": "ipv4-addr", "value": REAL_VALUE}, {"type": "ipv4-addr", "value": DRILL_VALUE}]},
            {"offset_minutes": 10, "kind": "cooperation", "title": "Preserve logs", "description": "",
             "tlp": "amber", "expect": "acknowledge", "partner_name": "CERT-Ruritania",
             "observables": [{"type": "ipv4-addr", "value": REAL_VALUE}]}]})
    assert created.status_code == 201, created.json
    exercise_id = created.json["id"]
    with world["app"].app_context():
        exercise_delivery.run_exercises(db.session, utcnow())
        collection_id = db.session.execute(select(Collection.id).where(
            Collection.kind == "exercise")).scalar_one()
    for name in ("bank", "telco"):  # both fetch the injects
        fetched = client.get(f"{API}collections/{collection_id}/objects/", headers=taxii_headers(tokens[name]))
        assert fetched.status_code == 200 and fetched.json["objects"]
    acked = client.post(f"/api/v1/exercises/{exercise_id}/injects/2/acknowledge", headers=auth(tokens["telco"]))
    assert acked.status_code == 201, acked.json
    observables = [{"type": "ipv4-addr", "value": REAL_VALUE}, {"type": "ipv4-addr", "value": DRILL_VALUE}]
    report = client.post("/api/v1/incidents", headers=auth(tokens["telco"]),
                         json=incident_body(exercise_id=exercise_id, observables=observables, severity="critical"))
    assert report.status_code == 201 and report.json["exercise_report"] is True
    browser = world["app"].test_client()
    assert login(browser, world["users"]["bank"].email).status_code == 302
    filed = submit(browser, form(exercise_id=str(exercise_id), observables=f"{REAL_VALUE}\n{DRILL_VALUE}\n"))
    assert filed.status_code == 302 and filed.headers["Location"].endswith(f"/exercises/{exercise_id}")
    with world["app"].app_context():
        assert db.session.query(ExerciseReport).count() == 2
    return {"exercise": exercise_id, "collection": collection_id, "report": report.json["id"]}


def _rows(table, *where) -> list[tuple]:
    return [tuple(row) for row in db.session.execute(select(table).where(*where).order_by(*table.primary_key))]


def real_picture(app, now) -> dict:
    """Everything of the real picture a drill could touch, read straight from its tables and services."""
    with app.app_context():
        real_collections = select(Collection.id).where(Collection.kind != "exercise")
        period = metrics.Period(start=(now - timedelta(days=30)).date(), end=now.date())
        return {
            "collections": _rows(Collection.__table__, Collection.kind != "exercise"),
            "objects": _rows(StixObject.__table__, StixObject.collection_id.in_(real_collections)),
            "incidents": _rows(Incident.__table__), "observables": _rows(Observable.__table__),
            "warnings": _rows(EarlyWarning.__table__), "warning_sources": _rows(WarningSource.__table__),
            "deadlines": _rows(PhaseDeadline.__table__),
            "real_mail": _rows(OutboxMessage.__table__, OutboxMessage.exercise_id.is_(None)),
            "metrics": metrics.compute(db.session, period, now=now),
            "transparency": _without_generated_at(transparency.build(db.session, period)),
            "silent": [(org.slug, last) for org, last in
                       operations.silent_members(db.session, now=now, silence=timedelta(minutes=1))],
            "dead_letters": operations.dead_letter_count(db.session),
            "figures": dataclasses.asdict(operations_figures.read_figures(db.session, now=now,
                                                                          job_names=["run-exercises"])),
        }


def _without_generated_at(report: dict) -> dict:
    return {key: value for key, value in report.items() if key not in {"generated_at"}}


def test_a_drill_leaves_every_real_table_figure_and_report_as_it_was(world):
    app, now = world["app"], world["now"]
    before = real_picture(app, now)
    run_drill(world)
    after = real_picture(app, now)
    for key in before:
        assert after[key] == before[key], key
    # The figures were not empty: the comparison compared something.
    assert before["incidents"] and before["observables"] and before["objects"] and before["deadlines"]
    assert before["metrics"]["members_polling"] == 2


def test_a_real_report_of_a_drills_value_correlates_only_with_real_reports(world):
    app, client, tokens = world["app"], world["client"], world["tokens"]
    run_drill(world)
    # Other Bank, outside the drill, reports both values for real. REAL_VALUE was reported for real
    # by First Bank: a community warning of exactly these two real sources. DRILL_VALUE was reported
    # by both participants in the drill only: no warning at all.
    body = incident_body(observables=[{"type": "ipv4-addr", "value": REAL_VALUE},
                                      {"type": "ipv4-addr", "value": DRILL_VALUE}])
    assert client.post("/api/v1/incidents", json=body, headers=auth(tokens["other"])).status_code == 201
    with app.app_context():
        warnings = db.session.execute(select(EarlyWarning)).scalars().all()
        assert [w.observable_value for w in warnings] == [REAL_VALUE]
        sources = db.session.execute(select(Incident.org_id).join(
            WarningSource, WarningSource.incident_id == Incident.id)).scalars().all()
        assert sorted(sources) == sorted([world["orgs"]["bank"].id, world["orgs"]["other"].id])
        assert db.session.query(Observable).filter_by(value=DRILL_VALUE).count() == 1  # Other Bank's own


# Someone outside the drill ------------------------------------------------------------------------


def _same(first, second, *, ids=()) -> None:
    """Two answers a caller cannot tell apart (ids in messages and CSRF tokens aside)."""
    assert first.status_code == second.status_code
    texts = []
    for response in (first, second):
        text = without_csrf(response.get_data(as_text=True))
        for value in sorted(map(str, ids), key=len, reverse=True):
            text = re.sub(rf"(?<![\w.]){re.escape(value)}(?![\w.])", "ID", text)
        texts.append(text)
    assert texts[0] == texts[1]


def test_an_organization_outside_the_drill_sees_nothing_of_it_on_any_route(world):
    app, client, tokens = world["app"], world["client"], world["tokens"]
    drill = run_drill(world)
    exercise, collection, report = drill["exercise"], drill["collection"], drill["report"]
    missing_exercise, missing_collection = exercise + 1000, "3a1c2f0e-0000-4000-8000-000000000000"
    token = tokens["other"]
    with app.app_context():
        alias = db.session.get(Collection, collection).alias

    # TAXII: not listed; by id and by alias, the collection, its objects and manifest answer as missing ones.
    listed = client.get(f"{API}collections/", headers=taxii_headers(token))
    assert listed.status_code == 200
    assert alias not in listed.get_data(as_text=True) and collection not in listed.get_data(as_text=True)
    for name in (collection, alias):
        for suffix in ("", "objects/", "manifest/"):
            _same(client.get(f"{API}collections/{name}/{suffix}", headers=taxii_headers(token)),
                  client.get(f"{API}collections/{missing_collection}/{suffix}", headers=taxii_headers(token)))

    # The API: not listed; read, acknowledged, its results and its reports answer as for no exercise.
    assert client.get("/api/v1/exercises", headers=auth(token)).json["exercises"] == []
    for path in ("/api/v1/exercises/{}", "/api/v1/exercises/{}/results"):
        _same(client.get(path.format(exercise), headers=auth(token)),
              client.get(path.format(missing_exercise), headers=auth(token)), ids=(exercise, missing_exercise))
    _same(client.post(f"/api/v1/exercises/{exercise}/injects/1/acknowledge", headers=auth(token)),
          client.post(f"/api/v1/exercises/{missing_exercise}/injects/1/acknowledge", headers=auth(token)),
          ids=(exercise, missing_exercise))
    _same(client.get(f"/api/v1/exercises/{exercise}/reports/{report}", headers=auth(token)),
          client.get(f"/api/v1/exercises/{missing_exercise}/reports/{report}", headers=auth(token)),
          ids=(exercise, missing_exercise))
    _same(client.post("/api/v1/incidents", json=incident_body(exercise_id=exercise), headers=auth(token)),
          client.post("/api/v1/incidents", json=incident_body(exercise_id=missing_exercise), headers=auth(token)))

    # The pages: the list does not name it, its page and inject page answer as missing ones, the
    # report form offers no drill, and a search for the drill's value finds what a never-seen value finds.
    browser = app.test_client()
    assert login(browser, world["users"]["other"].email).status_code == 302
    listing = browser.get("/exercises")
    assert listing.status_code in (200, 403, 404) and "Winter drill" not in listing.get_data(as_text=True)
    for path in ("/exercises/{}", "/exercises/{}/injects/1"):
        _same(browser.get(path.format(exercise)), browser.get(path.format(missing_exercise)),
              ids=(exercise, missing_exercise))
    assert "Exercise (drill)" not in browser.get("/incidents/new").get_data(as_text=True)
    never_seen = "198.51.100.78"
    _same(browser.get(f"/search?q={DRILL_VALUE}"), browser.get(f"/search?q={never_seen}"),
          ids=(DRILL_VALUE, never_seen))
    _same(client.get(f"/api/v1/observables?value={DRILL_VALUE}", headers=auth(token)),
          client.get(f"/api/v1/observables?value={never_seen}", headers=auth(token)), ids=(DRILL_VALUE, never_seen))
