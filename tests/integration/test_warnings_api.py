"""Early warnings as members and CERT staff meet them: over TAXII (taxii2-client against a live
server) and /api/v1/warnings. Member A never reads what only member B may read."""
from __future__ import annotations

import pytest
import requests
from taxii2client.v21 import Collection as TaxiiCollection

from cert_share.early_warning.lifecycle import publish_warnings
from cert_share.extensions import db
from tests.conftest import auth
from tests.integration.warning_world import ATTACKER_IP, report


@pytest.fixture
def tokens(factory, orgs):
    return {name: factory.token(org) for name, org in orgs.items()}


def publish(app):
    with app.app_context():
        return publish_warnings(db.session)


def collection_url(app, live_server, alias):
    from cert_share.store.collections import by_alias

    with app.app_context():
        return f"{live_server.url}/taxii2/api/collections/{by_alias(db.session, alias).id}/"


def taxii_objects(app, live_server, alias, org_slug, token):
    coll = TaxiiCollection(collection_url(app, live_server, alias), user=org_slug, password=token)
    return coll.get_objects().get("objects", [])


def test_members_poll_a_new_warning_over_taxii_after_one_publish_run(app, orgs, tokens, live_server):  # noqa: F811
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)])
    report(app, orgs["telco"], [("ipv4-addr", ATTACKER_IP)])
    assert not [o for o in taxii_objects(app, live_server, "all-members", "second-bank", tokens["bank2"])
                if o["type"] == "report"]
    publish(app)
    objects = taxii_objects(app, live_server, "all-members", "second-bank", tokens["bank2"])
    [rep] = [o for o in objects if o["type"] == "report"]
    assert rep["created_by_ref"] == orgs["cert"].stix_id
    assert {o["type"] for o in objects} >= {"report", "indicator", "identity"}


def test_telco_cannot_read_first_banks_asset_warning_by_any_route(app, orgs, tokens, live_server, client):  # noqa: F811
    report(app, orgs["telco"], [("ipv4-addr", "192.0.2.77")])  # inside First Bank's range
    publish(app)
    bank_view = taxii_objects(app, live_server, "org-first-bank", "first-bank", tokens["bank"])
    assert [o for o in bank_view if o["type"] == "report"]
    # TAXII: the telco may not read First Bank's collection.
    with pytest.raises(requests.HTTPError) as err:
        taxii_objects(app, live_server, "org-first-bank", "telconet", tokens["telco"])
    assert err.value.response.status_code in (403, 404)
    # Nor does the warning appear anywhere the telco can read.
    for alias in ("all-members", "sector-telecommunications"):
        assert not [o for o in taxii_objects(app, live_server, alias, "telconet", tokens["telco"])
                    if o["type"] == "report"]
    # API: not listed, and not readable by id.
    bank_list = client.get("/api/v1/warnings", headers=auth(tokens["bank"])).json["warnings"]
    assert len(bank_list) == 1 and bank_list[0]["tlp"] == "amber+strict" and "state" not in bank_list[0]
    assert client.get("/api/v1/warnings", headers=auth(tokens["telco"])).json["warnings"] == []
    wid = bank_list[0]["id"]
    assert client.get(f"/api/v1/warnings/{wid}", headers=auth(tokens["telco"])).status_code == 404
    assert client.get(f"/api/v1/warnings/{wid}", headers=auth(tokens["bank"])).status_code == 200


def test_cert_staff_review_a_draft_over_the_api_and_members_cannot(app, orgs, tokens, client):  # noqa: F811
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)], tlp="green")
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)], tlp="amber+strict")
    cert = auth(tokens["cert"])
    drafts = client.get("/api/v1/warnings?state=draft", headers=cert).json["warnings"]
    assert len(drafts) == 1 and drafts[0]["reporter_count"] == 2
    wid = drafts[0]["id"]
    # Members: no draft in their list, no way to act on it.
    assert client.get("/api/v1/warnings", headers=auth(tokens["bank"])).json["warnings"] == []
    assert client.get(f"/api/v1/warnings/{wid}", headers=auth(tokens["bank"])).status_code == 404
    for action in ("publish", "discard", "revoke"):
        assert client.post(f"/api/v1/warnings/{wid}/{action}", headers=auth(tokens["bank"])).status_code == 403
    member_edit = client.patch(f"/api/v1/warnings/{wid}", json={"tlp": "clear"}, headers=auth(tokens["bank"]))
    assert member_edit.status_code == 403

    # Bad edits: clear 4xx naming the problem, nothing changed.
    bad = client.patch(f"/api/v1/warnings/{wid}", json={"tlp": "amber+strict", "targets": ["all-members"]},
                       headers=cert)
    assert bad.status_code == 400 and "AMBER+STRICT" in bad.json["message"]
    nowhere = client.patch(f"/api/v1/warnings/{wid}", json={"targets": ["sector-nowhere"]}, headers=cert)
    assert nowhere.status_code == 400
    assert client.patch(f"/api/v1/warnings/{wid}", json={"colour": "red"}, headers=cert).status_code == 400
    assert client.post(f"/api/v1/warnings/{wid}/publish", headers=cert).status_code == 400  # no targets yet

    edited = client.patch(f"/api/v1/warnings/{wid}", json={"tlp": "amber", "targets": ["sector-financial-services"],
                                                           "title": "Scanner hitting bank VPNs"}, headers=cert)
    assert edited.status_code == 200, edited.json
    assert client.post(f"/api/v1/warnings/{wid}/publish", headers=cert).json["state"] == "pending"
    publish(app)
    listed = client.get("/api/v1/warnings", headers=auth(tokens["bank2"])).json["warnings"]
    assert [w["title"] for w in listed] == ["Scanner hitting bank VPNs"]
    assert client.get("/api/v1/warnings", headers=auth(tokens["telco"])).json["warnings"] == []
    assert client.post(f"/api/v1/warnings/{wid}/discard", headers=cert).status_code == 409  # published: revoke
    assert client.post(f"/api/v1/warnings/{wid}/revoke", headers=cert).json["state"] == "revoked"


def test_bad_query_parameters_are_refused(client, tokens):
    assert client.get("/api/v1/warnings?state=bogus", headers=auth(tokens["cert"])).status_code == 400
    assert client.get("/api/v1/warnings?limit=x", headers=auth(tokens["cert"])).status_code == 400
    assert client.get("/api/v1/warnings").status_code == 401


def test_marking_the_source_false_positive_in_triage_revokes_the_published_warning(app, orgs, tokens, client):  # noqa: F811
    from sqlalchemy import select

    from cert_share.models import StixObject

    first = report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)])
    report(app, orgs["bank2"], [("ipv4-addr", ATTACKER_IP)])
    publish(app)
    resp = client.patch(f"/api/v1/incidents/{first}", json={"status": "false-positive"}, headers=auth(tokens["cert"]))
    assert resp.status_code == 200, resp.json
    [w] = client.get("/api/v1/warnings?state=revoked", headers=auth(tokens["cert"])).json["warnings"]
    publish(app)
    with app.app_context():
        bodies = db.session.execute(select(StixObject.body).where(StixObject.stix_id == w["report_id"])
                                    .order_by(StixObject.version)).scalars().all()
    assert len(bodies) == 2 and '"revoked":true' in bodies[-1]


def test_publish_warnings_runs_as_a_job_and_a_rerun_publishes_nothing(app, orgs, runner):  # noqa: F811
    report(app, orgs["bank"], [("ipv4-addr", ATTACKER_IP)])
    report(app, orgs["telco"], [("ipv4-addr", ATTACKER_IP)])
    listed = runner.invoke(args=["jobs", "list"])
    assert "publish-warnings" in listed.output and "pull-feeds" in listed.output
    first = runner.invoke(args=["jobs", "run", "publish-warnings"])
    assert first.exit_code == 0 and "publish-warnings: 1 published" in first.output, first.output
    second = runner.invoke(args=["jobs", "run", "publish-warnings"])
    assert second.exit_code == 0 and "publish-warnings: 0 published" in second.output, second.output


def test_the_openapi_document_describes_the_warning_routes(client):
    doc = client.get("/api/v1/openapi.json").json
    assert {"/api/v1/warnings", "/api/v1/warnings/{warning_id}",
            "/api/v1/warnings/{warning_id}/publish"} <= set(doc["paths"])
    assert "patch" in doc["paths"]["/api/v1/warnings/{warning_id}"]
    assert "tlp" in doc["components"]["schemas"]["WarningEdit"]["properties"]


def test_incidents_pushed_over_taxii_by_two_members_raise_one_warning(app, orgs, tokens, live_server):  # noqa: F811
    import uuid

    from sqlalchemy import select

    from cert_share.models import EarlyWarning
    from cert_share.stix import markings

    def push(org_slug, token):
        created = "2026-11-20T08:00:00.000Z"
        green = [markings.marking_id("green")]
        incident = {"type": "incident", "spec_version": "2.1", "id": f"incident--{uuid.uuid4()}",
                    "created": created, "modified": created, "name": f"C2 traffic at {org_slug}",
                    "labels": ['rsit:malicious-code="c2-server"'], "object_marking_refs": green}
        ioc = {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}", "created": created,
               "modified": created, "pattern": f"[ipv4-addr:value = '{ATTACKER_IP}']", "pattern_type": "stix",
               "valid_from": created, "object_marking_refs": green}
        rel = {"type": "relationship", "spec_version": "2.1", "id": f"relationship--{uuid.uuid4()}",
               "created": created, "modified": created, "relationship_type": "indicates",
               "source_ref": ioc["id"], "target_ref": incident["id"]}
        status = TaxiiCollection(collection_url(app, live_server, "intake"), user=org_slug, password=token) \
            .add_objects({"objects": [incident, ioc, rel]})
        assert status.failure_count == 0, status.failures

    push("first-bank", tokens["bank"])
    push("telconet", tokens["telco"])
    with app.app_context():
        [warning] = db.session.execute(select(EarlyWarning)).scalars().all()
        assert (warning.reporter_count, warning.targets, warning.tlp) == (2, ["all-members"], "green")
