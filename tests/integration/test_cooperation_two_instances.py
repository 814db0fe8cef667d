"""Two real cert-share instances, end to end: can two CERTs work a case together?

Each instance is its own gunicorn process (cert_share.gunicorn_conf) with its own database, set up
only through the ``cert-share`` command line, as an operator would: the schema, the CERT, a member,
the other CERT as a partner with a token for it, and ``partner set`` naming the other's intake
collection and the environment variables that hold the credentials for it. Everything after that
goes over HTTP: A's staff open a request over A's API, A's ``push-partners`` posts it to B's intake
over TAXII, B's staff acknowledge and answer it over B's API, B's ``push-partners`` posts the answer
back, and A's request is answered. Both sides measure the response times.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from cert_share import _normalize_db_url
from cert_share.stix import markings
from cert_share.stix.cooperation import EXTENSION_ID
from tests.conftest import PG_BASE, _pg_url
from tests.integration.waiting import wait_until

pytestmark = pytest.mark.slow

TAXII = "application/taxii+json;version=2.1"
PASSWORD = "correct horse battery staple"
RED = markings.marking_id("red")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Instance:
    """One cert-share installation: its database, its port, its command line and its server."""

    name: str
    database_url: str
    home: Path
    port: int = field(default_factory=_free_port)
    env_extra: dict = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict:
        # Production-shaped: the settings an operator must give (SECRET_KEY, BASE_URL), no mail server.
        return {**os.environ, "CERT_SHARE_ENV": "production", "DATABASE_URL": self.database_url,
                "SECRET_KEY": f"{self.name}-secret-key-{'x' * 32}", "BASE_URL": self.base_url,
                "MAILDIR": str(self.home / "maildir"), "SMTP_HOST": "", "CERT_SHARE_PASSWORD": PASSWORD,
                "SCHEDULER_ENABLED": "0", **self.env_extra}

    def cli(self, *args: str) -> str:
        """Run ``cert-share ARGS`` against this instance; its output (exit status 0 asserted)."""
        result = subprocess.run([sys.executable, "-m", "cert_share.cli", *args], env=self.env(),
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{self.name}: cert-share {' '.join(args)}\n{result.stdout}{result.stderr}"
        return result.stdout

    def last_line(self, *args: str) -> str:
        return self.cli(*args).strip().splitlines()[-1]

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:cert_share.gunicorn_conf", "--workers", "1",
             "--bind", f"127.0.0.1:{self.port}", "cert_share:worker_app()"],
            env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_until(self._accepting, timeout=60, what=f"{self.name}'s gunicorn to accept connections")

    def _accepting(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, self.proc.communicate()[0] if self.proc else ""
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.communicate(timeout=30)

    def api(self, method: str, path: str, token: str, body: object = None) -> requests.Response:
        return requests.request(method, f"{self.base_url}/api/v1{path}", json=body, timeout=30,
                                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def taxii(self, path: str, auth: tuple[str, str] | None = None, token: str | None = None) -> dict:
        headers = {"Accept": TAXII}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = requests.get(f"{self.base_url}{path}", auth=auth, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()


@contextmanager
def _two_databases(tmp_path: Path):
    """Two empty databases: SQLite files, or two PostgreSQL databases made for this test."""
    if not PG_BASE:
        yield f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
        return
    names = [f"cs_coop_{side}_{uuid.uuid4().hex[:8]}" for side in ("a", "b")]
    admin = create_engine(_normalize_db_url(PG_BASE), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield tuple(_pg_url(PG_BASE, name) for name in names)
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Side:
    """What the operator of one side knows after setting it up."""

    instance: Instance
    cert_slug: str
    country: str
    staff_token: str
    member_token: str = ""
    partner_slug: str = ""  # the other CERT, as a partner organization here
    token_for_partner: str = ""  # the token this side issued to the other CERT for its intake


def _set_up(instance: Instance, *, cert: tuple[str, str], partner: tuple[str, str], member: str | None) -> Side:
    """Schema, the CERT with a staff member, optionally a member with an analyst, and the other CERT
    as a partner with a token: all through the command line."""
    instance.cli("db", "upgrade")
    cert_name, country = cert
    cert_slug = instance.last_line("org", "add", "--name", cert_name, "--sector", "government-national",
                                   "--country", country, "--kind", "cert")
    instance.cli("user", "add", "--email", f"duty@{cert_slug}.example", "--org", cert_slug, "--role", "cert-analyst")
    side = Side(instance, cert_slug, country, instance.last_line("token", "add", "--org", cert_slug,
                                                                    "--name", "staff automation"))
    if member is not None:
        member_slug = instance.last_line("org", "add", "--name", member, "--sector", "financial-services",
                                         "--country", country)
        instance.cli("user", "add", "--email", f"soc@{member_slug}.example", "--org", member_slug,
                     "--role", "analyst")
        side.member_token = instance.last_line("token", "add", "--org", member_slug)
    partner_name, partner_country = partner
    side.partner_slug = instance.last_line("org", "add", "--name", partner_name, "--sector", "government-national",
                                           "--country", partner_country, "--kind", "partner")
    side.token_for_partner = instance.last_line("token", "add", "--org", side.partner_slug,
                                                "--name", "cooperation intake")
    return side


def _intake_url(instance: Instance, credentials: tuple[str, str]) -> str:
    """The other side's intake collection by its id, found as a partner finds it: TAXII discovery
    with the credentials it was given (organization slug, token)."""
    [root] = instance.taxii("/taxii2/", auth=credentials)["api_roots"]
    collections = instance.taxii(f"{root.removeprefix(instance.base_url)}collections/", auth=credentials)
    [intake] = [c for c in collections["collections"] if c.get("alias") == "intake"]
    assert intake["can_write"]
    return f"{root}collections/{intake['id']}/"


def _pair(here: Side, there: Side, env_prefix: str, url: str) -> None:
    """``partner set`` on ``here``: the other side's intake URL and the NAMES of the variables that
    hold the credentials ``there`` issued (its slug for ``here``'s CERT, and the token); the
    variables themselves are in the environment of ``here``'s server and jobs."""
    here.instance.env_extra.update({f"{env_prefix}_TAXII_USERNAME": there.partner_slug,
                                    f"{env_prefix}_TAXII_PASSWORD": there.token_for_partner})
    here.instance.cli("partner", "set", here.partner_slug, "--country", there.country, "--taxii-url", url,
                      "--username-env", f"{env_prefix}_TAXII_USERNAME",
                      "--password-env", f"{env_prefix}_TAXII_PASSWORD")


def _intake_objects(side: Side) -> list[dict]:
    """Every object in this side's intake collection, as its CERT staff read it over TAXII."""
    objects: list[dict] = []
    query = ""
    while True:
        page = side.instance.taxii(f"/taxii2/api/collections/intake/objects/?limit=500{query}",
                                   token=side.staff_token)
        objects += page.get("objects", [])
        if not page.get("more"):
            return objects
        query = f"&next={page['next']}"


def _stored_levels(database_url: str) -> set:
    """The TLP of every STIX object and report a side holds, read from its database: what it
    received, including anything TAXII would never serve back."""
    engine = create_engine(_normalize_db_url(database_url))
    try:
        with engine.connect() as conn:
            objects = set(conn.execute(text("SELECT DISTINCT tlp FROM stix_objects")).scalars())
            reports = set(conn.execute(text("SELECT DISTINCT tlp FROM incidents")).scalars())
    finally:
        engine.dispose()
    return objects | reports


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _cooperation(side: Side, direction: str) -> dict:
    """One direction's figures under ``cooperation`` in this side's /api/v1/metrics."""
    response = side.instance.api("GET", "/metrics", side.staff_token)
    assert response.status_code == 200, response.text
    return response.json()["cooperation"][direction]


def test_a_request_goes_from_one_cert_to_the_other_and_the_answer_comes_back(tmp_path):
    with _two_databases(tmp_path) as (url_a, url_b):
        a = Instance("alpha", url_a, tmp_path / "alpha")
        b = Instance("beta", url_b, tmp_path / "beta")
        try:
            _run(a, b)
        finally:
            a.stop()
            b.stop()


def _run(a: Instance, b: Instance) -> None:
    side_a = _set_up(a, cert=("VNCERT", "VN"), partner=("NCSC-FI", "FI"), member="First Bank")
    side_b = _set_up(b, cert=("NCSC-FI", "FI"), partner=("VNCERT", "VN"), member=None)
    a.start()
    b.start()
    # A is given B's intake collection URL by its id, as TAXII discovery lists it; B is given A's by
    # its alias (…/collections/intake/), which push-partners resolves to the id's URL.
    _pair(side_a, side_b, "NCSC_FI", _intake_url(b, (side_b.partner_slug, side_b.token_for_partner)))
    _pair(side_b, side_a, "VNCERT", f"{a.base_url}/taxii2/api/collections/intake/")
    # The operator sees the pairing, and that the credential variables are set, never their values.
    header, *rows = [line.split("\t") for line in a.cli("partner", "list").strip().splitlines()]
    [row] = [dict(zip(header, r, strict=True)) for r in rows if r[0] == side_a.partner_slug]
    assert (row["country"], row["username_set"], row["password_set"]) == ("FI", "yes", "yes")
    assert row["taxii_url"].startswith(f"{b.base_url}/taxii2/") and side_b.token_for_partner not in str(rows)

    # The member reports over A's API: one TLP:AMBER report to ask about, one TLP:RED that must never leave.
    detected = _iso(datetime.now(timezone.utc) - timedelta(hours=2))
    amber = a.api("POST", "/incidents", side_a.member_token, {
        "title": "Mule accounts phishing", "description": "Kit served from 203.0.113.9",
        "classification": "fraud/phishing", "severity": "high", "tlp": "amber", "detected_at": detected,
        "observables": [{"type": "ipv4-addr", "value": "203.0.113.9"}], "cross_border": ["FI"]})
    assert amber.status_code == 201, amber.text
    red = a.api("POST", "/incidents", side_a.member_token, {
        "title": "Insider at the treasury desk", "description": "Exfiltration to 198.51.100.66",
        "classification": "information-content-security/unauthorised-information-access", "severity": "critical",
        "tlp": "red", "detected_at": detected, "observables": [{"type": "ipv4-addr", "value": "198.51.100.66"}]})
    assert red.status_code == 201, red.text
    incident_id = amber.json()["id"]
    reporter_ref = next(o["created_by_ref"] for o in a.api("GET", f"/incidents/{incident_id}/stix",
                                                           side_a.member_token).json()["objects"]
                        if o["type"] == "incident")

    due = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=3)
    body = {"partners": [side_a.partner_slug], "kind": "preservation", "due_at": _iso(due), "tlp": "amber",
            "message": "Please preserve the hosting logs of 203.0.113.9 for the last 30 days."}
    # A member never sees, let alone opens, a cooperation request.
    assert a.api("POST", f"/incidents/{incident_id}/cooperation-requests", side_a.member_token, body).status_code == 403
    assert a.api("GET", "/cooperation-requests", side_a.member_token).status_code == 403
    # TLP:RED never leaves: neither a request marked RED nor one about the RED report.
    refused = a.api("POST", f"/incidents/{incident_id}/cooperation-requests", side_a.staff_token,
                    {**body, "tlp": "red"})
    assert refused.status_code == 400 and "TLP:RED" in refused.text, refused.text
    # (A token is named on no case: a RED report is out of its reach before any TLP rule is asked.)
    refused = a.api("POST", f"/incidents/{red.json()['id']}/cooperation-requests", side_a.staff_token, body)
    assert refused.status_code == 403 and "TLP:RED" in refused.text, refused.text

    opened = a.api("POST", f"/incidents/{incident_id}/cooperation-requests", side_a.staff_token, body)
    assert opened.status_code == 201, opened.text
    [request_a] = opened.json()["requests"]
    assert request_a["state"] == "queued" and request_a["stix_id"].startswith("note--")
    assert [r["id"] for r in a.api("GET", "/cooperation-requests?direction=outgoing",
                                   side_a.staff_token).json()["requests"]] == [request_a["id"]]
    assert a.api("GET", f"/cooperation-requests/{request_a['id']}", side_a.member_token).status_code == 403

    # A's push-partners posts it to B's intake over TAXII and records B's status.
    pushed = a.cli("jobs", "run", "push-partners")
    sent = a.api("GET", f"/cooperation-requests/{request_a['id']}", side_a.staff_token).json()
    assert sent["state"] == "sent" and sent["sent_at"] and sent["taxii_status_id"], (pushed, sent)
    assert a.last_line("jobs", "run", "push-partners").startswith("sent 0,")  # nothing is sent twice

    # B's queue: the request as incoming, with its due date and A's country.
    incoming = b.api("GET", "/cooperation-requests?direction=incoming", side_b.staff_token)
    assert incoming.status_code == 200, incoming.text
    [request_b] = incoming.json()["requests"]
    assert (request_b["stix_id"], request_b["state"], request_b["kind"]) == (
        request_a["stix_id"], "received", "preservation")
    assert (request_b["partner"], request_b["partner_country"]) == (side_b.partner_slug, "VN")
    assert datetime.fromisoformat(request_b["due_at"].replace("Z", "+00:00")) == due
    assert request_b["message"] == body["message"]
    assert b.api("GET", "/cooperation-requests?direction=outgoing", side_b.staff_token).json()["requests"] == []

    # What B received: everything A posted was taken (a cert-share intake refuses a TLP:RED object,
    # so a RED object would show as a failure), nothing B holds is RED, and the RED report is not there.
    # (A reads its status at B as A pushed: B's slug for A's CERT, and the token B issued.)
    status = b.taxii(f"/taxii2/api/status/{sent['taxii_status_id']}/",
                     auth=(side_b.partner_slug, side_b.token_for_partner))
    assert status["failure_count"] == 0 and status["success_count"] == status["total_count"] > 0, status
    assert "red" not in _stored_levels(b.database_url)
    received = _intake_objects(side_b)
    assert all(RED not in (o.get("object_marking_refs") or ()) for o in received)
    dump = json.dumps(received)
    assert "198.51.100.66" not in dump and "Insider at the treasury desk" not in dump
    [note] = [o for o in received if o["id"] == request_a["stix_id"]]
    assert note["extensions"][EXTENSION_ID]["kind"] == "preservation"
    # The reporter is hidden: B sees A's CERT as the author of the report, never the member.
    assert reporter_ref not in dump and "First Bank" not in dump
    # The incident the note is about, as A posted it, and the report B made of it: both by A's CERT.
    [incident] = [o for o in received if o["id"] == note["object_refs"][0]]
    identities = {o["id"]: o["name"] for o in received if o["type"] == "identity"}
    assert identities[incident["created_by_ref"]] == "VNCERT"
    assert {identities[o["created_by_ref"]] for o in received if o["type"] == "incident"} == {"VNCERT"}

    # B's staff acknowledge, then answer with an indicator attached.
    acknowledged = b.api("POST", f"/cooperation-requests/{request_b['id']}/acknowledge", side_b.staff_token)
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["state"] == "acknowledged"
    now = _iso(datetime.now(timezone.utc))
    indicator = {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
                 "created": now, "modified": now, "valid_from": now, "name": "Second address of the same host",
                 "pattern": "[ipv4-addr:value = '203.0.113.10']", "pattern_type": "stix",
                 "object_marking_refs": [markings.marking_id("amber")]}
    answer_text = "Logs of 203.0.113.9 preserved until 2027-03-01; the host also uses 203.0.113.10."
    answered = b.api("POST", f"/cooperation-requests/{request_b['id']}/answer", side_b.staff_token,
                     {"message": answer_text, "objects": [indicator]})
    assert answered.status_code == 200, answered.text
    assert answered.json()["state"] == "answered"
    waiting = _cooperation(side_a, "outgoing")  # B answered, but A has not heard yet
    assert (waiting["total"], waiting["answered"], waiting["median_time_to_answer_minutes"]) == (1, 0, None)

    # B's push-partners sends the acknowledgement and the answer back to A's intake.
    pushed = b.cli("jobs", "run", "push-partners")
    closed = a.api("GET", f"/cooperation-requests/{request_a['id']}", side_a.staff_token).json()
    assert closed["state"] == "answered", (pushed, closed)
    assert closed["answer_message"] == answer_text and closed["acknowledged_at"] and closed["answered_at"]
    assert closed["answer_object_ids"] == [indicator["id"]]
    assert indicator["id"] in {o["id"] for o in _intake_objects(side_a)}

    # Both sides measured it: A its outgoing request to FI, B the incoming one from VN.
    for side, direction, country in ((side_a, "outgoing", "FI"), (side_b, "incoming", "VN")):
        figures = _cooperation(side, direction)
        assert (figures["total"], figures["acknowledged"], figures["answered"]) == (1, 1, 1), figures
        assert figures["by_kind"]["preservation"] == 1 and figures["by_country"] == {country: 1}, figures
        for key in ("median_time_to_acknowledge_minutes", "median_time_to_answer_minutes"):
            assert isinstance(figures[key], (int, float)) and figures[key] >= 0, (direction, key, figures)
