"""The TAXII 2.1 server driven by the real client (taxii2client.v21) against a live server."""
from __future__ import annotations

import pytest
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from .taxii_world import API, basic, build_world, indicator


@pytest.fixture
def world(app, factory):
    return build_world(app, factory)


def _collection(live_server, world, who: str, alias: str) -> Collection:
    coll = world.collection(alias)
    user, password = basic(world, who)
    return Collection(f"{live_server.url}{API}collections/{coll.id}/", user=user, password=password)


def test_discovery_names_the_api_root_and_its_limits(live_server, world, app):
    user, password = basic(world, "bank")
    server = Server(f"{live_server.url}/taxii2/", user=user, password=password)
    assert server.title == "cert-share TAXII server"
    assert [root.url for root in server.api_roots] == [f"{live_server.url}{API}"]
    root = server.default
    assert root.versions == ["application/taxii+json;version=2.1"]
    assert root.max_content_length == app.config["TAXII_MAX_CONTENT_LENGTH"]


def test_each_role_sees_only_the_collections_it_can_read_or_write(live_server, world):
    def seen(who):
        user, password = basic(world, who)
        root = ApiRoot(f"{live_server.url}{API}", user=user, password=password)
        return {c.alias: (c.can_read, c.can_write) for c in root.collections}

    assert seen("bank") == {"all-members": (True, False), "intake": (True, True),
                            "org-first-bank": (True, False), "sector-financial-services": (True, False)}
    assert seen("telco") == {"all-members": (True, False), "intake": (True, True),
                             "org-telco-one": (True, False), "sector-telecommunications": (True, False)}
    assert seen("partner") == {"intake": (True, True), "org-partner-cert": (True, False)}
    cert_view = seen("cert")
    assert all(v == (True, True) for v in cert_view.values())
    assert {"all-members", "intake", "org-first-bank", "org-second-bank", "org-telco-one",
            "sector-financial-services", "sector-telecommunications"} <= set(cert_view)


def test_a_member_polls_green_warnings_with_the_real_client(live_server, world):
    warning = indicator("203.0.113.9", tlp="green")
    world.publish("all-members", [warning])
    coll = _collection(live_server, world, "bank", "all-members")
    envelope = coll.get_objects()
    assert [o["id"] for o in envelope["objects"]] == [warning["id"]]
    assert envelope["objects"][0] == warning  # stored JSON served as it was published
    assert envelope["more"] is False


def test_full_read_of_more_than_a_thousand_objects_returns_each_once(live_server, world):
    objects = [indicator(f"10.1.{i // 250}.{i % 250 + 1}", tlp="green") for i in range(2_345)]
    world.publish("all-members", objects[:1000])
    world.publish("all-members", objects[1000:])
    coll = _collection(live_server, world, "telco", "all-members")
    seen = []
    for page in as_pages(coll.get_objects, per_request=500):
        seen.extend(o["id"] for o in page.get("objects", []))
    assert len(seen) == len(set(seen)) == 2_345
    assert set(seen) == {o["id"] for o in objects}


def test_post_to_intake_stores_valid_objects_and_lists_failures(live_server, world):
    good = indicator("192.0.2.55", tlp="amber")
    bad_pattern = indicator("192.0.2.56", pattern="[ipv4-addr:value = '192.0.2.56'")
    coll = _collection(live_server, world, "bank", "intake")
    status = coll.add_objects({"objects": [good, bad_pattern]})
    assert status.status == "complete"
    assert (status.total_count, status.success_count, status.failure_count) == (2, 1, 0 + 1)
    assert [s["id"] for s in status.successes] == [good["id"]]
    assert status.failures[0]["id"] == bad_pattern["id"]
    assert "pattern" in status.failures[0]["message"]
    # The poster reads back what it wrote; the status resource is its own.
    assert [o["id"] for o in coll.get_objects()["objects"]] == [good["id"]]
    status.refresh()
    assert status.status == "complete"
