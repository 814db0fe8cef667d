"""Attacker's view of markings: a granular marking, a home-made "TLP" definition or a RED object
must never widen who reads an object, on any read route of any collection, nor through the JSON API."""
from __future__ import annotations

import uuid

import pytest
import requests
from sqlalchemy import select
from taxii2client.v21 import Collection

from cert_share.extensions import db
from cert_share.models import Incident, StixObject
from cert_share.stix import markings
from cert_share.stix.build import INCIDENT_CORE_EXTENSION

from ..conftest import auth
from .taxii_world import API, CALLERS, COLLECTIONS, basic, build_world, expected, indicator

ACCEPT = {"Accept": "application/taxii+json;version=2.1"}
CREATED = "2026-01-10T08:00:00.000Z"
GHOST = "indicator--00000000-0000-4000-8000-000000000000"


def marked(object_level: str | None, *granular: tuple[str, str]) -> dict:
    """An indicator marked ``object_level`` as a whole and each (selector, level) granularly."""
    obj = indicator(tlp=object_level, description="seen on the VPN gateway")
    if granular:
        obj["granular_markings"] = [
            {"selectors": [selector], "lang": level[5:]} if level.startswith("lang:")
            else {"selectors": [selector], "marking_ref": markings.marking_id(level)}
            for selector, level in granular]
    return obj


# (object, the level it must be served at)
SHAPES = (
    (lambda: marked("green", ("name", "red")), "red"),
    (lambda: marked("green", ("description", "amber+strict")), "amber+strict"),
    (lambda: marked("clear", ("pattern", "amber")), "amber"),
    (lambda: marked(None, ("name", "red")), "red"),
    (lambda: marked(None, ("name", "green")), "green"),
    (lambda: marked("green", ("description", "lang:fr")), "green"),
    (lambda: marked("amber+strict", ("name", "clear")), "amber+strict"),
)


@pytest.fixture
def world(app, factory):
    return build_world(app, factory)


@pytest.fixture
def granular_world(world):
    """Every shape in every collection, stored as the storage service stores it (RED ones cannot
    be posted any more, but may sit in a database from before)."""
    world.objects = []  # (alias, level, owner, id)
    for alias in COLLECTIONS:
        for owner in (("bank", "telco", "cert") if alias == "intake" else ("cert",)):
            batch = []
            for make, level in SHAPES:
                obj = make()
                batch.append(obj)
                world.objects.append((alias, level, owner, obj["id"]))
            world.publish(alias, batch, owner=owner)
    world.ids = {alias: world.collection(alias).id for alias in COLLECTIONS}
    return world


def _get(session, url, **params):
    return session.get(url, params=params, headers=ACCEPT)


@pytest.mark.parametrize("caller", CALLERS)
def test_no_route_serves_an_object_beyond_its_strictest_marking(live_server, granular_world, caller):
    world = granular_world
    session = requests.Session()
    session.auth = basic(world, caller)
    for alias in COLLECTIONS:
        base = f"{live_server.url}{API}collections/{world.ids[alias]}/"
        here = [(level, owner, oid) for a, level, owner, oid in world.objects if a == alias]
        allowed = {oid for level, owner, oid in here if expected(caller, alias, level, owner)}
        if _get(session, base).status_code != 200:
            assert not allowed, (caller, alias)
            continue
        listing = _get(session, base + "objects/").json()
        manifest = _get(session, base + "manifest/").json()
        assert {o["id"] for o in listing.get("objects", [])} == allowed, (caller, alias)
        assert {o["id"] for o in manifest.get("objects", [])} == allowed, (caller, alias)
        for level, owner, oid in here:
            want = 200 if oid in allowed else 404
            one = _get(session, base + f"objects/{oid}/")
            versions = _get(session, base + f"objects/{oid}/versions/")
            assert (one.status_code, versions.status_code) == (want, want), (caller, alias, level, owner)
            by_id = _get(session, base + "objects/", **{"match[id]": oid}).json()
            assert ("objects" in by_id) == (want == 200), (caller, alias, level, owner)
            if want == 404:
                assert one.text.replace(oid, GHOST) == _get(session, base + f"objects/{GHOST}/").text


def _coll(live_server, world, who: str, alias: str) -> Collection:
    user, password = basic(world, who)
    return Collection(f"{live_server.url}{API}collections/{world.collection(alias).id}/", user=user,
                      password=password)


def test_a_green_object_with_a_strict_property_posted_to_all_members_reaches_no_member(live_server, world, app):
    secret = marked("green", ("description", "amber+strict"))
    plain = marked("green")
    status = _coll(live_server, world, "cert", "all-members").add_objects({"objects": [secret, plain]})
    assert status.success_count == 2
    for member in ("bank", "telco"):
        assert [o["id"] for o in _coll(live_server, world, member, "all-members").get_objects()["objects"]] == [
            plain["id"]]
    with app.app_context():
        row = db.session.execute(select(StixObject).where(StixObject.stix_id == secret["id"])).scalar_one()
        assert row.tlp == "amber+strict"


@pytest.mark.parametrize("poster,alias", [("bank", "intake"), ("cert", "all-members"), ("cert", "intake")])
def test_a_property_marked_red_makes_the_whole_object_a_failure(live_server, world, app, poster, alias):
    red_inside = marked("green", ("name", "red"))
    tlp1_red_inside = marked("green")
    tlp1_red_inside["granular_markings"] = [{"selectors": ["name"],
                                             "marking_ref": "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"}]
    fine = marked("green", ("name", "amber"))
    status = _coll(live_server, world, poster, alias).add_objects({"objects": [red_inside, tlp1_red_inside, fine]})
    assert [s["id"] for s in status.successes] == [fine["id"]]
    assert {f["id"] for f in status.failures} == {red_inside["id"], tlp1_red_inside["id"]}
    assert all("TLP:RED" in f["message"] for f in status.failures)
    with app.app_context():
        stored = db.session.execute(select(StixObject.stix_id)).scalars().all()
        assert red_inside["id"] not in stored and tlp1_red_inside["id"] not in stored


def test_red_posted_to_intake_is_refused_with_where_to_report_it(live_server, world, app):
    red = indicator(tlp="red")
    incident = {"type": "incident", "spec_version": "2.1", "id": f"incident--{uuid.uuid4()}", "created": CREATED,
                "modified": CREATED, "name": "Board e-mail compromised",
                "object_marking_refs": [markings.marking_id("red")]}
    green = indicator(tlp="green")
    bank = _coll(live_server, world, "bank", "intake")
    status = bank.add_objects({"objects": [red, incident, green]})
    assert (status.success_count, status.failure_count) == (1, 2)
    for failure in status.failures:
        assert "TLP:RED is never shared through a collection" in failure["message"]
        assert "web form or API" in failure["message"]
    assert [o["id"] for o in bank.get_objects()["objects"]] == [green["id"]]
    with app.app_context():
        assert db.session.query(Incident).filter_by(external_id=incident["id"]).count() == 0
        assert db.session.query(StixObject).filter(StixObject.stix_id.in_([red["id"], incident["id"]])).count() == 0


def _definition(**fields) -> dict:
    return {"type": "marking-definition", "spec_version": "2.1", "id": f"marking-definition--{uuid.uuid4()}",
            "created": CREATED, **fields}


FAKES = {
    "tlp-2.0-extension": lambda: _definition(name="TLP:CLEAR", extensions={markings.TLP_EXTENSION_ID: {
        "extension_type": "property-extension", "tlp_2_0": "clear"}}),
    "tlp-1.0-definition": lambda: _definition(definition_type="tlp", definition={"tlp": "white"}),
    "name-only": lambda: _definition(name="TLP:GREEN", definition_type="statement",
                                     definition={"statement": "share freely"}),
    "tlp-in-statement": lambda: _definition(definition_type="statement", definition={"statement": "x", "tlp": "clear"}),
    "official-id-other-level": lambda: {**markings.marking_objects()["amber+strict"], "name": "TLP:CLEAR",
                                        "extensions": {markings.TLP_EXTENSION_ID: {
                                            "extension_type": "property-extension", "tlp_2_0": "clear"}}},
}


@pytest.mark.parametrize("fake", sorted(FAKES))
@pytest.mark.parametrize("poster,alias", [("bank", "intake"), ("cert", "all-members")])
def test_a_home_made_tlp_definition_is_refused_and_so_is_what_references_it(live_server, world, app, fake,
                                                                           poster, alias):
    definition = FAKES[fake]()
    only_fake = indicator(tlp=None, object_marking_refs=[definition["id"]])
    fake_inside = marked("green")
    fake_inside["granular_markings"] = [{"selectors": ["name"], "marking_ref": definition["id"]}]
    honest = indicator(tlp="green")
    # The reference comes before the definition: the order of the envelope does not matter.
    status = _coll(live_server, world, poster, alias).add_objects(
        {"objects": [only_fake, fake_inside, definition, honest]})
    assert [s["id"] for s in status.successes] == [honest["id"]]
    failures = {f["id"]: f["message"] for f in status.failures}
    assert set(failures) == {definition["id"], only_fake["id"], fake_inside["id"]}
    assert "official" in failures[definition["id"]]
    assert "refused in this request" in failures[only_fake["id"]]
    with app.app_context():
        stored = set(db.session.execute(select(StixObject.stix_id)).scalars())
        assert honest["id"] in stored and not stored & set(failures)


def test_statement_and_iep_markings_are_kept_and_never_lower_the_level(live_server, world):
    statement = _definition(definition_type="statement", definition={"statement": "Copyright 2026 National CERT"},
                            object_marking_refs=[markings.marking_id("clear")])
    iep = _definition(name="IEP: internal use only", object_marking_refs=[markings.marking_id("clear")],
                      extensions={f"extension-definition--{uuid.uuid4()}": {
                          "extension_type": "property-extension", "iep_version": "2.0",
                          "permitted_actions": "internal-use-only"}})
    amber_with_statement = indicator(tlp=None, object_marking_refs=[statement["id"], markings.marking_id("amber")])
    green_with_iep = indicator(tlp=None, object_marking_refs=[markings.marking_id("green"), iep["id"]])
    only_statement = indicator(tlp=None, object_marking_refs=[statement["id"]])
    statement_on_a_property = indicator(tlp="green", granular_markings=[
        {"selectors": ["name"], "marking_ref": iep["id"]}])
    envelope = [statement, iep, amber_with_statement, green_with_iep, only_statement, statement_on_a_property]
    for alias in ("all-members", "sector-financial-services"):
        status = _coll(live_server, world, "cert", alias).add_objects({"objects": envelope})
        assert status.failure_count == 0, status.failures
    ids = lambda who, alias: {o["id"] for o in _coll(live_server, world, who, alias).get_objects()["objects"]}  # noqa: E731
    shared = {statement["id"], iep["id"], green_with_iep["id"], statement_on_a_property["id"]}
    assert ids("telco", "all-members") == shared
    assert ids("bank", "sector-financial-services") == shared | {amber_with_statement["id"]}
    served = {o["id"]: o for o in _coll(live_server, world, "bank", "all-members").get_objects()["objects"]}
    assert served[statement["id"]] == statement and served[iep["id"]] == iep


def _incident(**extra) -> dict:
    return {"type": "incident", "spec_version": "2.1", "id": f"incident--{uuid.uuid4()}", "created": CREATED,
            "modified": CREATED, "name": "Phishing wave against treasury staff",
            "description": "Names of targeted staff attached.",
            "extensions": {INCIDENT_CORE_EXTENSION: {"extension_type": "property-extension", "criticality": 50}},
            **extra}


def test_the_json_api_stix_download_carries_the_strictest_marking(live_server, world, client, app):
    incident = _incident(object_marking_refs=[markings.marking_id("green")],
                         granular_markings=[{"selectors": ["description"],
                                             "marking_ref": markings.marking_id("amber+strict")}])
    status = _coll(live_server, world, "bank", "intake").add_objects({"objects": [incident]})
    assert status.success_count == 1
    with app.app_context():
        report = db.session.query(Incident).filter_by(external_id=incident["id"]).one()
        assert report.tlp == "amber+strict"
        report_id = report.id
    response = client.get(f"/api/v1/incidents/{report_id}/stix", headers=auth(world.tokens["bank"]))
    assert response.status_code == 200
    strict, green = markings.marking_id("amber+strict"), markings.marking_id("green")
    objects = response.get_json()["objects"]
    assert next(o for o in objects if o["type"] == "incident")["object_marking_refs"] == [strict]
    assert all(o["object_marking_refs"] == [strict] for o in objects if "object_marking_refs" in o)
    assert green not in response.get_data(as_text=True)
    for other in ("bank2", "telco", "partner"):
        assert client.get(f"/api/v1/incidents/{report_id}/stix", headers=auth(world.tokens[other])).status_code == 404
