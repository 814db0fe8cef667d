"""Machines never read a translation: an API or TAXII answer asked for in Vietnamese (the
browser's Accept-Language) is byte for byte the English one, errors included, although the
services word their messages in the reader's language on the web (issue 15). Reads the catalog
that the shipped catalog (`make i18n`) holds."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cert_share.errors import InputError
from cert_share.extensions import db
from cert_share.models import User
from tests.conftest import auth
from tests.fuzz.profiles import examples, seeded
from tests.integration.incident_bodies import incident_body
from tests.integration.taxii_world import build_world, indicator
from tests.integration.web_login import login

VI = {"Accept-Language": "vi"}
# Headers that differ between any two requests, whatever their language.
_VARYING = {"date", "x-request-id", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after"}


def answer(response) -> tuple[int, bytes, list[tuple[str, str]]]:
    headers = sorted((name, value) for name, value in response.headers.items() if name.lower() not in _VARYING)
    return response.status_code, response.get_data(), headers


def both(client, method: str, path: str, **kw):
    """The same call in English (no Accept-Language) and in Vietnamese: (english, vietnamese)."""
    headers = kw.pop("headers", {})
    english = answer(client.open(path, method=method, headers=headers, **kw))
    vietnamese = answer(client.open(path, method=method, headers={**headers, **VI}, **kw))
    return english, vietnamese


@pytest.fixture
def callers(app, factory, orgs):
    """The telco's token, and a test client signed in as a telco analyst who chose Vietnamese (its
    session cookie travels with every API call, and changes nothing there)."""
    user = factory.user(orgs["telco"], "analyst")
    with app.app_context():
        db.session.get(User, user.id).locale = "vi"
        db.session.commit()
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    return client, auth(factory.token(orgs["telco"])), auth(factory.token(orgs["cert"]))


def test_the_catalog_translates_the_messages_the_api_leaves_in_english(app):
    """The comparison below means something only if the pages would read these in Vietnamese."""
    from cert_share import i18n
    from cert_share.services.incident_listing import ReportFilters

    with app.test_request_context("/incidents", headers=VI), i18n.language("vi"):
        with pytest.raises(InputError) as refused:
            ReportFilters.from_args({"severity": "bogus"})
    assert "phải là" in refused.value.message


def test_a_valid_report_is_answered_the_same_in_both_languages(callers):
    client, member, _cert = callers
    body = incident_body(external_id="i18n-api-1")
    created = client.post("/api/v1/incidents", json=body, headers=member)
    assert created.status_code == 201, created.json
    english, vietnamese = both(client, "POST", "/api/v1/incidents", json=body, headers=member)  # replays
    assert english[0] == 200
    assert english == vietnamese


@pytest.mark.parametrize("method,path,kw", [
    ("GET", "/api/v1/incidents/987654", {}),
    ("GET", "/api/v1/incidents", {}),
    ("GET", "/api/v1/incidents", {"query_string": {"severity": "bogus"}}),
    ("GET", "/api/v1/incidents", {"query_string": {"from": "yesterday", "sector": "x"}}),
    ("GET", "/api/v1/incidents", {"query_string": {"received_from": "2026-02-01", "received_to": "2026-01-01"}}),
    ("POST", "/api/v1/incidents", {"json": incident_body(severity="", title="", observables=[{"type": "x"}])}),
    ("POST", "/api/v1/incidents", {"json": incident_body(exercise_id=0, exercise_inject="1")}),
    ("POST", "/api/v1/incidents", {"data": "not json", "content_type": "application/json"}),
])
def test_member_calls_are_answered_the_same_in_both_languages(callers, method, path, kw):
    client, member, _cert = callers
    english, vietnamese = both(client, method, path, headers=member, **kw)
    assert english == vietnamese


@pytest.mark.parametrize("method,path,body", [
    ("PATCH", "/api/v1/incidents/{id}", {"status": "bogus", "note": "", "cooperation": {"countries": ["XX"]}}),
    ("PATCH", "/api/v1/incidents/{id}", {"merge_into": "{id}"}),
    ("POST", "/api/v1/exercises", {"name": "", "injects": [], "sectors": ["nowhere"], "starts_at": "soon"}),
    ("POST", "/api/v1/exercises", {"name": "Drill", "starts_at": "2030-01-01T00:00:00Z",
                                   "injects": [{"offset_minutes": -1, "kind": "x", "title": "t", "tlp": "red",
                                                "expect": "?"}]}),
])
def test_staff_validation_errors_are_answered_the_same_in_both_languages(callers, method, path, body):
    client, member, cert = callers
    created = client.post("/api/v1/incidents", json=incident_body(), headers=member)
    assert created.status_code == 201
    incident_id = created.json["id"]
    body = {key: int(value.format(id=incident_id)) if value == "{id}" else value for key, value in body.items()}
    english, vietnamese = both(client, method, path.format(id=incident_id), json=body, headers=cert)
    assert english[0] in (400, 403, 404, 409), english
    assert english == vietnamese


_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**65), st.text(max_size=30),
                  st.lists(st.text(max_size=5), max_size=3),
                  st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
_BROKEN = {
    "title": st.one_of(_JUNK, st.just(""), st.just("x" * 600), st.just("a\x00b")),
    "severity": st.one_of(_JUNK, st.sampled_from(["", "HIGH", "severe"])),
    "tlp": st.one_of(_JUNK, st.sampled_from(["white", "RED", "amber strict"])),
    "classification": st.one_of(_JUNK, st.sampled_from(["fraud", "malicious-code/nope", ""])),
    "detected_at": st.one_of(_JUNK, st.sampled_from(["2999-01-01T00:00:00Z", "yesterday", "2026-13-01"])),
    "observables": st.one_of(_JUNK, st.lists(st.fixed_dictionaries(
        {"type": st.sampled_from(["ipv4-addr", "url", "payment-card", "bogus"]), "value": _JUNK}), min_size=1,
        max_size=3)),
    "cross_border": st.one_of(_JUNK, st.lists(st.sampled_from(["XX", "lv", "", "Latvia"]), min_size=1, max_size=3)),
    "exercise_id": st.one_of(st.integers(-5, 0), st.text(max_size=5)),
    "external_id": st.one_of(st.integers(), st.just("x" * 500)),
    "unknown_field": _JUNK,
}


@st.composite
def invalid_reports(draw) -> dict:
    """A report with at least one field broken (never a valid one: it would be stored twice)."""
    broken = draw(st.lists(st.sampled_from(sorted(_BROKEN)), min_size=1, max_size=4, unique=True))
    body = incident_body()
    for name in broken:
        body[name] = draw(_BROKEN[name])
    for name in draw(st.lists(st.sampled_from(["title", "severity", "tlp", "detected_at"]), max_size=2)):
        body.pop(name, None)
    return body


def test_invalid_reports_are_refused_the_same_in_both_languages(callers):
    client, member, _cert = callers

    @seeded
    @settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=invalid_reports())
    def same_refusal(body):
        english, vietnamese = both(client, "POST", "/api/v1/incidents", json=body, headers=member)
        if english[0] in (200, 201):  # a mutation that happened to be valid (a type the schema coerces)
            return
        assert english[0] == 400, english
        assert english == vietnamese

    same_refusal()


def test_taxii_errors_are_answered_the_same_in_both_languages(app, factory):
    world = build_world(app, factory)
    world.publish("all-members", [indicator("10.9.0.1")])
    client = app.test_client()
    headers = {"Authorization": f"Bearer {world.tokens['bank']}", "Accept": "application/taxii+json;version=2.1"}
    url = f"/taxii2/api/collections/{world.collection('all-members').id}/objects/"
    for params in ({"limit": "abc"}, {"limit": "0"}, {"added_after": "yesterday"}, {"match[color]": "red"}, {}):
        english, vietnamese = both(client, "GET", url, query_string=params, headers=headers)
        assert english == vietnamese, params
    english, vietnamese = both(client, "GET", "/taxii2/api/collections/nope/objects/", headers=headers)
    assert english[0] == 404
    assert english == vietnamese
