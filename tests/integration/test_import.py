"""`cert-share import`: can a CERT load a MISP event or a STIX bundle as a member's reports, and
is a bad file refused without leaving anything behind?"""
from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from cert_share.clock import utcnow
from cert_share.errors import InputError
from cert_share.extensions import db
from cert_share.models import AuditEntry, Incident, Observable, Organization, StixObject
from cert_share.services import importer, intake
from tests.conftest import auth
from tests.misp_samples import DATA, EXPECTED

GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"


@pytest.fixture
def bank(factory):
    return factory.org("First Bank", sector="financial-services")


def run_import(app, path, org) -> importer.ImportResult:
    with app.app_context():
        result = importer.import_file(db.session, str(path), org=db.session.get(Organization, org.id))
        result.text = result.summary()
        return result


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return (db.session.query(Incident).count(), db.session.query(Observable).count(),
                db.session.query(StixObject).count())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_misp_event_becomes_one_report_of_the_organization(app, bank, name):
    result = run_import(app, DATA / name, bank)
    expected = sum(EXPECTED[name][0].values())
    assert len(result.reports) == 1 and result.reports[0].created
    with app.app_context():
        incident = db.session.query(Incident).one()
        assert incident.org_id == bank.id and incident.source == "import"
        assert incident.tlp == "amber+strict"
        assert len(incident.observables) == expected
        event = json.loads((DATA / name).read_text())["response"][0]["Event"]
        assert incident.title == event["info"] and incident.external_id == f"misp:{event['uuid']}"
        assert db.session.query(AuditEntry).filter_by(action="incident.report").one().details["source"] == "import"
        # Stored as STIX like every other report: incident + 4 objects per observable (+ identity).
        stored = db.session.query(StixObject).filter_by(incident_id=incident.id).count()
        assert stored == 2 + 4 * expected
    assert f"{expected} observable(s)" in result.text


def test_importing_the_same_event_again_stores_nothing(app, bank):
    path = DATA / "misp-turla-crutch-event.json"
    run_import(app, path, bank)
    before = counts(app)
    again = run_import(app, path, bank)
    assert counts(app) == before
    assert not again.reports[0].created and "Already imported" in again.text


def test_the_same_event_for_two_organizations_is_two_reports_sharing_scos(app, factory, bank):
    telco = factory.org("TelcoNet", sector="telecommunications")
    path = DATA / "misp-turla-crutch-event.json"
    run_import(app, path, bank)
    run_import(app, path, telco)
    with app.app_context():
        incidents = db.session.query(Incident).all()
        assert len(incidents) == 2
        scos = [{o.stix_id for o in inc.observables} for inc in incidents]
        assert scos[0] == scos[1]


def test_a_stix_report_exported_by_one_member_imports_with_the_same_observables(app, client, factory, bank, tmp_path):
    telco = factory.org("TelcoNet", sector="telecommunications")
    token = factory.token(bank)
    body = {"title": "Phishing against customers", "classification": "fraud/phishing", "severity": "critical",
            "tlp": "green", "detected_at": (utcnow() - timedelta(hours=1)).isoformat(),
            "observables": [{"type": "domain-name", "value": "bücher-login.example"},
                            {"type": "ipv4-addr", "value": "198.51.100.0/24"},
                            {"type": "autonomous-system", "value": "AS64511"},
                            {"type": "file:sha256", "value": "ab" * 32}]}
    created = client.post("/api/v1/incidents", json=body, headers=auth(token)).json
    exported = client.get(f"/api/v1/incidents/{created['id']}/stix", headers=auth(token)).json
    path = tmp_path / "shared-by-bank.json"
    path.write_text(json.dumps(exported))
    result = run_import(app, path, telco)
    assert [r.created for r in result.reports] == [True]
    with app.app_context():
        imported = db.session.query(Incident).filter_by(org_id=telco.id).one()
        assert imported.title == body["title"] and imported.external_id == created["stix_id"]
        assert (imported.classification, imported.severity, imported.tlp) == ("fraud/phishing", "critical", "green")
        assert {o.stix_id for o in imported.observables} == {o["stix_id"] for o in created["observables"]}
        assert imported.stix_id != created["stix_id"]
    # The import is the telco's report: the bank does not see it.
    assert [i["id"] for i in client.get("/api/v1/incidents", headers=auth(token)).json["incidents"]] == [created["id"]]


def indicator_bundle(count: int, marking: str | None = GREEN) -> dict:
    ts = (utcnow() - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    objects = []
    for i in range(count):
        obj = {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}", "created": ts,
               "modified": ts, "pattern": f"[ipv4-addr:value = '203.0.113.{i + 1}']", "pattern_type": "stix",
               "valid_from": ts}
        if marking:
            obj["object_marking_refs"] = [marking]
        objects.append(obj)
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}


def test_loose_indicators_become_one_report_named_after_the_file(app, bank, tmp_path):
    path = tmp_path / "feed-2026-01.json"
    path.write_text(json.dumps(indicator_bundle(5)))
    result = run_import(app, path, bank)
    with app.app_context():
        incident = db.session.query(Incident).one()
        assert incident.title == "Imported indicators from feed-2026-01.json"
        assert incident.tlp == "green" and incident.classification == "other/undetermined"
        assert sorted(o.value for o in incident.observables) == [f"203.0.113.{i}" for i in range(1, 6)]
    assert "1 report(s) created" in result.text


def test_more_observables_than_a_report_holds_are_split_into_parts(app, bank, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "MAX_OBSERVABLES", 3)
    path = tmp_path / "big.json"
    path.write_text(json.dumps(indicator_bundle(7)))
    result = run_import(app, path, bank)
    assert [len(r.draft.observables) for r in result.reports] == [3, 3, 1]
    with app.app_context():
        titles = sorted(i.title for i in db.session.query(Incident))
        assert titles == [f"Imported indicators from big.json (part {n} of 3)" for n in (1, 2, 3)]
        assert db.session.query(Observable).count() == 7
    before = counts(app)
    run_import(app, path, bank)
    assert counts(app) == before


BAD_FILES = [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"[1, 2, 3]", "neither a STIX 2.1 bundle .* nor a MISP event"),
    (json.dumps({"type": "bundle", "id": "bundle--x", "objects": []}).encode(), "bundle id"),
    (json.dumps({"type": "bundle", "id": "bundle--49787c21-e3d5-4552-a47d-bd13676850dd", "objects": []}).encode(),
     "nothing to import"),
    (json.dumps({"response": [{"Event": {"info": "no attributes"}}]}).encode(), "not a MISP event"),
]


@pytest.mark.parametrize("content,message", BAD_FILES)
def test_bad_files_are_refused_with_a_message_and_nothing_stored(app, bank, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        run_import(app, path, bank)
    assert counts(app) == (0, 0, 0)


def test_one_invalid_pattern_refuses_the_whole_bundle(app, bank, tmp_path):
    bundle = indicator_bundle(50)
    bundle["objects"][37]["pattern"] = "[ipv4-addr:value = '203.0.113.9'"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(bundle))
    with pytest.raises(InputError, match=bundle["objects"][37]["id"]):
        run_import(app, path, bank)
    assert counts(app) == (0, 0, 0)


def test_a_failure_while_storing_leaves_no_half_stored_report(app, bank, tmp_path, monkeypatch):
    events = [json.loads((DATA / n).read_text())["response"][0] for n in
              ("misp-turla-crutch-event.json", "gaming_supply_chain.misp_event.json")]
    path = tmp_path / "two-events.json"
    path.write_text(json.dumps({"response": events}))
    calls = []
    correlate = intake.after_intake

    def fail_on_second(session, incident, **kwargs):
        # The second report fails after its incident, observables and STIX objects are written.
        calls.append(incident.title)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return correlate(session, incident, **kwargs)

    monkeypatch.setattr(intake, "after_intake", fail_on_second)
    with pytest.raises(RuntimeError):
        run_import(app, path, bank)
    with app.app_context():
        incidents = db.session.query(Incident).all()
        assert [i.title for i in incidents] == [events[0]["Event"]["info"]]
        # Everything stored belongs to the first report: the second left no trace.
        assert {o.incident_id for o in db.session.query(Observable)} == {incidents[0].id}
        assert {s.incident_id for s in db.session.query(StixObject).filter(StixObject.incident_id.isnot(None))} \
            == {incidents[0].id}


def test_cli_import_prints_the_summary_and_fails_cleanly(runner, bank, tmp_path):
    ok = runner.invoke(args=["import", str(DATA / "oceanlotus.misp.event.json"), "--org", bank.slug])
    assert ok.exit_code == 0, ok.output
    assert "92 observable(s)" in ok.output and "skipped (no mapping): 8 filename" in ok.output
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    failed = runner.invoke(args=["import", str(bad), "--org", bank.slug])
    assert failed.exit_code != 0 and "not valid JSON" in failed.output
    unknown = runner.invoke(args=["import", str(DATA / "oceanlotus.misp.event.json"), "--org", "nobody"])
    assert unknown.exit_code != 0 and "no organization with slug 'nobody'" in unknown.output


def test_data_directory_is_present():
    assert Path(DATA).is_dir()
