"""Filtering, paging, manifest, versions and delete, as TAXII 2.1 section 3.4 and 5 specify."""
from __future__ import annotations

import pytest
from taxii2client.v21 import Collection, as_pages

from .taxii_world import API, basic, build_world, indicator

V1 = "2026-01-05T10:00:00.000Z"
V2 = "2026-01-06T10:00:00.000Z"
V3 = "2026-01-07T10:00:00.000Z"


@pytest.fixture
def world(app, factory):
    return build_world(app, factory)


@pytest.fixture
def coll(live_server, world):
    c = world.collection("all-members")
    user, password = basic(world, "bank")
    return Collection(f"{live_server.url}{API}collections/{c.id}/", user=user, password=password)


@pytest.fixture
def versioned(world):
    """One indicator in three versions, one domain SCO, one other indicator."""
    ident = "indicator--2b6f2a6e-2f3c-4c84-9c4e-1b1a6f0f0a01"
    versions = [indicator("203.0.113.1", ident=ident, created=V1, modified=v) for v in (V1, V2, V3)]
    domain = {"type": "domain-name", "spec_version": "2.1", "id": "domain-name--0c7b5f3e-3f4f-5a59-9cf3-2a4b0e4d6c01",
              "value": "evil.example", "object_marking_refs": versions[0]["object_marking_refs"]}
    other = indicator("203.0.113.2")
    for obj in (versions[0], domain, versions[1], other, versions[2]):
        world.publish("all-members", [obj])
    return {"id": ident, "versions": versions, "domain": domain, "other": other}


def _ids(envelope):
    return [o["id"] for o in envelope.get("objects", [])]


def test_default_is_the_last_version_of_each_object(coll, versioned):
    env = coll.get_objects()
    assert sorted(_ids(env)) == sorted([versioned["id"], versioned["domain"]["id"], versioned["other"]["id"]])
    mine = [o for o in env["objects"] if o["id"] == versioned["id"]]
    assert [o["modified"] for o in mine] == [V3]


@pytest.mark.parametrize("version,expected", [
    ("first", [V1]), ("last", [V3]), ("all", [V1, V2, V3]), (V2, [V2]), (f"first,{V2}", [V1, V2]),
])
def test_match_version(coll, versioned, version, expected):
    env = coll.get_object(versioned["id"], version=version)
    assert sorted(o["modified"] for o in env["objects"]) == expected


def test_match_type_and_id_take_comma_lists(coll, versioned):
    assert _ids(coll.get_objects(type="domain-name")) == [versioned["domain"]["id"]]
    both = coll.get_objects(type="domain-name,indicator")
    assert len(both["objects"]) == 3
    picked = coll.get_objects(id=f"{versioned['other']['id']},{versioned['domain']['id']}")
    assert sorted(_ids(picked)) == sorted([versioned["other"]["id"], versioned["domain"]["id"]])


def test_match_spec_version(coll, versioned):
    assert len(coll.get_objects(spec_version="2.1")["objects"]) == 3
    assert coll.get_objects(spec_version="2.0").get("objects") is None


def test_added_after_and_date_headers_make_an_incremental_poll(coll, world, versioned, live_server):
    import requests

    user, password = basic(world, "bank")
    url = coll.url + "objects/"
    first = requests.get(url, auth=(user, password), headers={"Accept": "application/taxii+json;version=2.1"})
    last = first.headers["X-TAXII-Date-Added-Last"]
    assert first.headers["X-TAXII-Date-Added-First"] <= last
    assert requests.get(url, params={"added_after": last}, auth=(user, password)).json() == {"more": False}
    newer = indicator("203.0.113.3")
    world.publish("all-members", [newer])
    again = requests.get(url, params={"added_after": last}, auth=(user, password))
    assert _ids(again.json()) == [newer["id"]]
    assert again.headers["X-TAXII-Date-Added-First"] > last


def test_limit_is_capped_at_the_page_size_and_next_continues(coll, world, app):
    app.config["TAXII_PAGE_SIZE"] = 7
    world.publish("all-members", [indicator(f"10.9.0.{i}") for i in range(1, 21)])
    first = coll.get_objects(limit=100)
    assert len(first["objects"]) == 7 and first["more"] is True and first["next"]
    pages = list(as_pages(coll.get_objects, per_request=5))
    assert [len(p["objects"]) for p in pages] == [5, 5, 5, 5]


def test_manifest_lists_versions_and_dates_without_bodies(coll, versioned):
    manifest = coll.get_manifest()
    records = {r["id"]: r for r in manifest["objects"]}
    assert records[versioned["id"]]["version"] == "2026-01-07T10:00:00.000000Z"
    assert records[versioned["id"]]["media_type"] == "application/stix+json;version=2.1"
    assert all(r["date_added"].endswith("Z") for r in records.values())
    assert len(coll.get_manifest(version="all")["objects"]) == 5


def test_versions_lists_every_version_oldest_first(coll, versioned):
    versions = coll.object_versions(versioned["id"])
    assert versions["versions"] == ["2026-01-05T10:00:00.000000Z", "2026-01-06T10:00:00.000000Z",
                                    "2026-01-07T10:00:00.000000Z"]


def test_get_object_of_a_missing_id_is_404(coll, versioned):
    import requests

    with pytest.raises(requests.HTTPError) as err:
        coll.get_object("indicator--00000000-0000-4000-8000-000000000000")
    assert err.value.response.status_code == 404


def test_the_cert_deletes_an_object_or_one_version(live_server, world, versioned, app):
    import requests

    c = world.collection("all-members")
    user, password = basic(world, "cert")
    cert = Collection(f"{live_server.url}{API}collections/{c.id}/", user=user, password=password)
    cert.delete_object(versioned["id"], version="2026-01-07T10:00:00.000Z")
    assert [o["modified"] for o in cert.get_object(versioned["id"])["objects"]] == [V2]
    cert.delete_object(versioned["id"])
    with pytest.raises(requests.HTTPError) as err:
        cert.get_object(versioned["id"])
    assert err.value.response.status_code == 404


def test_a_member_cannot_delete_a_warning(coll, world, versioned):
    import requests

    # taxii2-client refuses locally (can_write is false); the server must refuse too.
    response = requests.delete(f"{coll.url}objects/{versioned['id']}/", auth=basic(world, "bank"),
                               headers={"Accept": "application/taxii+json;version=2.1"})
    assert response.status_code == 403
    assert response.json()["http_status"] == "403"
    assert coll.get_object(versioned["id"])["objects"]
