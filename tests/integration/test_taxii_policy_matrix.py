"""Attacker's view: every member × every collection × every TLP × every read route.

The expected answer is written out (taxii_world.expected) from the TLP 2.0 sharing rules and the collections'
audiences as the README states them, not computed with cert_share.policy, so a wrong policy makes these tests fail.
"""
from __future__ import annotations

import pytest
import requests

from .taxii_world import API, CALLERS, COLLECTIONS, TLPS, basic, build_world, expected, indicator

ACCEPT = {"Accept": "application/taxii+json;version=2.1"}
@pytest.fixture
def world(app, factory):
    w = build_world(app, factory)
    w.objects = []  # (alias, tlp, owner, id)
    for alias in COLLECTIONS:
        owners = ("bank", "telco", "cert") if alias == "intake" else ("cert",)
        for owner in owners:
            batch = []
            for tlp in TLPS:
                obj = indicator(tlp=tlp)
                batch.append(obj)
                w.objects.append((alias, tlp, owner, obj["id"]))
            w.publish(alias, batch, owner=owner)
    w.ids = {alias: w.collection(alias).id for alias in COLLECTIONS}
    return w


def _get(session, url, **params):
    return session.get(url, params=params, headers=ACCEPT)


@pytest.mark.parametrize("caller", CALLERS)
def test_every_route_serves_exactly_what_the_tlp_table_allows(live_server, world, caller):
    session = requests.Session()
    session.auth = basic(world, caller)
    for alias in COLLECTIONS:
        base = f"{live_server.url}{API}collections/{world.ids[alias]}/"
        objects_here = [(tlp, owner, oid) for a, tlp, owner, oid in world.objects if a == alias]
        allowed = {oid for tlp, owner, oid in objects_here if expected(caller, alias, tlp, owner)}
        listing = _get(session, base + "objects/")
        manifest = _get(session, base + "manifest/")
        collection_visible = _get(session, base).status_code == 200
        if not collection_visible:
            assert not allowed, (caller, alias)
            assert listing.status_code == manifest.status_code == 404, (caller, alias)
            continue
        assert listing.status_code == 200, (caller, alias, listing.text)
        assert {o["id"] for o in listing.json().get("objects", [])} == allowed, (caller, alias)
        assert {o["id"] for o in manifest.json().get("objects", [])} == allowed, (caller, alias)
        for tlp, owner, oid in objects_here:
            want = 200 if oid in allowed else 404
            one = _get(session, base + f"objects/{oid}/")
            versions = _get(session, base + f"objects/{oid}/versions/")
            assert (one.status_code, versions.status_code) == (want, want), (caller, alias, tlp, owner)
            if want == 404:
                # Indistinguishable from an id that exists nowhere.
                ghost = "indicator--00000000-0000-4000-8000-000000000000"
                missing = _get(session, base + f"objects/{ghost}/")
                assert one.text.replace(oid, ghost) == missing.text
                assert versions.text.replace(oid, ghost) == _get(session, base + f"objects/{ghost}/versions/").text


def test_an_object_id_guessed_from_another_collection_is_not_found(live_server, world):
    session = requests.Session()
    session.auth = basic(world, "bank")
    telco_strict = next(oid for a, tlp, o, oid in world.objects if a == "org-telco-one" and tlp == "amber+strict")
    telco_intake = next(oid for a, tlp, o, oid in world.objects if a == "intake" and o == "telco")
    for alias in ("all-members", "org-first-bank", "intake", "sector-financial-services"):
        base = f"{live_server.url}{API}collections/{world.ids[alias]}/"
        for oid in (telco_strict, telco_intake):
            assert _get(session, base + f"objects/{oid}/").status_code == 404
            assert _get(session, base + "objects/", **{"match[id]": oid}).json() == {"more": False}
            assert _get(session, base + "manifest/", **{"match[id]": oid}).json() == {"more": False}


def test_red_never_leaves_even_with_every_version_filter(live_server, world):
    session = requests.Session()
    session.auth = basic(world, "cert")
    red = [(a, oid) for a, tlp, o, oid in world.objects if tlp == "red"]
    for alias, oid in red:
        base = f"{live_server.url}{API}collections/{world.ids[alias]}/"
        for version in ("all", "first", "last"):
            body = _get(session, base + "objects/", **{"match[version]": version, "match[id]": oid}).json()
            assert body == {"more": False}


def test_a_status_of_another_organization_is_not_found(live_server, world):
    from taxii2client.v21 import Collection

    user, password = basic(world, "bank")
    coll = Collection(f"{live_server.url}{API}collections/{world.ids['intake']}/", user=user, password=password)
    status = coll.add_objects({"objects": [indicator(tlp="amber+strict")]})
    url = f"{live_server.url}{API}status/{status.id}/"
    assert requests.get(url, auth=basic(world, "bank"), headers=ACCEPT).status_code == 200
    assert requests.get(url, auth=basic(world, "cert"), headers=ACCEPT).status_code == 200
    ghost = "00000000-0000-4000-8000-000000000000"
    for other in ("bank2", "telco", "partner"):
        response = requests.get(url, auth=basic(world, other), headers=ACCEPT)
        unknown = requests.get(f"{live_server.url}{API}status/{ghost}/", auth=basic(world, other), headers=ACCEPT)
        assert response.status_code == 404
        assert response.text.replace(status.id, ghost) == unknown.text
