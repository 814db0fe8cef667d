"""Every error a TAXII client can provoke answers with the right status and a TAXII error
resource (title, description, http_status) in application/taxii+json;version=2.1."""
from __future__ import annotations

import base64
import json

import pytest

from cert_share.actor import CLI

from .taxii_world import API, build_world, indicator

MEDIA = "application/taxii+json;version=2.1"


@pytest.fixture
def world(app, factory):
    w = build_world(app, factory)
    w.publish("all-members", [indicator(f"10.2.0.{i}") for i in range(1, 6)])
    return w


def _basic(world, who):
    raw = f"{world.orgs[who].slug}:{world.tokens[who]}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode(), "Accept": MEDIA}


def _bearer(world, who):
    return {"Authorization": f"Bearer {world.tokens[who]}", "Accept": MEDIA}


def _error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == MEDIA
    body = response.get_json(force=True)
    assert set(body) >= {"title", "description", "http_status"} and body["http_status"] == str(status)
    return body


def _objects_url(world, alias="all-members"):
    return f"{API}collections/{world.collection(alias).id}/objects/"


def test_bearer_and_basic_both_authenticate(client, world):
    assert client.get(_objects_url(world), headers=_bearer(world, "bank")).status_code == 200
    assert client.get(_objects_url(world), headers=_basic(world, "bank")).status_code == 200


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer cs_not-a-real-token"},
    {"Authorization": "Basic " + base64.b64encode(b"first-bank:wrong").decode()},
    {"Authorization": "Basic !!!not-base64"},
    {"Authorization": "Digest username=x"},
])
def test_missing_or_wrong_credentials_are_401_with_www_authenticate(client, world, headers):
    response = client.get(f"{API}collections/", headers={"Accept": MEDIA, **headers})
    _error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")


def test_a_token_under_another_organizations_name_is_401(client, world):
    raw = f"{world.orgs['telco'].slug}:{world.tokens['bank']}".encode()
    response = client.get("/taxii2/", headers={"Authorization": "Basic " + base64.b64encode(raw).decode()})
    _error(response, 401)


def test_a_revoked_token_is_401(client, world, app):
    from cert_share.extensions import db
    from cert_share.models import ApiToken, Organization
    from cert_share.services import tokens

    with app.app_context():
        org = db.session.get(Organization, world.orgs["bank"].id)
        row = db.session.query(ApiToken).filter_by(org_id=org.id).one()
        tokens.revoke_token(db.session, org, row.id, actor=CLI)
    _error(client.get("/taxii2/", headers=_bearer(world, "bank")), 401)


def test_the_web_session_cookie_is_never_accepted(client, world, factory):
    user = factory.user(world.orgs["cert"], role="cert-admin")
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
    _error(client.get(f"{API}collections/", headers={"Accept": MEDIA}), 401)
    # Nor read or written beside a token: no cookie set, no answer varying by it.
    answered = client.get(f"{API}collections/", headers={"Accept": MEDIA, **_bearer(world, "bank")})
    assert answered.status_code == 200
    assert "Set-Cookie" not in answered.headers and "Cookie" not in answered.headers.get("Vary", "")


@pytest.mark.parametrize("accept", ["application/json", "application/taxii+json;version=2.0",
                                    "text/html", "application/stix+json;version=2.1"])
def test_an_accept_the_server_cannot_serve_is_406(client, world, accept):
    headers = {**_bearer(world, "bank"), "Accept": accept}
    _error(client.get(_objects_url(world), headers=headers), 406)


@pytest.mark.parametrize("accept", ["application/taxii+json;version=2.1", "application/taxii+json",
                                    "*/*", "text/html, application/taxii+json;version=2.1;q=0.9"])
def test_acceptable_accept_headers(client, world, accept):
    response = client.get(_objects_url(world), headers={**_bearer(world, "bank"), "Accept": accept})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == MEDIA


@pytest.mark.parametrize("content_type", ["application/json", "application/stix+json;version=2.1",
                                          "application/taxii+json;version=2.0", None])
def test_post_with_a_wrong_content_type_is_415(client, world, content_type):
    headers = _bearer(world, "bank")
    if content_type:
        headers["Content-Type"] = content_type
    body = json.dumps({"objects": [indicator()]})
    _error(client.post(_objects_url(world, "intake"), data=body, headers=headers), 415)


def test_post_larger_than_max_content_length_is_413(client, world, app):
    app.config["TAXII_MAX_CONTENT_LENGTH"] = 2_000
    body = json.dumps({"objects": [indicator() for _ in range(20)]})
    headers = {**_bearer(world, "bank"), "Content-Type": MEDIA}
    body_error = _error(client.post(_objects_url(world, "intake"), data=body, headers=headers), 413)
    assert "2000" in body_error["description"]


@pytest.mark.parametrize("body,needle", [
    ("{not json", "not valid JSON"),
    ("[" * 200 + "]" * 200, "nested deeper"),
    ('{"objects": ' + "[" * 100 + "]" * 100 + "}", "nested deeper"),
    ('{"objects": {}}', "objects"),
    ('"just a string"', "envelope"),
    ("", "empty"),
    (b"\xff\xfe", "UTF-8"),
])
def test_bad_post_bodies_are_400(client, world, body, needle):
    headers = {**_bearer(world, "bank"), "Content-Type": MEDIA}
    error = _error(client.post(_objects_url(world, "intake"), data=body, headers=headers), 400)
    assert needle in error["description"]


@pytest.mark.parametrize("params,needle", [
    ({"added_after": "yesterday"}, "added_after"),
    ({"limit": "abc"}, "limit"),
    ({"limit": "0"}, "limit"),
    ({"limit": "-5"}, "limit"),
    ({"match[type]": "indicator' OR '1'='1"}, "match[type]"),
    ({"match[type]": "indicator,"}, "match[type]"),
    ({"match[id]": "indicator--1; DROP TABLE stix_objects"}, "match[id]"),
    ({"match[version]": "newest"}, "match[version]"),
    ({"match[spec_version]": "3.0"}, "match[spec_version]"),
    ({"match[color]": "red"}, "unsupported parameter"),
    ({"next": "forged-token"}, "next"),
])
def test_bad_query_parameters_are_400(client, world, params, needle):
    error = _error(client.get(_objects_url(world), query_string=params, headers=_bearer(world, "bank")), 400)
    assert needle in error["description"]


def _next_token(client, world, who="bank", alias="all-members", **params):
    response = client.get(_objects_url(world, alias), query_string={"limit": "2", **params},
                          headers=_bearer(world, who))
    return response.get_json()["next"]


def test_next_works_for_its_own_query(client, world):
    token = _next_token(client, world)
    page = client.get(_objects_url(world), query_string={"limit": "2", "next": token}, headers=_bearer(world, "bank"))
    assert page.status_code == 200 and len(page.get_json()["objects"]) == 2


def test_next_from_another_query_collection_or_caller_is_400(client, world):
    token = _next_token(client, world)
    # another filter
    _error(client.get(_objects_url(world), query_string={"next": token, "match[type]": "indicator"},
                      headers=_bearer(world, "bank")), 400)
    # another route of the same collection
    manifest = _objects_url(world).replace("objects/", "manifest/")
    _error(client.get(manifest, query_string={"next": token}, headers=_bearer(world, "bank")), 400)
    # another collection the caller can read
    _error(client.get(_objects_url(world, "sector-financial-services"), query_string={"next": token},
                      headers=_bearer(world, "bank")), 400)
    # another caller
    _error(client.get(_objects_url(world), query_string={"next": token}, headers=_bearer(world, "telco")), 400)
    # a token whose signature was kept but payload changed
    payload, signature = token.split(".")
    tampered = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature
    _error(client.get(_objects_url(world), query_string={"next": tampered}, headers=_bearer(world, "bank")), 400)


@pytest.mark.parametrize("path", ["/taxii2/nope/", "/taxii2/nope/collections/", f"{API}collections/nope/",
                                  f"{API}status/00000000-0000-4000-8000-000000000000/", f"{API}nothing-here/"])
def test_unknown_resources_are_404(client, world, path):
    _error(client.get(path, headers=_bearer(world, "bank")), 404)


def test_a_collection_of_another_organization_is_404_not_403(client, world):
    url = f"{API}collections/{world.collection('org-telco-one').id}/"
    _error(client.get(url, headers=_bearer(world, "bank")), 404)
    _error(client.get(url + "objects/", headers=_bearer(world, "bank")), 404)
    headers = {**_bearer(world, "bank"), "Content-Type": MEDIA}
    _error(client.post(url + "objects/", data=json.dumps({"objects": [indicator()]}), headers=headers), 404)


def test_a_member_posting_to_a_collection_it_only_reads_is_403(client, world):
    headers = {**_bearer(world, "bank"), "Content-Type": MEDIA}
    _error(client.post(_objects_url(world), data=json.dumps({"objects": [indicator()]}), headers=headers), 403)


def test_a_wrong_method_is_405(client, world):
    _error(client.put(_objects_url(world), headers=_bearer(world, "bank")), 405)
