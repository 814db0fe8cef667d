"""Can anyone make the server answer 5xx? Every route of the app's URL map, as member B and as
CERT staff, with hostile values in every path parameter, query parameter, form field and header
it reads: non-ASCII digits, integers of 2^63 and beyond, timestamps that leave the calendar once
their offset applies, lone surrogates, NUL, very long text. Each must get a 4xx (a TAXII error
resource on /taxii2, a JSON error on /api) or an ordinary page, never a 500.

Property-based fuzzing of the STIX and JSON bodies lives in tests/fuzz/; this walk makes sure no
route, parameter or form is left out: a route added without an entry in QUERY_PARAMS fails it.
"""
from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote, urlencode

import pytest

from tests.conftest import auth
from tests.integration.staff_login import enrol, sign_in
from tests.integration.taxii_world import API, build_world, indicator
from tests.integration.web_login import csrf_token, login

TAXII = "application/taxii+json;version=2.1"

HOSTILE_INTS = ["9223372036854775808", "9" * 40, "-1", "0", "١٢", "²", "1_000", ""]
HOSTILE_TEXT = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "١٢٣٤-٠١-٠١", "\x00", "\ud800",
                "a" * 3000, "all,,last", ",".join(["x"] * 150)]
HOSTILE = HOSTILE_INTS + HOSTILE_TEXT

_TAXII_FILTERS = ("added_after", "limit", "next", "match[id]", "match[type]", "match[version]", "match[spec_version]")
_QUEUE = ("sector", "class", "severity", "tlp", "status", "q", "org", "overdue", "assignee", "page", "before",
          "received_from", "received_to")
_REPORT_FILTERS = ("status", "severity", "class", "from", "to", "q", "overdue", "sector", "received_from",
                   "received_to")  # a member's reports list
# What each endpoint reads from the query string (a new endpoint must be added here).
QUERY_PARAMS = {
    "taxii.discovery": (), "taxii.api_root": (), "taxii.status": (), "taxii.collections": (),
    "taxii.collection": (), "taxii.manifest": _TAXII_FILTERS, "taxii.get_objects": _TAXII_FILTERS,
    "taxii.add_objects": (), "taxii.get_object": ("added_after", "limit", "next", "match[version]",
                                                  "match[spec_version]"),
    "taxii.delete_object": ("match[version]", "match[spec_version]"),
    "taxii.versions": ("added_after", "limit", "next", "match[spec_version]"),
    "api.list_incidents": ("limit", "before", *_REPORT_FILTERS), "api.list_warnings": ("state", "limit", "before"),
    "api.get_metrics": ("from", "to"), "api.lookup_observable": ("value", "cidr"),
    "web.login": ("next",), "web.warnings_page": ("state",),
    "web.incident_list": tuple(dict.fromkeys(_QUEUE + _REPORT_FILTERS)),  # staff: the queue; members: their list
    "web.warning_page": ("q",),
    "web.metrics_page": ("from", "to"), "web.admin_audit": ("from", "to", "actor", "action", "before"),
    "web.admin_audit_csv": ("from", "to", "actor", "action"),
    "web.search_page": ("q",),
    "api.list_cooperation_requests": ("direction", "state", "limit", "before_id"),
    "web.cooperation_page": ("direction", "state"),
    "web.incident_new": ("exercise", "inject"),  # a drill's report form, preset from the inject's page
    "api.get_exercise_report": (),
    "api.list_exercises": (), "api.create_exercise": (), "api.get_exercise": (), "api.acknowledge_inject": (),
    "api.get_exercise_results": (), "api.close_exercise": (), "api.delete_exercise": (),
    "web.exercises_page": (), "web.exercise_new": (), "web.exercise_page": (), "web.exercise_results_json": (),
    "web.exercise_inject_page": (), "web.exercise_acknowledge": (), "web.exercise_close": (), "web.exercise_delete": (),
    # Probes and the scrape endpoint read no parameter: hostile ones must change nothing.
    "health.healthz": ("verbose",), "health.readyz": ("verbose",), "monitoring.metrics": ("name[]",),
}
NO_QUERY = {"static", "web.static"}

# Every field name any form or JSON body of the app reads (sent all at once, one hostile value a time).
FORM_FIELDS = ("title", "description", "classification", "severity", "tlp", "detected_at", "started_at",
               "classified_at", "timezone", "affected_services", "impact", "observables", "cross_border",
               "external_id", "submission_id", "personal_data", "share_reporter", "phase", "summary", "details",
               "status", "assignee", "note", "countries", "partner_certs", "other", "action", "merge_into", "link",
               "email", "password", "name", "sector", "kind", "country", "contact_email", "assets", "value", "role",
               "active", "code", "targets", "recommended_action", "reason", "user", "org", "current_password",
               "new_password", "confirm_password", "regime", "duty_email", "critical-report", "draft-review",
               "asset-warning", "deadline-reminder", "exercise", "situation", "key", "partners", "message",
               "due_at", "confirm_strict", "objects", "publish_clear", "clear", "exercise_id", "exercise_inject",
               "participants", "sectors", "starts_at", "ends_at", "confirm_real_values", "injects", "locale",
               *(f"injects-{n}-{part}" for n in (0, 7) for part in (
                   "offset_minutes", "kind", "title", "description", "observables", "tlp", "expect", "partner_name")))


@pytest.fixture
def world(app, factory):
    w = build_world(app, factory)
    w.publish("all-members", [indicator("198.51.100.9")])
    return w


def _path_values(rule, world, collection_id) -> list[dict]:
    """Argument sets for a rule's path: a real one where it matters, then hostile ones."""
    names = sorted(rule.arguments)
    if not names:
        return [{}]
    real = {"api_root": "api", "collection_id": collection_id,
            "object_id": "indicator--" + "1" * 8 + "-1111-4111-8111-" + "1" * 12,
            "status_id": "00000000-0000-4000-8000-000000000000", "slug": world.orgs["bank"].slug,
            "filename": "style.css"}
    sets = []
    for name in names:
        for value in (HOSTILE_INTS if f"<int:{name}>" in rule.rule else HOSTILE):
            values = {n: real.get(n, "1") for n in names}
            values[name] = value
            sets.append(values)
    return sets


def _build(rule, values: dict) -> str:
    path = rule.rule
    for name, value in values.items():
        path = re.sub(r"<(?:[^:<>]+:)?" + re.escape(name) + r">", quote(value, safe="", errors="surrogatepass")
                      if value else "", path)
    return path


def _check(response, path: str, what: str) -> None:
    # Closed as a WSGI server closes it: a streamed body (the audit CSV) keeps its request's
    # context, and with it the signed-in user, until then.
    response.close()
    assert response.status_code < 500, f"{what} {path}: {response.status_code} {response.get_data(as_text=True)[:300]}"
    if response.status_code >= 400 and path.startswith("/taxii2"):
        assert response.headers["Content-Type"] == TAXII, (what, path)
        assert response.get_json(force=True)["http_status"] == str(response.status_code)
    if response.status_code >= 400 and path.startswith("/api/"):
        body = response.get_json()
        assert {"error", "status", "message"} <= set(body), (what, path, body)


def _query(name: str, value: str) -> str:
    return f"{quote(name, safe='')}={quote(value, safe='', errors='surrogatepass')}"


def _clients(app, factory, world):
    """Member B (second bank) and CERT staff, each with a token and a signed-in browser."""
    member = app.test_client()
    user = factory.user(world.orgs["bank2"], role="member-admin")
    assert login(member, user.email).status_code == 302
    staff = app.test_client()
    admin = factory.user(world.orgs["cert"], role="cert-admin")
    sign_in(staff, admin.email, enrol(app, admin))
    return [("member B", member, world.tokens["bank2"], world.orgs["bank2"].slug),
            ("CERT", staff, world.tokens["cert"], world.orgs["cert"].slug)]


def _headers(path: str, token: str) -> dict:
    if path.startswith("/taxii2"):
        return {**auth(token), "Accept": TAXII, "Content-Type": TAXII}
    if path.startswith("/api/"):
        return {**auth(token), "Content-Type": "application/json"}
    return {}


def test_no_route_answers_5xx_to_hostile_paths_and_query_parameters(app, factory, world):
    collection_id = world.collection("all-members").id
    rules = [r for r in app.url_map.iter_rules()]
    unlisted = [r.endpoint for r in rules if r.endpoint not in QUERY_PARAMS and r.endpoint not in NO_QUERY
                and r.endpoint not in _BODY_ONLY]
    assert not unlisted, f"routes without an entry in QUERY_PARAMS: {unlisted}"
    clients = _clients(app, factory, world)
    for rule in rules:
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        for who, client, token, _slug in clients:
            for values in _path_values(rule, world, collection_id):
                path = _build(rule, values)
                for method in methods:
                    response = client.open(path, method=method, headers=_headers(path, token))
                    _check(response, path, f"{who} {method}")
            if "GET" not in methods or (who == "CERT" and rule.rule.startswith("/taxii2")):
                continue  # one filter parser serves every TAXII caller: member B covers it
            path = _build(rule, {n: {"api_root": "api", "collection_id": collection_id}.get(n, "1")
                                 for n in rule.arguments})
            for name in QUERY_PARAMS.get(rule.endpoint, ()):
                for value in HOSTILE:
                    url = f"{path}?{_query(name, value)}"
                    _check(client.get(url, headers=_headers(path, token)), url, who)


# Endpoints that read no query string, only a body (listed so the walk above stays complete).
_BODY_ONLY = {
    "api.create_incident", "api.get_incident", "api.get_incident_stix", "api.add_update", "api.openapi",
    "api.triage_incident", "api.get_case", "api.get_warning", "api.edit_warning", "api.publish_warning",
    "api.discard_warning", "api.revoke_warning", "web.logout", "web.index",
    "web.incident_detail", "web.incident_stix", "web.incident_update", "web.incident_triage",
    "web.incident_note", "web.incident_cooperation", "web.incident_link", "web.incident_staff",
    "web.warning_publish", "web.warning_discard", "web.admin_organizations", "web.admin_add_asset",
    "web.warning_stix", "web.warning_edit", "web.warning_revoke", "web.warning_publish_clear",
    "web.admin_remove_asset", "web.admin_users", "web.admin_user_role", "web.admin_user_totp_reset",
    "web.admin_tokens", "web.tokens_page", "web.token_revoke", "web.login_totp", "web.login_totp_enrol",
    "web.account_security", "web.account_security_start", "web.account_password",
    "web.admin_organization", "web.admin_organization_deactivate", "web.admin_organization_reactivate",
    "web.org_users", "web.user_password_reset", "web.user_disable", "web.user_enable",
    "web.account_mail", "web.admin_organization_duty", "web.operations_page", "web.operations_requeue",
    "web.account_key", "web.account_key_remove", "web.account_language",
    "api.open_cooperation_requests", "api.get_cooperation_request", "api.acknowledge_cooperation_request",
    "api.answer_cooperation_request", "web.admin_partners", "web.admin_partner",
    "web.admin_partner_key", "web.admin_partner_key_remove",
    "web.incident_cooperation_request", "web.cooperation_request_page", "web.cooperation_acknowledge",
    "web.cooperation_answer", "api.resend_cooperation_request", "web.cooperation_resend",
}


def test_no_form_or_json_body_answers_5xx_to_hostile_values(app, factory, world):
    """Every POST/PATCH route, every field name the app reads, one hostile value at a time."""
    collection_id = world.collection("all-members").id
    clients = _clients(app, factory, world)
    # The account and organization the CERT's valid posts change (disable, reset a password,
    # deactivate): not member B's, whose session must live through the whole walk.
    bystander = factory.user(world.orgs["telco"], role="analyst")
    for rule in app.url_map.iter_rules():
        methods = sorted(rule.methods & {"POST", "PATCH", "DELETE"})
        if not methods:
            continue
        path = _build(rule, {n: {"api_root": "api", "collection_id": collection_id, "user_id": str(bystander.id),
                                 "slug": world.orgs["telco"].slug}.get(n, "1") for n in rule.arguments})
        for who, client, token, _slug in clients:
            page = client.get("/tokens")
            token_field = csrf_token(page.get_data(as_text=True)) if page.status_code == 200 else ""
            for method in methods:
                for value in HOSTILE:
                    if path.startswith(("/api/", "/taxii2")):
                        body = {name: value for name in FORM_FIELDS}
                        if path.startswith("/taxii2"):
                            body = {"objects": [{**indicator("198.51.100.7"), "name": value,
                                                 "created": value, "modified": value}]}
                        raw = json.dumps(body, ensure_ascii=True).encode()
                        response = client.open(path, method=method, data=raw, headers=_headers(path, token))
                    else:
                        form = {name: value for name in FORM_FIELDS}
                        form["csrf_token"] = token_field
                        raw = urlencode(form, encoding="utf-8", errors="surrogatepass")
                        response = client.open(path, method=method, data=raw,
                                               content_type="application/x-www-form-urlencoded")
                    _check(response, path, f"{who} {method} {value[:20]!r}")


def test_hostile_headers_get_4xx(app, factory, world):
    collection_id = world.collection("all-members").id
    objects = f"{API}collections/{collection_id}/objects/"
    bad_auth = ["Bearer \u00ff\u00fe", "Bearer " + "x" * 5000, "Basic !!!", "Basic " + base64.b64encode(
        b"\xff\xfe:\xff").decode(), "Basic " + base64.b64encode(b"no-colon").decode(), "Digest x", "Bearer"]
    for value in bad_auth:
        for path in (objects, "/api/v1/incidents"):
            response = app.test_client().get(path, headers={"Authorization": value, "Accept": TAXII})
            _check(response, path, f"Authorization {value[:20]!r}")
            assert response.status_code == 401
    for accept in ("\x7f", "application/taxii+json;version=9;q=x", "*/*;q=abc", "," * 500):
        response = app.test_client().get(objects, headers={**auth(world.tokens["bank2"]), "Accept": accept})
        _check(response, objects, f"Accept {accept[:20]!r}")
    for content_type in ("application/taxii+json;version=2.1;charset=\x7f", "multipart/form-data; boundary=",
                         "application/json; charset=latin-1"):
        for path in (objects, "/api/v1/incidents"):
            response = app.test_client().post(path, data=b"{}", headers={
                **auth(world.tokens["bank2"]), "Accept": TAXII, "Content-Type": content_type})
            _check(response, path, f"Content-Type {content_type!r}")
            assert 400 <= response.status_code < 500
