"""The HTTP edge as an attacker meets it: values that got past one parsing step and broke the
next (non-ASCII digits, timestamps that overflow once their offset applies, lone surrogates,
ids of 2^63), bodies and answers beyond their size limits, caching and banners, 405 without
Allow, and an OpenAPI document that says what the server enforces."""
from __future__ import annotations

import http.client
import io
import json
import uuid
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from cert_share.extensions import db
from cert_share.models import ApiToken
from cert_share.stix.build import INCIDENT_CORE_EXTENSION
from tests.conftest import auth
from tests.integration.staff_login import enrol, sign_in
from tests.integration.taxii_world import API, build_world, indicator
from tests.integration.web_login import login, page_token

TAXII = "application/taxii+json;version=2.1"
BIG = str(2**63)


@pytest.fixture
def world(app, factory):
    w = build_world(app, factory)
    w.publish("all-members", [indicator(f"198.51.100.{i}") for i in range(1, 4)])
    return w


def _taxii(world, who="bank2") -> dict:
    return {**auth(world.tokens[who]), "Accept": TAXII, "Content-Type": TAXII}


def _objects(world, alias="all-members") -> str:
    return f"{API}collections/{world.collection(alias).id}/objects/"


def _taxii_error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == TAXII
    body = response.get_json(force=True)
    assert body["http_status"] == str(status)
    return body


def _api_error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == status and body["error"] and body["message"]
    return body


def _report(**extra) -> dict:
    return {"title": "Phishing wave", "classification": "fraud/phishing", "severity": "low", "tlp": "amber",
            "detected_at": "2026-01-05T10:00:00Z", **extra}


def _incident_object(**core) -> dict:
    created = "2026-01-05T10:00:00.000Z"
    return {"type": "incident", "spec_version": "2.1", "id": f"incident--{uuid.uuid4()}", "created": created,
            "modified": created, "name": "Ransomware", "labels": ['rsit:malicious-code="infected-system"'],
            "extensions": {INCIDENT_CORE_EXTENSION: {"extension_type": "property-extension", **core}}}


# ---- non-ASCII digits, offsets past the calendar, lone surrogates ---------------------------

@pytest.mark.parametrize("value", ["²", "١٢", "𝟙", "1_0", " 5", "-1", "0", "9" * 30])
def test_a_limit_that_is_not_ascii_digits_is_a_taxii_400_naming_it(client, world, value):
    body = _taxii_error(client.get(_objects(world), query_string={"limit": value}, headers=_taxii(world)), 400)
    assert "limit" in body["description"]


@pytest.mark.parametrize("value", ["²", "١٢", "1001", "0", BIG])
def test_api_limit_and_before_outside_ascii_digits_and_their_range_are_400s_naming_the_field(client, world, value):
    for path in ("/api/v1/incidents", "/api/v1/warnings"):
        for name in ("limit", "before"):
            if name == "before" and value in {"1001"}:
                continue
            body = _api_error(client.get(path, query_string={name: value}, headers=auth(world.tokens["bank2"])), 400)
            assert body["errors"] == {name: [body["message"]]}


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "١٢٣٤-٠١-٠١T00:00:00Z"])
def test_timestamps_that_leave_the_calendar_are_taxii_400s(client, world, value):
    for name in ("added_after", "match[version]"):
        body = _taxii_error(client.get(_objects(world), query_string={name: value}, headers=_taxii(world)), 400)
        assert name in body["description"]


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_an_api_report_with_such_a_timestamp_is_a_400_naming_the_field(client, world, value):
    for field in ("detected_at", "started_at"):
        response = client.post("/api/v1/incidents", json=_report(**{field: value}), headers=auth(world.tokens["bank2"]))
        assert field in _api_error(response, 400)["errors"]


def test_a_posted_incident_whose_first_seen_overflows_is_stored_without_it(client, world):
    """The incident core extension's first_seen is read to date the report: an overflow there
    leaves the report without a start time, not a 500."""
    obj = _incident_object(criticality=80, first_seen="0001-01-01T00:00:00+01:00")
    response = client.post(_objects(world, "intake"), data=json.dumps({"objects": [obj]}), headers=_taxii(world))
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.get_json(force=True)["success_count"] == 1


def test_a_lone_surrogate_in_a_taxii_post_is_a_400_naming_where(client, world):
    raw = json.dumps({"objects": [indicator("198.51.100.77", name="\ud800")]})  # ASCII: "\\ud800"
    body = _taxii_error(client.post(_objects(world, "intake"), data=raw, headers=_taxii(world)), 400)
    assert "objects[0].name" in body["description"] and "Unicode" in body["description"]


def test_a_lone_surrogate_in_an_api_body_is_a_400_naming_the_field(client, world):
    raw = json.dumps(_report(title="Phish \udc00 wave"))
    body = _api_error(client.post("/api/v1/incidents", data=raw, content_type="application/json",
                                  headers=auth(world.tokens["bank2"])), 400)
    assert body["errors"] == {"title": [body["message"]]}


def test_a_surrogate_pair_is_one_character_and_accepted(client, world):
    raw = json.dumps(_report(title="Phish \U0001F3A3 wave"))  # "\ud83c\udfa3" in the JSON text
    response = client.post("/api/v1/incidents", data=raw, content_type="application/json",
                           headers=auth(world.tokens["bank2"]))
    assert response.status_code == 201 and response.get_json()["title"] == "Phish \U0001F3A3 wave"


def test_a_nul_character_is_a_400_naming_where_it_is(app, client, world, factory):
    """PostgreSQL refuses NUL in any text value: refused before any query, not a 500 there."""
    body = _taxii_error(client.get(_objects(world), query_string={"match[type]": "indicator\x00"},
                                   headers=_taxii(world)), 400)
    assert "match[type]" in body["description"]
    body = _api_error(client.get("/api/v1/warnings", query_string={"state": "\x00"},
                                 headers=auth(world.tokens["cert"])), 400)
    assert body["errors"] == {"state": [body["message"]]}
    raw = json.dumps(_report(title="Phish", external_id="a\x00b"))
    body = _api_error(client.post("/api/v1/incidents", data=raw, content_type="application/json",
                                  headers=auth(world.tokens["bank2"])), 400)
    assert "external_id" in body["errors"]
    staff = app.test_client()
    admin = factory.user(world.orgs["cert"], role="cert-admin")
    sign_in(staff, admin.email, enrol(app, admin))
    assert staff.get("/incidents", query_string={"q": "phish\x00"}).status_code == 400
    token = page_token(staff, "/admin/users")
    assert staff.post("/admin/users", data={"csrf_token": token, "email": "a\x00@b.example"}).status_code == 400
    # Any page's form: the field says what is wrong, and nothing is stored.
    token = page_token(staff, "/tokens")
    page = staff.post("/tokens", data={"csrf_token": token, "name": "soc\x00pipeline",
                                       "org": world.orgs["cert"].slug})
    assert page.status_code == 400 and "contains a NUL character" in page.get_data(as_text=True)
    with app.app_context():
        assert not db.session.execute(select(ApiToken).where(ApiToken.name.like("soc%pipeline"))).first()
    page = staff.post("/admin/audit.csv", data={"csrf_token": token, "action": "x\x00"})
    assert page.status_code == 400 and "NUL" in page.get_data(as_text=True)


# ---- ids of 2^63 and beyond -----------------------------------------------------------------

@pytest.mark.parametrize("ident", [BIG, str(2**64), "9" * 40, "١٢"])
def test_ids_beyond_any_column_are_404_on_the_api(client, world, ident):
    for method, path in (("GET", f"/api/v1/incidents/{ident}"), ("GET", f"/api/v1/incidents/{ident}/stix"),
                         ("POST", f"/api/v1/incidents/{ident}/updates"), ("GET", f"/api/v1/warnings/{ident}"),
                         ("PATCH", f"/api/v1/incidents/{ident}"), ("POST", f"/api/v1/warnings/{ident}/publish")):
        response = client.open(path, method=method, json={}, headers=auth(world.tokens["cert"]))
        # 404 like any id that does not exist, also where another method's route shares the path
        # (GET and PATCH of /incidents/<id>): the OpenAPI document promises no 405 there.
        _api_error(response, 404)


@pytest.mark.parametrize("value", [2**63, 2**64, -1, 0])
def test_triage_ids_beyond_any_column_are_400s_naming_the_field(client, world, value):
    from cert_share.extensions import db
    from cert_share.models import Incident

    created = client.post("/api/v1/incidents", json=_report(), headers=auth(world.tokens["bank2"]))
    incident_id = created.get_json()["id"]
    for field in ("merge_into", "link"):
        response = client.patch(f"/api/v1/incidents/{incident_id}", json={field: value},
                                headers=auth(world.tokens["cert"]))
        assert field in _api_error(response, 400)["errors"]
    response = client.patch(f"/api/v1/incidents/{incident_id}", json={"assignee": str(abs(value)) + "0"},
                            headers=auth(world.tokens["cert"]))
    assert "assignee" in _api_error(response, 400)["errors"]
    with client.application.app_context():
        assert db.session.get(Incident, incident_id).merged_into_id is None


def test_ids_and_before_beyond_any_column_on_the_web_pages(app, factory, world):
    member = app.test_client()
    assert login(member, factory.user(world.orgs["bank2"]).email).status_code == 302
    staff = app.test_client()
    admin = factory.user(world.orgs["cert"], role="cert-admin")
    sign_in(staff, admin.email, enrol(app, admin))
    for client in (member, staff):
        for path in (f"/incidents/{BIG}", f"/incidents/{BIG}/stix", f"/incidents/{2**64}"):
            assert client.get(path).status_code == 404
    for value in (BIG, "١٢", "-1"):
        assert member.get("/incidents", query_string={"before": value}).status_code == 400
    assert staff.get("/admin/audit", query_string={"before": BIG}).status_code == 400
    assert staff.get("/incidents", query_string={"page": "²"}).status_code == 400
    token = page_token(staff, "/admin/users")
    # Answered as for any user id that does not exist: the form's error, back on the users page.
    for ident in (BIG, "999999"):
        response = staff.post(f"/admin/users/{ident}/role", data={"csrf_token": token, "role": "analyst"})
        assert response.status_code == 302 and response.headers["Location"].endswith("/admin/users")


# ---- size limits ----------------------------------------------------------------------------

def _chunked(client, path: str, body: bytes, headers: dict):
    """A body without Content-Length, as a chunked request reaches the app."""
    return client.post(path, input_stream=io.BytesIO(body), headers=headers,
                       environ_overrides={"wsgi.input_terminated": True})


def test_a_chunked_body_over_the_limit_is_413_never_cut(client, world, app):
    app.config["TAXII_MAX_CONTENT_LENGTH"] = 4000
    envelope = json.dumps({"objects": [indicator("198.51.100.5")]}).encode()
    padded = envelope + b" " * (4001 - len(envelope))  # valid JSON once cut at 4000 bytes
    _taxii_error(_chunked(client, _objects(world, "intake"), padded, _taxii(world)), 413)
    exact = envelope + b" " * (4000 - len(envelope))
    assert _chunked(client, _objects(world, "intake"), exact, _taxii(world)).status_code == 202


def test_a_chunked_api_body_and_web_form_over_the_limit_are_413(client, world, app, factory):
    app.config["MAX_CONTENT_LENGTH"] = 3000
    report = json.dumps(_report()).encode()
    _api_error(_chunked(client, "/api/v1/incidents", report + b" " * 3000,
                        {**auth(world.tokens["bank2"]), "Content-Type": "application/json"}), 413)
    assert _chunked(client, "/api/v1/incidents", report,
                    {**auth(world.tokens["bank2"]), "Content-Type": "application/json"}).status_code == 201
    member = app.test_client()
    assert login(member, factory.user(world.orgs["bank2"]).email).status_code == 302
    form = f"csrf_token={page_token(member, '/incidents/new')}&title=Phish&description={'x' * 3000}".encode()
    response = _chunked(member, "/incidents/new", form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


def test_a_chunked_request_through_a_real_server_gets_the_taxii_413(live_server, world, app):
    app.config["TAXII_MAX_CONTENT_LENGTH"] = 4000
    parts = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    envelope = json.dumps({"objects": [indicator("198.51.100.6")]}).encode() + b" " * 5000
    connection.request("POST", _objects(world, "intake"), body=iter([envelope[:2500], envelope[2500:]]),
                       headers=_taxii(world), encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 413
    assert response.getheader("Content-Type") == TAXII
    assert json.loads(response.read())["http_status"] == "413"


def test_a_query_string_over_the_cap_is_a_taxii_414_and_100_ids_fit(client, world, app):
    ids = ",".join(f"indicator--{uuid.uuid4()}" for _ in range(100))
    response = client.get(_objects(world), query_string={"match[id]": ids}, headers=_taxii(world))
    assert response.status_code == 200  # the documented cap of 100 values is reachable
    body = _taxii_error(client.get(_objects(world), query_string={"match[type]": "x" * 8000},
                                   headers=_taxii(world)), 414)
    assert str(app.config["MAX_QUERY_STRING_LENGTH"]) in body["description"]
    _api_error(client.get("/api/v1/incidents", query_string={"q": "x" * 8000}, headers=auth(world.tokens["bank2"])),
               414)


def _padded(i: int, size: int) -> dict:
    return indicator(f"203.0.113.{i}", description="x" * size)


def test_a_page_ends_before_its_bytes_pass_the_cap_and_paging_still_returns_everything(client, world, app):
    world.publish("all-members", [_padded(i, 3000) for i in range(1, 8)] + [_padded(99, 20_000)])
    app.config["TAXII_PAGE_BYTES"] = 10_000
    seen, params, pages = [], {}, 0
    while True:
        response = client.get(_objects(world), query_string=params, headers=_taxii(world))
        body = response.get_json(force=True)
        pages += 1
        objects = body.get("objects", [])
        assert objects, "every page holds at least one object"
        assert len(objects) == 1 or len(response.get_data()) < 10_000 + 500
        seen.extend(o["id"] for o in objects)
        if not body["more"]:
            break
        params = {"next": body["next"]}
    assert len(seen) == len(set(seen)) == 3 + 8  # nothing lost, nothing twice
    assert pages >= 4  # three 3 kB objects fit a 10 kB page; the 20 kB one has a page to itself


def test_an_object_over_the_size_limit_is_a_failure_and_the_rest_is_stored(client, world, app):
    app.config["TAXII_MAX_OBJECT_BYTES"] = 5000
    small, large = indicator("198.51.100.81"), _padded(82, 6000)
    response = client.post(_objects(world, "intake"), data=json.dumps({"objects": [small, large]}),
                           headers=_taxii(world))
    status = response.get_json(force=True)
    assert status["success_count"] == 1 and status["failure_count"] == 1
    assert status["failures"][0]["id"] == large["id"] and "5000 bytes" in status["failures"][0]["message"]


# ---- caching, banners, HSTS -----------------------------------------------------------------

def test_every_taxii_api_and_signed_in_answer_says_no_store(client, world, app, factory):
    answers = [client.get(_objects(world), headers=_taxii(world)),
               client.get(_objects(world), headers={"Accept": TAXII}),  # 401
               client.get("/api/v1/incidents", headers=auth(world.tokens["bank2"])),
               client.get("/api/v1/incidents/1", headers=auth(world.tokens["bank2"])),  # 404
               client.get("/api/v1/openapi.json")]
    member = app.test_client()
    assert login(member, factory.user(world.orgs["bank2"]).email).status_code == 302
    answers += [member.get("/"), member.get("/incidents"), member.get("/incidents/new"), member.get("/nope")]
    for response in answers:
        assert response.headers["Cache-Control"] == "no-store", response.request.path
        assert "Server" not in response.headers or "/" not in response.headers["Server"]
    assert "no-store" not in client.get("/assets/style.css").headers.get("Cache-Control", "")


def test_hsts_in_production_over_https_only(database_url):
    from cert_share import create_app

    production = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "s" * 40,
                             "ENV_NAME": "production", "TESTING": True})
    secure = production.test_client().get("/login", base_url="https://cert.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in production.test_client().get("/login").headers
    development = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "s" * 40,
                              "ENV_NAME": "development", "TESTING": True})
    assert "Strict-Transport-Security" not in development.test_client().get(
        "/login", base_url="https://cert.example").headers


# ---- protocol details -----------------------------------------------------------------------

def test_405_answers_carry_allow_in_every_dialect(client, world):
    taxii = client.put(f"{API}collections/", headers=_taxii(world))
    _taxii_error(taxii, 405)
    assert set(taxii.headers["Allow"].split(", ")) >= {"GET"}
    api = client.put("/api/v1/incidents", headers=auth(world.tokens["bank2"]))
    _api_error(api, 405)
    assert set(api.headers["Allow"].split(", ")) >= {"GET", "POST"}
    web = client.put("/login")
    assert web.status_code == 405 and set(web.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_the_openapi_document_states_what_the_schemas_enforce(client, world):
    import re

    spec = client.get("/api/v1/openapi.json").get_json()
    create = spec["components"]["schemas"]["IncidentCreate"]["properties"]
    assert create["detected_at"]["type"] == "string" and create["detected_at"]["format"] == "date-time"
    title = create["title"]
    assert title["minLength"] == 1 and title["maxLength"] == 300
    assert create["observables"]["maxItems"] == 10_000
    assert set(create["tlp"]["enum"]) == {"clear", "green", "amber", "amber+strict", "red"}
    listing = {p["name"]: p["schema"] for p in spec["paths"]["/api/v1/incidents"]["get"]["parameters"]}
    assert listing["limit"] == {"type": "integer", "minimum": 1, "maximum": 1000}
    assert spec["paths"]["/api/v1/incidents/{incident_id}"]["get"]["parameters"][0]["schema"]["maximum"] == 2**63 - 1
    pattern = re.compile(title["pattern"].replace("\\u", "\\u"))
    for text, ok in (("Phish wave", True), ("Phish\x00wave", False), ("Phish\x1bwave", False), ("   ", False)):
        assert bool(pattern.search(text)) is ok, text
        response = client.post("/api/v1/incidents", json=_report(title=text), headers=auth(world.tokens["bank2"]))
        assert (response.status_code == 201) is ok, (text, response.get_json())


def test_too_many_observables_are_refused_before_any_is_validated(client, world, monkeypatch):
    from cert_share.schemas import incident

    calls = []
    original = incident.normalize
    monkeypatch.setattr(incident, "normalize", lambda *a: calls.append(a) or original(*a))
    observables = [{"type": "ipv4-addr", "value": "198.51.100.1"}] * 10_001
    response = client.post("/api/v1/incidents", json=_report(observables=observables),
                           headers=auth(world.tokens["bank2"]))
    assert "observables" in _api_error(response, 400)["errors"]
    assert calls == []


@pytest.mark.parametrize("local,zone", [("0001-01-01T00:00", "Asia/Tokyo"), ("9999-12-31T23:59", "America/Adak")])
def test_a_report_form_time_that_leaves_the_calendar_in_utc_is_a_form_error(app, factory, world, local, zone):
    member = app.test_client()
    assert login(member, factory.user(world.orgs["bank2"]).email).status_code == 302
    response = member.post("/incidents/new", data={
        "csrf_token": page_token(member, "/incidents/new"), "title": "Phish", "classification": "fraud/phishing",
        "severity": "low", "tlp": "amber", "detected_at": local, "timezone": zone})
    assert response.status_code in (200, 400) and "between years 1 and 9999" in response.get_data(as_text=True)
