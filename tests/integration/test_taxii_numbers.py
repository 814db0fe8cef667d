"""A stored object is valid JSON that standard clients parse, exactly as it was posted: numbers JSON
cannot carry (NaN, Infinity, 1e400, integers beyond STIX's range) are per-object failures."""
from __future__ import annotations

import json
import uuid

import pytest
import requests
from sqlalchemy import select
from taxii2client.v21 import Collection, as_pages

from cert_share.extensions import db
from cert_share.models import StixObject

from ..conftest import auth
from .taxii_world import API, basic, build_world, indicator

MEDIA = "application/taxii+json;version=2.1"
CREATED = "2026-01-05T10:00:00.000Z"
# Written into the request text as they are: Python's json would not write 1e400 or the
# 5,000-digit integer, and the point is what the server makes of the text.
UNSAFE = ("NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9007199254740992", "-9007199254740992",
          "18446744073709551616", "1" + "0" * 5000)


@pytest.fixture
def world(app, factory):
    return build_world(app, factory)


def _custom(**props) -> dict:
    return {"type": "x-acme-ticket", "spec_version": "2.1", "id": f"x-acme-ticket--{uuid.uuid4()}",
            "created": CREATED, "modified": CREATED, **props}


def _post(live_server, world, who: str, alias: str, text: str) -> dict:
    url = f"{live_server.url}{API}collections/{world.collection(alias).id}/objects/"
    response = requests.post(url, data=text.encode("utf-8"), auth=basic(world, who),
                             headers={"Content-Type": MEDIA, "Accept": MEDIA})
    assert response.status_code == 202, response.text
    return response.json()


def _with_number(obj: dict, literal: str) -> str:
    """The object's JSON text with the placeholder string replaced by a bare number literal."""
    return json.dumps(obj).replace('"@NUMBER@"', literal)


@pytest.mark.parametrize("who,alias", [("bank", "intake"), ("cert", "all-members")])
def test_unsafe_numbers_are_per_object_failures_and_the_rest_is_stored(live_server, world, app, who, alias):
    bad = []
    for literal in UNSAFE:
        bad.append((_custom(x_acme_score="@NUMBER@"), literal))
        bad.append((indicator(x_acme_score={"history": [1, "@NUMBER@"]}), literal))
    good = [_custom(x_acme_score=9007199254740991, x_acme_low=-9007199254740991, x_acme_ratio=0.1,
                    x_acme_big=1e308),
            indicator(confidence=80), indicator(x_acme_weights=[0, 1.5, -2.25e-10])]
    text = '{"objects":[' + ",".join([_with_number(o, lit) for o, lit in bad] + [json.dumps(o) for o in good]) + "]}"
    status = _post(live_server, world, who, alias, text)
    assert [s["id"] for s in status["successes"]] == [o["id"] for o in good]
    failures = {f["id"]: f["message"] for f in status["failures"]}
    assert set(failures) == {o["id"] for o, _ in bad}
    for obj, _ in bad:
        where = "x_acme_score" if obj["type"] == "x-acme-ticket" else "x_acme_score.history[1]"
        assert failures[obj["id"]].startswith(where + " "), failures[obj["id"]]
    with app.app_context():
        stored = {row.stix_id: row.body for row in db.session.execute(select(StixObject)).scalars()}
    assert set(stored) == {o["id"] for o in good}
    for obj in good:
        # Valid for the strictest standard parser, and the very values posted.
        assert json.loads(stored[obj["id"]], parse_constant=_no_constants) == obj


def _no_constants(name):
    raise AssertionError(f"{name} in a stored object")


def test_taxii2_client_reads_the_whole_intake_after_an_attack(live_server, world):
    """The CERT's full read of intake: one poisoned object must not make a page invalid JSON."""
    posted = []
    for who in ("bank", "telco"):
        batch = [indicator(confidence=10), _custom(x_acme_big=9007199254740991)]
        poison = [_with_number(_custom(x_acme_score="@NUMBER@"), literal) for literal in UNSAFE]
        text = '{"objects":[' + ",".join(poison + [json.dumps(o) for o in batch]) + "]}"
        assert _post(live_server, world, who, "intake", text)["success_count"] == 2
        posted += batch
    user, password = basic(world, "cert")
    intake = Collection(f"{live_server.url}{API}collections/{world.collection('intake').id}/", user=user,
                        password=password)
    read = [o for page in as_pages(intake.get_objects, per_request=1) for o in page.get("objects", [])]
    assert sorted(read, key=lambda o: o["id"]) == sorted(posted, key=lambda o: o["id"])


@pytest.mark.parametrize("literal", ["NaN", "1e400", "9007199254740992"])
def test_the_json_api_refuses_an_unsafe_number_naming_the_field(client, world, literal):
    body = ('{"title": "Outage", "description": "d", "classification": "other/undetermined", '
            '"severity": "low", "tlp": "green", "detected_at": "2026-01-05T10:00:00Z", '
            '"observables": [{"type": "ipv4-addr", "value": ' + literal + '}]}')
    response = client.post("/api/v1/incidents", data=body, content_type="application/json",
                           headers=auth(world.tokens["bank"]))
    assert response.status_code == 400
    error = response.get_json()
    assert error["status"] == 400 and error["message"].startswith("observables[0].value ")
