"""Drill data never becomes real data through a STIX channel.

An object carrying the exercise extension (a member's drill answer, a partner CERT's own drill)
is refused by a TAXII push with a status that says where drill reports go, refuses a bundle
import whole, and is skipped and counted by a partner feed. Nothing of it is stored: no
incident, observable (so no correlation), warning or deadline, not even the indicators and
SCOs that only the drill incident ties together. The same objects without the extension go
through, so each test would notice a channel that let drill data in.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from taxii2client.v21 import Collection

from cert_share.errors import InputError
from cert_share.extensions import db
from cert_share.models import EarlyWarning, Incident, Observable, Organization, PhaseDeadline, StixObject
from cert_share.services import importer
from cert_share.stix import exercise, markings
from cert_share.store.collections import by_alias

from .taxii_world import API
from .test_feeds import partner_setup, pull, push, upstream  # noqa: F401 - fixtures

CREATED = "2026-11-30T16:00:00.000Z"
REFUSAL = "drill (exercise) objects are not reports: file exercise reports with POST /api/v1/incidents and exercise_id"
EXT = {exercise.EXTENSION_ID: {"extension_type": "property-extension", "exercise_id": 1, "exercise": "storm",
                               "inject": 1}}


def picture(app) -> dict:
    """What correlation, warnings, deadlines and metrics read."""
    with app.app_context():
        return {model.__name__: db.session.execute(select(func.count()).select_from(model)).scalar_one()
                for model in (Incident, Observable, EarlyWarning, PhaseDeadline)}


def drill_answer(value: str = "192.0.2.10", *, drill: bool = True) -> list[dict]:
    """A member's answer to inject 1 as STIX: the incident carries the extension; the indicator,
    the SCO and the relationships tying them to it do not."""
    green = [markings.marking_id("green")]
    incident = {"type": "incident", "spec_version": "2.1", "id": f"incident--{uuid.uuid4()}", "created": CREATED,
                "modified": CREATED, "name": "[EXERCISE] our answer to inject 1", "object_marking_refs": green,
                "labels": ["exercise", 'rsit:malicious-code="infected-system"']}
    if drill:
        incident["extensions"] = EXT
    ioc = {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}", "created": CREATED,
           "modified": CREATED, "pattern": f"[ipv4-addr:value = '{value}']", "pattern_type": "stix",
           "valid_from": CREATED, "object_marking_refs": green}
    sco = {"type": "domain-name", "spec_version": "2.1", "id": f"domain-name--{uuid.uuid4()}",
           "value": "drill-c2.example", "object_marking_refs": green}
    relations = [{"type": "relationship", "spec_version": "2.1", "id": f"relationship--{uuid.uuid4()}",
                  "created": CREATED, "modified": CREATED, "relationship_type": "related-to",
                  "source_ref": source["id"], "target_ref": target["id"], "object_marking_refs": green}
                 for source, target in ((ioc, incident), (incident, sco))]
    return [incident, ioc, sco, *relations]


def real_indicator(value: str) -> dict:
    return {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}", "created": CREATED,
            "modified": CREATED, "pattern": f"[ipv4-addr:value = '{value}']", "pattern_type": "stix",
            "valid_from": CREATED, "labels": ['rsit:malicious-code="c2-server"'],
            "object_marking_refs": [markings.marking_id("green")]}


@pytest.fixture
def members(app, factory):
    """A bank whose range holds the drill's value, and a member that reports it for real once."""
    cert = factory.cert()
    bank = factory.org("First Bank", sector="financial-services", assets=["192.0.2.0/24"])
    telco = factory.org("Telco One", sector="telecommunications")
    return SimpleNamespace(cert=cert, bank=bank, telco=telco, tokens={"cert": factory.token(cert),
                                                                      "telco": factory.token(telco)})


def intake(live_server, app, members, who="telco", alias="intake") -> Collection:
    """A TAXII client (taxii2-client) on ``alias`` as ``who``."""
    with app.app_context():
        coll_id = by_alias(db.session, alias).id
    return Collection(f"{live_server.url}{API}collections/{coll_id}/", user=getattr(members, who).slug,
                      password=members.tokens[who])


def test_a_drill_answer_pushed_over_taxii_is_refused_whole_and_says_where_it_goes(live_server, app, members):
    before = picture(app)
    answer = drill_answer()
    kept = real_indicator("198.51.100.20")
    status = intake(live_server, app, members).add_objects({"objects": [*answer, kept]})
    assert status.status == "complete"
    assert {f["id"] for f in status.failures} == {o["id"] for o in answer}
    assert all(REFUSAL in f["message"] for f in status.failures)
    assert f"goes with {answer[0]['id']}" in {f["id"]: f["message"] for f in status.failures}[answer[1]["id"]]
    assert [s["id"] for s in status.successes] == [kept["id"]]
    assert picture(app) == before  # no report, observable, warning or deadline
    with app.app_context():
        assert db.session.execute(select(StixObject.stix_id).where(
            StixObject.stix_id.in_([o["id"] for o in answer]))).all() == []
    # The same answer without the extension is a real report: the check above could fail.
    status = intake(live_server, app, members).add_objects({"objects": drill_answer(drill=False)})
    assert status.failure_count == 0
    after = picture(app)
    assert (after["Incident"], after["Observable"]) == (before["Incident"] + 1, before["Observable"] + 2)
    assert after["EarlyWarning"] == before["EarlyWarning"] + 1


def test_the_cert_cannot_publish_drill_objects_to_a_real_collection(live_server, app, members):
    inject = exercise.inject_objects(
        SimpleNamespace(id=3, slug="storm"),
        SimpleNamespace(number=1, kind="warning", title="Storm", description="", tlp="green", expect="report",
                        observables=[{"type": "ipv4-addr", "value": "192.0.2.10", "display": "192.0.2.10"}],
                        partner_name=None, stix_id=f"report--{uuid.uuid4()}"),
        members.cert, sent=datetime(2026, 11, 30, 16, tzinfo=timezone.utc))
    status = intake(live_server, app, members, who="cert", alias="all-members").add_objects({"objects": inject})
    refused = {f["id"] for f in status.failures}
    assert refused == {o["id"] for o in inject if o["type"] not in ("identity", "marking-definition",
                                                                    "extension-definition")}
    assert all(REFUSAL in f["message"] for f in status.failures)


def test_a_bundle_holding_a_drill_answer_is_refused_and_nothing_imported(app, members, tmp_path):
    before = picture(app)
    path = tmp_path / "answer.json"
    path.write_text(json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                                "objects": [*drill_answer(), real_indicator("198.51.100.21")]}))
    with app.app_context():
        org = db.session.get(Organization, members.telco.id)
        with pytest.raises(InputError) as refused:
            importer.import_file(db.session, str(path), org=org)
    assert REFUSAL in str(refused.value) and "nothing imported" in str(refused.value)
    assert picture(app) == before


def test_the_cli_import_says_why_a_drill_bundle_is_refused(runner, members, tmp_path):
    path = tmp_path / "answer.json"
    path.write_text(json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": drill_answer()}))
    result = runner.invoke(args=["import", str(path), "--org", members.telco.slug])
    assert result.exit_code != 0 and "drill (exercise) objects are not reports" in result.output


def test_a_partners_own_drill_in_its_feed_is_skipped_counted_and_never_stored(app, partner_setup, caplog):  # noqa: F811
    # What a partner CERT running cert-share publishes for its drill's inject: a report with its
    # indicator and SCO, all carrying the extension (stored here they would be loose indicators).
    # (Without the extension-definition object: medallion cannot sort an object whose "version"
    # is not a timestamp.)
    partner_cert = SimpleNamespace(name="Partner CERT", sector="government-national",
                                   created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
                                   stix_id=f"identity--{uuid.uuid4()}")
    inject = exercise.inject_objects(
        SimpleNamespace(id=9, slug="their-drill"),
        SimpleNamespace(number=1, kind="warning", title="Their drill", description="", tlp="green",
                        expect="report", observables=[{"type": "ipv4-addr", "value": "192.0.2.10",
                                                        "display": "192.0.2.10"}],
                        partner_name=None, stix_id=f"report--{uuid.uuid4()}"),
        partner_cert, sent=datetime(2026, 11, 30, 16, tzinfo=timezone.utc))
    drill_ids = {o["id"] for o in inject if exercise.is_exercise_object(o)}
    push(partner_setup["url"], [*inject, real_indicator("198.51.100.22")])
    before = picture(app)
    with caplog.at_level("WARNING", logger="cert_share.services.feeds"):
        result = pull(app)
    outcome = result.outcomes[0]
    assert outcome.status == "ok", result.summary()
    assert outcome.drill == len(drill_ids) == 3  # the report, its indicator, its SCO
    assert f"{len(drill_ids)} drill (exercise) object(s) skipped" in result.summary()
    assert any("drill (exercise)" in r.getMessage() for r in caplog.records)
    after = picture(app)
    assert after["Incident"] == before["Incident"] + 1 and after["EarlyWarning"] == before["EarlyWarning"]
    with app.app_context():
        assert [o.value for o in db.session.execute(select(Observable)).scalars()] == ["198.51.100.22"]
