"""Intake objects belong to whoever posted them: member A, member B and the CERT.

Can member B find out, from anything it is told, whether member A reported a value? Can B's post
of an id A already holds replace, hide or change A's copy? Does the CERT see both? And does the
JSON API's ``external_id`` stay each organization's own, even for two requests at the same moment?
"""
from __future__ import annotations

import base64
import json
import re
import shutil
import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from cert_share import create_app
from cert_share.clock import utcnow
from cert_share.extensions import db
from cert_share.models import Incident, StixObject
from cert_share.stix.build import INCIDENT_CORE_EXTENSION
from cert_share.stix.observables import normalize
from tests.conftest import Factory, _config, _truncate_all, auth

from .taxii_world import API, basic, build_world, indicator

TAXII = "application/taxii+json;version=2.1"
V1, V2 = "2026-01-05T10:00:00.000Z", "2026-01-06T10:00:00.000Z"
SEEN = normalize("ipv4-addr", "203.0.113.50")  # an address both members saw: one deterministic SCO id
SCO = {"type": "ipv4-addr", "spec_version": "2.1", "id": SEEN.stix_id, "value": SEEN.value}
INDICATOR_ID = "indicator--6f1c9c43-5b43-4b8e-9f0a-3f4a4b0c2d11"
INCIDENT_ID = "incident--0b7a3b7e-2a51-4f6e-8a47-3c1f7b9d5e20"
A, B = "bank", "bank2"  # First Bank and Second Bank in taxii_world


def _indicator(name: str, version: str = V1) -> dict:
    return indicator(SEEN.value, ident=INDICATOR_ID, created=V1, modified=version, name=name)


def _incident(name: str) -> dict:
    return {"type": "incident", "spec_version": "2.1", "id": INCIDENT_ID, "created": V1, "modified": V1,
            "name": name, "labels": ['rsit:malicious-code="infected-system"'],
            "extensions": {INCIDENT_CORE_EXTENSION: {"extension_type": "property-extension", "criticality": 80}}}


def _relationship(ident: str) -> dict:
    return {"type": "relationship", "spec_version": "2.1", "id": ident, "created": V1, "modified": V1,
            "relationship_type": "indicates", "source_ref": INDICATOR_ID, "target_ref": INCIDENT_ID}


def _a_objects() -> list[dict]:
    """What A reported first: the address, its indicator in two versions, an incident."""
    return [SCO, _indicator("A: C2 seen on the teller network"),
            _indicator("A: C2 seen on the teller network, still active", V2),
            _incident("A: ransomware at First Bank"),
            _relationship("relationship--1d1e1f20-0000-4000-8000-00000000000a")]


def _b_objects() -> list[dict]:
    """B's post of the same ids: the same SCO, its own content for the indicator and incident."""
    return [SCO, _indicator("B: scanning from this address"), _incident("B: phishing at Second Bank"),
            _relationship("relationship--1d1e1f20-0000-4000-8000-00000000000b")]


def _report(detected_at: str, **overrides) -> dict:
    body = {"title": "Phishing wave", "classification": "fraud/phishing", "severity": "medium", "tlp": "amber",
            "detected_at": detected_at, "observables": [{"type": "ipv4-addr", "value": SEEN.value}],
            "external_id": "SOC-1"}
    body.update(overrides)
    return body


class Caller:
    """One organization's TAXII and API client (Flask test client, raw bytes kept)."""

    def __init__(self, app, world, who: str):
        self.client = app.test_client()
        user, token = basic(world, who)
        self.token = token
        self.basic = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
        self.intake = f"{API}collections/{world.collection('intake').id}/"

    def taxii(self, method: str, path: str, envelope: dict | None = None, **params):
        headers = {"Accept": TAXII, "Authorization": self.basic}
        data = None
        if envelope is not None:
            headers["Content-Type"] = TAXII
            data = json.dumps(envelope)
        return self.client.open(self.intake + path, method=method, headers=headers, query_string=params, data=data)

    def status(self, status_id: str):
        return self.client.get(f"{API}status/{status_id}/", headers={"Accept": TAXII, "Authorization": self.basic})

    def api(self, method: str, path: str, body: dict | None = None):
        return self.client.open(f"/api/v1{path}", method=method, headers=auth(self.token), json=body)


@contextmanager
def _fresh_world(database_template, tmp_path, label: str):
    """A new, empty platform (database, app, constituency), for comparing two histories."""
    if database_template["kind"] == "sqlite":
        path = tmp_path / f"{label}.db"
        shutil.copy(database_template["path"], path)
        url = f"sqlite:///{path}"
    else:
        url = database_template["url"]
    app = create_app({**_config(url), "MAILDIR": str(tmp_path / f"maildir-{label}")})
    try:
        yield app, build_world(app, Factory(app))
    finally:
        with app.app_context():
            db.session.remove()
            if database_template["kind"] == "postgresql":
                _truncate_all(app)
            db.engine.dispose()


def _b_sequence(app, world, detected_at: str) -> list:
    """Everything member B does and is told, in order: (what, status, TAXII headers, body)."""
    b = Caller(app, world, B)
    out = []

    def note(what, response):
        headers = {k: v for k, v in response.headers.items() if k.startswith("X-TAXII") or k == "Content-Type"}
        out.append((what, response.status_code, headers, response.get_data(as_text=True)))
        return response

    posted = note("post", b.taxii("POST", "objects/", {"objects": _b_objects()}))
    note("status", b.status(posted.json["id"]))
    created = note("api report", b.api("POST", "/incidents", _report(detected_at)))
    note("api stix", b.api("GET", f"/incidents/{created.json['id']}/stix"))
    note("objects", b.taxii("GET", "objects/"))
    note("objects all", b.taxii("GET", "objects/", **{"match[version]": "all"}))
    for version in ("first", "last", V1, V2):
        note(f"objects {version}", b.taxii("GET", "objects/", **{"match[id]": INDICATOR_ID, "match[version]": version}))
    for ident in (INDICATOR_ID, SEEN.stix_id, INCIDENT_ID):
        note(f"object {ident}", b.taxii("GET", f"objects/{ident}/", **{"match[version]": "all"}))
        note(f"versions {ident}", b.taxii("GET", f"objects/{ident}/versions/"))
    note("manifest", b.taxii("GET", "manifest/"))
    note("manifest sco", b.taxii("GET", "manifest/", **{"match[id]": SEEN.stix_id}))
    page = note("page 1", b.taxii("GET", "objects/", limit="2"))
    while page.json.get("next"):
        page = note("next page", b.taxii("GET", "objects/", limit="2", next=page.json["next"]))
    again = note("post again", b.taxii("POST", "objects/", {"objects": _b_objects()}))
    note("status again", b.status(again.json["id"]))
    note("objects after repost", b.taxii("GET", "objects/", **{"match[version]": "all"}))
    note("api retry", b.api("POST", "/incidents", _report(detected_at)))
    note("api list", b.api("GET", "/incidents"))
    note("delete", b.taxii("DELETE", f"objects/{INDICATOR_ID}/"))
    note("object after delete", b.taxii("GET", f"objects/{INDICATOR_ID}/"))
    note("versions after delete", b.taxii("GET", f"objects/{INDICATOR_ID}/versions/"))
    note("objects after delete", b.taxii("GET", "objects/", **{"match[version]": "all"}))
    return out


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")
_NEXT = re.compile(r'"next": ?"[^"]*"')
_REPORT_ID = re.compile(r'(?<="id": )\d+|(?<="id":)\d+|(?<=/incidents/)\d+')


def _normalized(transcript: list, fixed: set[str]) -> list:
    """The transcript with what legitimately differs between two platforms replaced: generated
    ids, report numbers and next tokens by the order in which each first appears (so that what
    refers to the same thing still does), clock readings by one placeholder (two reports filed
    within a millisecond share a STIX timestamp, by chance). What the members themselves wrote
    (``fixed``) stays literal."""
    numbers: dict[str, dict[str, str]] = {}

    def text(value: str) -> str:
        value = _TIME.sub(lambda match: match.group(0) if match.group(0) in fixed else "<time>", value)
        for name, pattern in (("uuid", _UUID), ("next", _NEXT), ("report", _REPORT_ID)):
            seen = numbers.setdefault(name, {})

            def number(match, seen=seen, name=name):
                found = match.group(0)
                return found if found in fixed else seen.setdefault(found, f"<{name} {len(seen) + 1}>")

            value = pattern.sub(number, value)
        return value

    return [(what, status, {k: text(v) for k, v in headers.items()}, text(body))
            for what, status, headers, body in transcript]


def test_b_is_told_the_same_whether_or_not_a_reported_the_same_ids_first(database_template, tmp_path):
    detected_at = (utcnow() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    transcripts = {}
    for label, a_first in (("nobody-before", False), ("a-before", True)):
        with _fresh_world(database_template, tmp_path, label) as (app, world):
            if a_first:
                a = Caller(app, world, A)
                assert a.taxii("POST", "objects/", {"objects": _a_objects()}).json["success_count"] == 5
                assert a.api("POST", "/incidents", _report(detected_at, title="A's report")).status_code == 201
                a_before = a.taxii("GET", "objects/", **{"match[version]": "all"}).get_data(as_text=True)
            transcripts[label] = _b_sequence(app, world, detected_at)
            if a_first:
                # A's copies came through B's posts, re-post and delete untouched.
                assert a.taxii("GET", "objects/", **{"match[version]": "all"}).get_data(as_text=True) == a_before
                assert a.taxii("GET", f"objects/{INDICATOR_ID}/versions/").json["versions"] == [
                    V1.replace(".000Z", ".000000Z"), V2.replace(".000Z", ".000000Z")]
    fixed = {o["id"].partition("--")[2] for o in _a_objects() + _b_objects()} | {V1, V2}
    nobody, a_before = (_normalized(transcripts[k], fixed) for k in ("nobody-before", "a-before"))
    assert nobody == a_before
    # And the transcript says what B should be told: its own copies, every one of them.
    steps = {what: (status, body) for what, status, _headers, body in transcripts["a-before"]}
    assert json.loads(steps["post"][1])["success_count"] == 4
    assert steps["api report"][0] == 201 and steps["api retry"][0] == 200
    names = {o.get("name") for o in json.loads(steps["objects all"][1])["objects"]}
    assert "B: scanning from this address" in names and not any(n and n.startswith("A") for n in names)
    assert SEEN.stix_id in steps["objects all"][1] and "A's report" not in json.dumps(transcripts["a-before"])
    assert steps["object after delete"][0] == 404


@pytest.fixture
def world(app, factory):
    return build_world(app, factory)


def test_the_cert_reads_every_members_copy_and_each_member_only_its_own(app, world):
    a, b, cert = Caller(app, world, A), Caller(app, world, B), Caller(app, world, "cert")
    a.taxii("POST", "objects/", {"objects": _a_objects()})
    b.taxii("POST", "objects/", {"objects": _b_objects()})

    def names(caller, path, **params):
        return sorted(o["name"] for o in caller.taxii("GET", path, **params).json["objects"])

    every = {"match[version]": "all"}
    assert names(a, f"objects/{INDICATOR_ID}/", **every) == ["A: C2 seen on the teller network",
                                                             "A: C2 seen on the teller network, still active"]
    assert names(b, f"objects/{INDICATOR_ID}/", **every) == ["B: scanning from this address"]
    assert names(cert, f"objects/{INDICATOR_ID}/", **every) == [
        "A: C2 seen on the teller network", "A: C2 seen on the teller network, still active",
        "B: scanning from this address"]
    # "last" is each member's latest: B's only version is not hidden by A's newer one.
    assert names(cert, f"objects/{INDICATOR_ID}/") == ["A: C2 seen on the teller network, still active",
                                                       "B: scanning from this address"]
    assert names(cert, f"objects/{INDICATOR_ID}/", **{"match[version]": "first"}) == [
        "A: C2 seen on the teller network", "B: scanning from this address"]
    # The manifest has one record per copy; versions lists a version once per copy holding it.
    manifest = cert.taxii("GET", "manifest/", **{"match[id]": INDICATOR_ID, **every}).json["objects"]
    assert sorted(r["version"] for r in manifest) == (["2026-01-05T10:00:00.000000Z"] * 2
                                                      + ["2026-01-06T10:00:00.000000Z"])
    assert len({r["date_added"] for r in manifest}) == 3
    assert cert.taxii("GET", f"objects/{INDICATOR_ID}/versions/").json["versions"] == [
        "2026-01-05T10:00:00.000000Z", "2026-01-06T10:00:00.000000Z", "2026-01-05T10:00:00.000000Z"]
    sco_copies = cert.taxii("GET", f"objects/{SEEN.stix_id}/").json["objects"]
    assert sco_copies == [SCO, SCO]
    # Each pushed incident is its poster's own report, although the STIX ids are the same.
    with app.app_context():
        reports = db.session.execute(select(Incident.org_id, Incident.title)
                                     .where(Incident.external_id == INCIDENT_ID).order_by(Incident.id)).all()
    assert reports == [(world.orgs[A].id, "A: ransomware at First Bank"),
                       (world.orgs[B].id, "B: phishing at Second Bank")]


def test_a_member_deleting_its_copy_leaves_the_others_copy(app, world):
    a, b, cert = Caller(app, world, A), Caller(app, world, B), Caller(app, world, "cert")
    a.taxii("POST", "objects/", {"objects": [SCO]})
    b.taxii("POST", "objects/", {"objects": [SCO]})
    assert b.taxii("DELETE", f"objects/{SEEN.stix_id}/").status_code == 200
    assert b.taxii("GET", f"objects/{SEEN.stix_id}/").status_code == 404
    assert a.taxii("GET", f"objects/{SEEN.stix_id}/").json["objects"] == [SCO]
    assert cert.taxii("GET", f"objects/{SEEN.stix_id}/").json["objects"] == [SCO]
    # Deleting what it never had is the same 404 whether or not A holds the id.
    assert b.taxii("DELETE", f"objects/{SEEN.stix_id}/").status_code == 404


def test_reposting_ones_own_object_is_idempotent(app, world):
    a, b = Caller(app, world, A), Caller(app, world, B)
    for caller in (a, b, a, b):
        status = caller.taxii("POST", "objects/", {"objects": [SCO, _indicator("same")]}).json
        assert (status["success_count"], status["failure_count"]) == (2, 0)
    with app.app_context():
        rows = db.session.execute(select(StixObject.owner_org_id, func.count()).where(
            StixObject.stix_id.in_([SCO["id"], INDICATOR_ID])).group_by(StixObject.owner_org_id)).all()
    assert sorted(rows) == sorted([(world.orgs[A].id, 2), (world.orgs[B].id, 2)])
    assert len(b.taxii("GET", "objects/").json["objects"]) == 2


def test_a_report_of_a_value_another_member_reported_keeps_its_own_stix(app, world):
    """The everyday case: two members report the same address through the API; SCO ids are
    deterministic, and each reads its report's SCO back from intake."""
    a, b, cert = Caller(app, world, A), Caller(app, world, B), Caller(app, world, "cert")
    detected_at = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert a.api("POST", "/incidents", _report(detected_at, external_id=None)).status_code == 201
    assert b.api("POST", "/incidents", _report(detected_at, external_id=None)).status_code == 201
    for caller in (a, b):
        served = caller.taxii("GET", "objects/", **{"match[id]": SEEN.stix_id}).json["objects"]
        assert [o["value"] for o in served] == [SEEN.value]
    assert len(cert.taxii("GET", "objects/", **{"match[id]": SEEN.stix_id}).json["objects"]) == 2


def test_external_id_is_each_organizations_own(app, world):
    a, b = Caller(app, world, A), Caller(app, world, B)
    detected_at = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    first = a.api("POST", "/incidents", _report(detected_at, title="A's report"))
    theirs = b.api("POST", "/incidents", _report(detected_at, title="B's report"))
    assert (first.status_code, theirs.status_code) == (201, 201)
    assert theirs.json["id"] != first.json["id"]
    assert (theirs.json["title"], theirs.json["organization"]) == ("B's report", world.orgs[B].slug)
    retry = b.api("POST", "/incidents", _report(detected_at, title="B's report, resent"))
    assert (retry.status_code, retry.json["id"], retry.json["title"]) == (200, theirs.json["id"], "B's report")
    assert b.api("GET", f"/incidents/{first.json['id']}").status_code == 404
    assert a.api("GET", f"/incidents/{first.json['id']}").json["title"] == "A's report"


def test_two_posts_with_the_same_external_id_at_the_same_moment_file_one_report(app, world, live_server,
                                                                                 monkeypatch):
    """Both requests look the external_id up before either has stored it (the lookups meet at a
    barrier, so the race is really taken); one files the report (201), the other answers with
    it (200), as a retry would."""
    from cert_share.services import intake

    real = intake.find_by_external_id
    both_looked = threading.Barrier(2)
    first_lookups = []
    guard = threading.Lock()

    def lookup(*args, **kwargs):
        found = real(*args, **kwargs)
        with guard:
            first = len(first_lookups) < 2
            first_lookups.append(found)
        if first:
            both_looked.wait(timeout=60)
        return found

    monkeypatch.setattr(intake, "find_by_external_id", lookup)
    detected_at = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    start = threading.Barrier(2)
    answers = [None, None]

    def post(index: int) -> None:
        start.wait(timeout=60)
        answers[index] = requests.post(f"{live_server.url}/api/v1/incidents", json=_report(detected_at),
                                       headers=auth(world.tokens[A]), timeout=120)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert first_lookups[:2] == [None, None]  # neither saw the other's report before inserting
    assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Incident)).scalar_one() == 1
        assert db.session.execute(select(func.count()).select_from(StixObject).where(
            StixObject.stix_id == answers[0].json()["stix_id"])).scalar_one() == 1
