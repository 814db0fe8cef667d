"""Members push STIX to intake; the CERT publishes to any collection (TAXII 2.1 section 5.5)."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from taxii2client.v21 import Collection

from cert_share.extensions import db
from cert_share.models import Incident, StixObject
from cert_share.stix import markings
from cert_share.stix.build import INCIDENT_CORE_EXTENSION

from .taxii_world import API, basic, build_world, indicator

CREATED = "2026-01-10T08:00:00.000Z"


@pytest.fixture
def world(app, factory):
    return build_world(app, factory)


def _coll(live_server, world, who, alias) -> Collection:
    user, password = basic(world, who)
    return Collection(f"{live_server.url}{API}collections/{world.collection(alias).id}/", user=user,
                      password=password)


def _incident(world, who="bank", **extra) -> dict:
    obj = {"type": "incident", "spec_version": "2.1", "id": f"incident--{uuid.uuid4()}", "created": CREATED,
           "modified": CREATED, "name": "Ransomware on file servers",
           "description": "Encrypted shares at 07:40.",
           "labels": ['rsit:malicious-code="infected-system"'],
           "object_marking_refs": [markings.marking_id("amber")],
           "extensions": {INCIDENT_CORE_EXTENSION: {"extension_type": "property-extension", "criticality": 80,
                                                   "first_seen": "2026-01-10T07:40:00.000Z"}}}
    obj.update(extra)
    return obj


def _relate(source: dict, target: dict) -> dict:
    return {"type": "relationship", "spec_version": "2.1", "id": f"relationship--{uuid.uuid4()}",
            "created": CREATED, "modified": CREATED, "relationship_type": "related-to",
            "source_ref": source["id"], "target_ref": target["id"]}


def test_a_pushed_incident_becomes_a_report_of_the_posting_organization(live_server, world, app):
    incident = _incident(world)
    ioc = indicator("203.0.113.77", created=CREATED)
    sco = {"type": "domain-name", "spec_version": "2.1", "id": f"domain-name--{uuid.uuid4()}",
           "value": "c2.example"}
    envelope = {"objects": [incident, ioc, sco, _relate(incident, ioc), _relate(sco, incident)]}
    coll = _coll(live_server, world, "bank", "intake")
    status = coll.add_objects(envelope)
    assert (status.status, status.success_count, status.failure_count) == ("complete", 5, 0)
    with app.app_context():
        report = db.session.execute(select(Incident).where(Incident.external_id == incident["id"])).scalar_one()
        assert report.org_id == world.orgs["bank"].id
        assert report.source == "taxii"
        assert (report.classification, report.severity, report.tlp) == ("malicious-code/infected-system", "high",
                                                                         "amber")
        assert report.title == "Ransomware on file servers"
        assert sorted((o.type, o.value) for o in report.observables) == [
            ("domain-name", "c2.example"), ("ipv4-addr", "203.0.113.77")]
    # Posting the same incident again creates nothing new.
    coll.add_objects(envelope)
    with app.app_context():
        assert db.session.query(Incident).filter_by(external_id=incident["id"]).count() == 1


def test_an_unlabelled_unmarked_incident_defaults_to_undetermined_and_amber_strict(live_server, world, app):
    incident = _incident(world, labels=None, object_marking_refs=None, extensions=None)
    incident = {k: v for k, v in incident.items() if v is not None}
    _coll(live_server, world, "telco", "intake").add_objects({"objects": [incident]})
    with app.app_context():
        report = db.session.query(Incident).filter_by(external_id=incident["id"]).one()
        assert (report.classification, report.severity, report.tlp) == ("other/undetermined", "medium", "amber+strict")


def test_nobody_reports_in_another_organizations_name(live_server, world, app):
    telco_identity = world.orgs["telco"].stix_id
    forged = _incident(world, created_by_ref=telco_identity)
    forged_indicator = indicator(created_by_ref=telco_identity)
    fake_identity = {"type": "identity", "spec_version": "2.1", "id": telco_identity, "created": CREATED,
                     "modified": CREATED, "name": "Telco One", "identity_class": "organization"}
    own = indicator(created_by_ref=world.orgs["bank"].stix_id)
    status = _coll(live_server, world, "bank", "intake").add_objects(
        {"objects": [forged, forged_indicator, fake_identity, own]})
    assert {f["id"] for f in status.failures} == {forged["id"], forged_indicator["id"], telco_identity}
    assert all("another organization" in f["message"] for f in status.failures)
    assert [s["id"] for s in status.successes] == [own["id"]]
    with app.app_context():
        assert db.session.query(Incident).filter_by(external_id=forged["id"]).count() == 0


def test_custom_objects_and_extensions_are_kept_as_they_came(live_server, world):
    custom = {"type": "x-acme-ticket", "spec_version": "2.1", "id": f"x-acme-ticket--{uuid.uuid4()}",
              "created": CREATED, "modified": CREATED, "x_acme_queue": "soc-l2", "nested": {"a": [1, 2]}}
    with_property = indicator(x_acme_score=93)
    coll = _coll(live_server, world, "bank", "intake")
    status = coll.add_objects({"objects": [custom, with_property]})
    assert status.failure_count == 0
    served = {o["id"]: o for o in coll.get_objects(version="all")["objects"]}
    assert served[custom["id"]] == custom and served[with_property["id"]] == with_property


@pytest.mark.parametrize("broken,needle", [
    ({"id": None}, "id"),
    ({"id": "indicator--x"}, "UUID"),
    ({"type": "Indicator!"}, "type"),
    ({"pattern": "[ipv4-addr:value = '1.2.3.4'"}, "pattern"),
    ({"pattern": "(" * 50 + "[ipv4-addr:value = '1.2.3.4']" + ")" * 50}, "nests"),
    ({"pattern": "[ipv4-addr:value = '" + "1" * 5000 + "']"}, "longer"),
    ({"created": "last tuesday"}, "created"),
    ({"spec_version": "2.0"}, "spec_version"),
    ({"valid_until": "2020-01-01T00:00:00Z"}, "valid_until"),
])
def test_invalid_objects_are_failures_and_do_not_block_the_rest(live_server, world, broken, needle):
    bad = {k: v for k, v in {**indicator(), **broken}.items() if v is not None}
    good = indicator()
    status = _coll(live_server, world, "bank", "intake").add_objects({"objects": [bad, good, "not an object"]})
    assert status.success_count == 1 and status.failure_count == 2
    assert needle in status.failures[0]["message"]


def test_the_cert_publishes_to_any_collection_as_is_but_never_red(live_server, world, app):
    green = indicator(tlp="green")
    red = indicator(tlp="red")
    cert = _coll(live_server, world, "cert", "sector-telecommunications")
    status = cert.add_objects({"objects": [green, red]})
    assert [s["id"] for s in status.successes] == [green["id"]]
    assert "RED" in status.failures[0]["message"]
    telco = _coll(live_server, world, "telco", "sector-telecommunications")
    assert telco.get_objects()["objects"] == [green]
    with app.app_context():
        row = db.session.execute(select(StixObject).where(StixObject.stix_id == green["id"])).scalar_one()
        assert row.owner_org_id == world.orgs["cert"].id


def test_members_read_back_their_own_pushes_only(live_server, world):
    mine = indicator(tlp="green")
    theirs = indicator(tlp="green")
    _coll(live_server, world, "bank", "intake").add_objects({"objects": [mine]})
    _coll(live_server, world, "telco", "intake").add_objects({"objects": [theirs]})
    assert [o["id"] for o in _coll(live_server, world, "bank", "intake").get_objects()["objects"]] == [mine["id"]]
    cert_view = _coll(live_server, world, "cert", "intake").get_objects()["objects"]
    assert {mine["id"], theirs["id"]} <= {o["id"] for o in cert_view}


def test_rsit_types_with_digits_are_understood(live_server, world, app):
    incident = _incident(world, labels=['rsit:malicious-code="c2-server"'])
    _coll(live_server, world, "bank", "intake").add_objects({"objects": [incident]})
    with app.app_context():
        report = db.session.query(Incident).filter_by(external_id=incident["id"]).one()
        assert report.classification == "malicious-code/c2-server"
